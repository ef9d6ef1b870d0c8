// A node http server for tests/bench/servers.py: each request builds a
// JSON body of 1-40 KB from a fresh array of objects and a Buffer copy of
// it (V8's heap and node's Buffers, which node takes from malloc).
const http = require('http');
let n = 0;
http.createServer((req, res) => {
  const items = [];
  const k = 10 + (n++ * 7919) % 400;
  for (let i = 0; i < k; i++) items.push({ id: i, name: 'item' + i, tags: ['a', 'b', String(n)] });
  const body = Buffer.from(JSON.stringify(items));
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}).listen(parseInt(process.argv[2]), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));

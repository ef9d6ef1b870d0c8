#!/usr/bin/env python3
# A Python http.server for tests/bench/servers.py (pyhttp, session 15): a
# ThreadingHTTPServer, so a thread per connection (ab without -k: a thread
# made and ended per request); each request builds a JSON body of 1-60 KB
# from a fresh list of dicts and keeps the last 2000 bodies in a dict (a
# live set that turns over).
import http.server, json, sys, signal, threading
cache = {}; lock = threading.Lock(); n = [0]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        with lock:
            n[0] += 1; k = n[0]
        items = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", str(k)]} for i in range(10 + (k * 7919) % 600)]
        body = json.dumps(items).encode()
        with lock:
            cache[k] = body
            if len(cache) > 2000: cache.pop(next(iter(cache)))
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s.serve_forever()

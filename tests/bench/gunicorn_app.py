# A WSGI application for tests/bench/servers.py's gunicorn load (session
# 26): each request builds a JSON body of 1-60 KB from a fresh list of
# dicts, as pyserve.py's do, and keeps the last 500 bodies of its worker.
import json, os
cache = {}
n = [0]


def app(environ, start_response):
    n[0] += 1
    k = n[0] * 31 + os.getpid()
    items = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", str(k)]} for i in range(10 + (k * 7919) % 600)]
    body = json.dumps(items).encode()
    cache[k] = body
    if len(cache) > 500:
        cache.pop(next(iter(cache)))
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

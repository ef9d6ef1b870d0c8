# A socket client run inside a container (tests/containers/socket_scope,
# hostpid_socket): python3 scope_client.py SOCKET view PID prints the view
# it gets (version's scope and processes, the pids of ps, whether stats of
# PID answers, the samples of history without a pid); SOCKET hold N
# prints how many of N connections the daemon keeps (held until stdin
# closes).
import json, socket, sys
sock, mode = sys.argv[1], sys.argv[2]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.settimeout(30)
    return s, s.makefile("rb")
def ask(c, obj):
    try:          # a client refused is told why at once, then closed
        c[0].sendall((json.dumps(obj) + "\n").encode())
    except OSError:
        pass
    try:
        line = c[1].readline()
    except OSError:
        line = b""
    return json.loads(line) if line else {"ok": False, "error": "closed"}
if mode == "view":
    c = conn()
    v = ask(c, {"cmd": "version"})
    ps = ask(c, {"cmd": "ps"})
    st = ask(c, {"cmd": "stats", "pid": int(sys.argv[3])})
    h = ask(c, {"cmd": "history"})
    print(json.dumps({"scope": v.get("scope"), "processes": v.get("processes"),
                      "pids": sorted(p["pid"] for p in ps.get("processes", [])),
                      "stats_ok": st.get("ok"),
                      "history": len(h.get("samples", []) or [])}), flush=True)
else:
    n, kept, refused, why = int(sys.argv[3]), [], 0, ""
    for i in range(n):
        c = conn()
        r = ask(c, {"cmd": "version"})
        if r.get("ok"):
            kept.append(c)
        else:
            refused += 1
            why = r.get("error", "")
    print(json.dumps({"kept": len(kept), "refused": refused, "why": why}), flush=True)
    sys.stdin.read()

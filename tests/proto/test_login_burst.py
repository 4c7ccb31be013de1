# SPDX-License-Identifier: MIT
"""Login bursts (proto/session.c, [limits] auth_queue_wait): more cold
logins than the workers can hash in time are told to come back at once with
-ERR [SYS/TEMP], never left waiting unanswered; the checks already queued are
all answered within about the bound; a login the auth cache will answer does
not wait behind the hashing. One worker thread and a 1 s bound make a burst of a hundred or so
yescrypt checks enough."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

BURST = 150  # cold logins at once: seconds of hashing for one worker
USER = "u%03d@example.test"


def burst_server(cache_ttl):
    srv = Server({"server.workers": "1", "limits.auth_queue_wait": "1s",
                  "limits.auth_cache_ttl": cache_ttl, "pop3.plaintext_auth": "yes",
                  "limits.max_connections_per_ip": "1000"}, pop3s=False)
    srv.cli("domain", "add", "example.test")
    h = srv.cli("pw", stdin=(PASSWORD + "\n").encode()).stdout.decode().strip()
    users = os.path.join(srv.dir, "users")
    with open(users, "w") as f:
        for i in range(BURST + 1):
            f.write("%s:%s\n" % (USER % i, h))
    srv.cli("user", "import", "passwd-file", users)
    return srv.start()


def login(port, user, out, key, timeout=30):
    """USER/PASS; out[key] = (first word of the PASS reply line, seconds)."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"USER %s\r\nPASS %s\r\n" % (user.encode(), PASSWORD.encode()))
        f.readline()  # +OK to USER
        out[key] = (f.readline().strip().decode(), time.monotonic() - t0)
        s.close()
    except OSError as e:
        out[key] = ("error %s" % e, time.monotonic() - t0)


def wave(port, first, n, out):
    threads = [threading.Thread(target=login, args=(port, USER % i, out, i))
               for i in range(first, first + n)]
    for t in threads:
        t.start()
    return threads


def test_burst_beyond_the_bound_is_told_to_come_back():
    with burst_server("0") as srv:
        out = {}
        for t in wave(srv.pop3_port, 0, BURST, out):
            t.join(60)
        assert len(out) == BURST
        ok = {k: v for k, v in out.items() if v[0].startswith("+OK")}
        busy = {k: v for k, v in out.items() if v[0].startswith("-ERR [SYS/TEMP]")}
        # every client answered: logged in, or told to come back; none left
        # waiting until its own timeout
        assert len(ok) + len(busy) == BURST, out
        assert ok and busy, out
        # those queued waited about the bound at most (1 s, a check, slack)
        assert max(secs for _, secs in ok.values()) < 5, ok
        # those refused were told at once, not after waiting
        assert sorted(secs for _, secs in busy.values())[len(busy) // 2] < 1, busy
        srv.wait_log(r"login refused for now user=u\d+@example\.test: password checks "
                     r"queued for about \d+ ms, over \[limits\] auth_queue_wait \(1 s\)")
        # and once the burst is over, logins work again
        again = {}
        login(srv.pop3_port, USER % 0, again, 0)
        assert again[0][0].startswith("+OK"), again


def test_cached_login_does_not_wait_behind_hashing():
    with burst_server("5m") as srv:
        warm = {}
        login(srv.pop3_port, USER % BURST, warm, 0)  # now in the cache
        assert warm[0][0].startswith("+OK"), warm
        out = {}
        threads = wave(srv.pop3_port, 0, BURST, out)
        time.sleep(0.5)
        cached = {}
        login(srv.pop3_port, USER % BURST, cached, 0)
        for t in threads:
            t.join(60)
        line, secs = cached[0]
        assert line.startswith("+OK"), cached
        # a store read, not a place at the end of seconds of hashing
        assert secs < 1.0, cached


run_tests(globals())

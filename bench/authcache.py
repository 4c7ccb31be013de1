#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""authcache.py - the auth cache's hit rate against the number of mailboxes.

    MAILROOM_BIN=build/mailroom python3 bench/authcache.py [MAILBOXES...]

For each count N (default 1000 10000): a private mailroom (the test
harness) with N accounts imported from a passwd-file (all with the same
yescrypt hash, so every check costs the same), then two passes of POP3 logins
over TLS, one per account (USER, PASS, QUIT). The first pass checks every
password; the second should be answered from the cache
([limits] auth_cache_ttl, auth_cache_size) for every account. Prints, per N,
the seconds of each pass and the cache hits of the second
(mailroom_auth_cache_hits_total from [metrics]).
"""
import os
import poplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "proto"))
import harness  # noqa: E402


def scrape(port, name):
    return sum(float(line.split()[-1]) for line in harness.metrics_text(port).splitlines()
               if line.startswith(name))


def run(n):
    port = harness.free_port()
    extra = {"metrics.listen": "127.0.0.1:%d" % port,
             "limits.max_connections_per_ip": "1000"}
    with harness.Server(extra=extra) as srv:
        pw = subprocess.run([harness.BIN, "pw"], input=b"secret\n", capture_output=True,
                            check=True).stdout.decode().strip()
        path = os.path.join(srv.dir, "users.passwd")
        with open(path, "w") as f:
            for i in range(n):
                f.write("u%d@example.test:%s\n" % (i, pw))
        subprocess.run([harness.BIN, "-c", srv.conf, "domain", "add", "example.test"],
                       capture_output=True)
        subprocess.run([harness.BIN, "-c", srv.conf, "user", "import", "passwd-file", path],
                       check=True, stdout=subprocess.DEVNULL)
        srv.start()
        ctx = harness.tls_client_context()
        seconds = []
        for _ in range(2):
            t = time.monotonic()
            for i in range(n):
                c = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=ctx, timeout=60)
                c.user("u%d@example.test" % i)
                c.pass_("secret")
                c.quit()
            seconds.append(time.monotonic() - t)
        hits = int(scrape(port, "mailroom_auth_cache_hits_total"))
    print("%7d mailboxes: pass 1 %.1f s, pass 2 %.1f s, second-pass cache hits %d of %d (%.1f %%)"
          % (n, seconds[0], seconds[1], hits, n, 100.0 * hits / n))


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["1000", "10000"]:
        run(int(arg))

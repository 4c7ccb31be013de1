#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""run-backup.py - time `mailroom backup DIR` and `mailroom verify DIR` on a
store of MESSAGES messages of about SIZE octets spread over USERS mailboxes.

The store is filled over SMTP on 127.0.0.1 (tests/proto/harness.py starts a
private `mailroom serve`), then backed up twice: once with the server idle,
once while one SMTP client keeps delivering (the backup must not stall it:
the script prints the acknowledgements during the backup, and during as long
a time right after it as a baseline).
Knobs (environment): MESSAGES (20000), SIZE (4096), USERS (20).
Run from the source tree after scripts/build.sh: bench/run-backup.py
"""
import json
import os
import pwd
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "tests", "proto"))
from harness import BIN, TEST_USER, Server  # noqa: E402

MESSAGES = int(os.environ.get("MESSAGES", "20000"))
SIZE = int(os.environ.get("SIZE", "4096"))
USERS = int(os.environ.get("USERS", "20"))


def timed(srv, *args):
    t0 = time.monotonic()
    p = subprocess.run([BIN, "-c", srv.conf] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=3600)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit("mailroom %s: exit %d: %s" % (" ".join(args), p.returncode,
                                                        p.stderr.decode()))
    return dt


def main():
    line = "x" * 76 + "\r\n"
    body = ("Subject: bench\r\n\r\n" + line * max(1, SIZE // len(line))).encode()
    users = ["b%d@example.test" % i for i in range(USERS)]
    with Server(smtp=True) as srv:
        for u in users:
            srv.add_user(u)
        srv.start()
        t0 = time.monotonic()
        per = MESSAGES // 4

        def fill(k):
            # a new connection now and then: a session has a command limit
            for start in range(0, per, 200):
                with srv.smtp() as s:
                    for i in range(start, min(per, start + 200)):
                        s.sendmail("w@remote.test", [users[(k * per + i) % USERS]], body)

        ts = [threading.Thread(target=fill, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        fill_s = time.monotonic() - t0
        db = os.path.join(srv.dir, "data", "mailroom.db")
        n = json.loads(srv.cli("verify", "--json").stdout)["messages"]
        assert n == per * 4, n
        print("store: %d messages of %d octets in %d mailboxes, %.1f MiB, filled in %.1f s"
              % (n, len(body), USERS, os.path.getsize(db) / 1048576, fill_s))
        # as root the CLI works as [server] user: it must be able to write here
        out = os.path.join(srv.dir, "backups")
        os.mkdir(out, 0o700)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(TEST_USER)
            os.chown(out, pw.pw_uid, pw.pw_gid)
        idle_b = timed(srv, "backup", os.path.join(out, "idle"))
        idle_v = timed(srv, "verify", os.path.join(out, "idle"))
        live_v = timed(srv, "verify")
        print("idle server: backup %.2f s, verify of the backup %.2f s, verify of the "
              "live store %.2f s" % (idle_b, idle_v, live_v))

        halt = threading.Event()
        gaps = []

        def writer():
            last = time.monotonic()
            while not halt.is_set():
                with srv.smtp() as s:
                    for _ in range(200):
                        if halt.is_set():
                            break
                        s.sendmail("w@remote.test", [users[0]], body)
                        now = time.monotonic()
                        gaps.append(now - last)
                        last = now

        w = threading.Thread(target=writer)
        w.start()
        time.sleep(1)
        n0 = len(gaps)
        load_b = timed(srv, "backup", os.path.join(out, "loaded"))
        n1 = len(gaps)
        time.sleep(load_b)  # as long again without a backup: the baseline
        n2 = len(gaps)
        halt.set()
        w.join()

        def gap_text(g):
            return ("%d messages, longest gap between two acknowledgements %.3f s, "
                    "median %.4f s" % (len(g), max(g) if g else 0,
                                        sorted(g)[len(g) // 2] if g else 0))
        print("under SMTP load: backup %.2f s; during it %s; in as long after it %s"
              % (load_b, gap_text(gaps[n0:n1]), gap_text(gaps[n1:n2])))


if __name__ == "__main__":
    main()

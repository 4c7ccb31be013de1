# SPDX-License-Identifier: MIT
"""idle_soak.py - IMAP sessions left in IDLE for a long time, under changes.

    MAILROOM_BIN=build/mailroom python3 tests/proto/idle_soak.py \
        [--seconds 60] [--users 20] [--sessions 100] [--reidle 1740] \
        [--deliver-every 0.5] [--flag-every 1] [--expunge-every 10] \
        [--cli-every 5] [--idle-check 30] \
        [--sample 10] [--growth-kib 4096] [--json]

Starts a private mailroom (tests/proto/harness.py) and opens SESSIONS
IMAP sessions over implicit TLS, spread over USERS mailboxes; each logs in,
SELECTs INBOX and IDLEs. While they idle, for SECONDS:

  - a message is delivered over SMTP to a random mailbox every DELIVER_EVERY s;
  - a second IMAP session sets or clears \\Flagged on a random message of a
    random mailbox every FLAG_EVERY s;
  - `mailroom deliver` (another process, seen by IDLE's look every
    IDLE_CHECK s) delivers to a random mailbox every CLI_EVERY s;
  - a POP3 session deletes the oldest message of a random mailbox every
    EXPUNGE_EVERY s (DELE + QUIT, so the IMAP sessions see EXPUNGE);
  - every session ends IDLE with DONE and starts it again every REIDLE s
    (RFC 2177: a client re-issues IDLE at least every 29 minutes).

Each idling session keeps its own count of the folder from the untagged
EXISTS and EXPUNGE it reads. The server's memory is sampled every SAMPLE s:
its heap in use (the mailroom_memory_heap_bytes gauge of [metrics], what
malloc handed out and was not given back) and, for the record, its resident
set from /proc (VmRSS, with RssAnon and RssFile). At the end every
session's count must equal the folder's real count (every change reached
every session), and the heap may have grown by at most GROWTH_KIB between
the second sample (all sessions in IDLE, the first changes made) and the
last. The RSS is not held to that: it also counts pages malloc keeps after
a free, the mapped store and, where the kernel uses transparent huge pages
for the heap, 2 MiB rounding, none of which is memory kept per change.
Exit 0 if both hold; the summary (and with --json a JSON object) is printed
on stdout.

Every wait is bounded: a session that sees nothing for two REIDLE periods
counts as failed, and the run itself ends after SECONDS.
"""
import argparse
import json
import os
import random
import selectors
import smtplib
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def rss_kib(pid):
    """VmRSS, RssAnon and RssFile of the process, in KiB."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1])
    return out


def heap_kib(port):
    """The server's heap in use (mailroom_memory_heap_bytes), in KiB."""
    for line in harness.metrics_text(port).splitlines():
        if line.startswith("mailroom_memory_heap_bytes "):
            return int(line.split()[1]) // 1024
    raise AssertionError("no mailroom_memory_heap_bytes in /metrics")


def memory(pid, port):
    m = rss_kib(pid)
    m["heap"] = heap_kib(port)
    return m


class Idler:
    """One IMAP session in IDLE on INBOX, counting EXISTS/EXPUNGE."""

    def __init__(self, port, user, password, n):
        raw = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock = harness.tls_client_context().wrap_socket(raw)
        self.user = user
        self.buf = b""
        self.tag = 0
        self.count = None
        self.idling = False
        self.events = 0
        self.greeted = self._line()
        self._cmd("LOGIN %s %s" % (user, password))
        for line in self._cmd("SELECT INBOX"):
            self._untagged(line)
        self.start_idle()
        self.last_seen = time.monotonic()
        self.n = n

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("%s: connection closed" % self.user)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _cmd(self, text):
        self.tag += 1
        tag = b"t%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self._line()
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise AssertionError("%s: %s -> %r" % (self.user, text, line))
                return lines
            lines.append(line)

    def _untagged(self, line):
        parts = line.split()
        if len(parts) >= 3 and parts[0] == b"*" and parts[1].isdigit():
            if parts[2] == b"EXISTS":
                self.count = int(parts[1])
            elif parts[2] == b"EXPUNGE":
                self.count -= 1
            self.events += 1

    def start_idle(self):
        self.sock.settimeout(20)
        self.tag += 1
        self.sock.sendall(b"t%d IDLE\r\n" % self.tag)
        while True:
            line = self._line()
            if line.startswith(b"+"):
                break
            self._untagged(line)
        self.idling = True
        self.sock.setblocking(False)

    def reidle(self):
        self.sock.settimeout(20)
        self.sock.sendall(b"DONE\r\n")
        tag = b"t%d " % self.tag
        while True:
            line = self._line()
            if line.startswith(tag):
                if not line.startswith(tag + b"OK"):
                    raise AssertionError("%s: IDLE ended with %r" % (self.user, line))
                break
            self._untagged(line)
        self.idling = False
        self.start_idle()

    def readable(self):
        """Reads what arrived without blocking; False once the server closed."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                break
            if not chunk:
                return False
            self.buf += chunk
            if not self.sock.pending():
                break
        while b"\r\n" in self.buf:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self._untagged(line)
            self.last_seen = time.monotonic()
        return True

    def close(self):
        try:
            self.sock.settimeout(5)
            self.sock.sendall(b"DONE\r\nz LOGOUT\r\n")
            self.sock.close()
        except OSError:
            pass


def folder_count(srv, user):
    c = srv.imaplib_ssl(user)
    typ, data = c.status("INBOX", "(MESSAGES)")
    c.logout()
    return int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))


def message(i, user):
    return ("From: soak@example.test\r\nTo: %s\r\nSubject: soak %d\r\n"
            "Message-ID: <soak.%d@example.test>\r\n\r\n%s\r\n" % (
                user, i, i, ("line %d of the soak body\r\n" % i) * 20)).encode()


def run(args):
    rng = random.Random(args.seed)
    metrics_port = harness.free_port()
    extra = {"imap.max_sessions": str(max(20, args.sessions // args.users + 2)),
             "metrics.listen": "127.0.0.1:%d" % metrics_port,
             "limits.max_connections_per_ip": str(args.sessions + 50),
             "limits.max_connections": str(args.sessions + 100),
             "imap.idle_check": "%ds" % args.idle_check}
    result = {"ok": False}
    with harness.Server(extra=extra, smtp=True, imap=True) as srv:
        users = ["u%d@example.test" % i for i in range(args.users)]
        for u in users:
            srv.add_user(u)
        for u in users[:]:
            srv.deliver(u, message(0, u))
        srv.start()
        pid = srv.proc.pid
        mem_start = memory(pid, metrics_port)
        idlers = []
        sel = selectors.DefaultSelector()
        for i in range(args.sessions):
            d = Idler(srv.imaps_port, users[i % args.users], harness.PASSWORD, i)
            idlers.append(d)
            sel.register(d.sock, selectors.EVENT_READ, d)
        smtp = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20)
        flagger = srv.imaplib_ssl(users[0])
        t0 = time.monotonic()
        end = t0 + args.seconds
        next_deliver = next_flag = t0
        next_cli = t0 + args.cli_every
        next_expunge = t0 + args.expunge_every
        next_sample = t0
        next_reidle = t0 + args.reidle
        samples = []
        delivered = flagged = expunged = reidles = 0
        failures = []
        while time.monotonic() < end and not failures:
            now = time.monotonic()
            if now >= next_deliver:
                u = rng.choice(users)
                delivered += 1
                if delivered % 50 == 0:  # under [smtp] max_commands a connection
                    smtp.quit()
                    smtp = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20)
                smtp.sendmail("soak@example.test", [u], message(delivered, u))
                next_deliver += args.deliver_every
            if now >= next_cli:
                u = rng.choice(users)
                delivered += 1
                srv.deliver(u, message(delivered, u))
                next_cli += args.cli_every
            if now >= next_flag:
                u = rng.choice(users)
                flagger.logout()
                flagger = srv.imaplib_ssl(u)
                typ, data = flagger.select("INBOX")
                n = int(data[0])
                if n > 0:
                    op = "+FLAGS" if flagged % 2 == 0 else "-FLAGS"
                    flagger.store(str(rng.randint(1, n)), op, "(\\Flagged)")
                    flagged += 1
                next_flag += args.flag_every
            if now >= next_expunge:
                u = rng.choice(users)
                p = srv.poplib_ssl(u)
                if p.stat()[0] > 1:
                    p.dele(1)
                    expunged += 1
                p.quit()
                next_expunge += args.expunge_every
            if now >= next_reidle:
                for d in idlers:
                    d.reidle()
                reidles += 1
                next_reidle += args.reidle
            if now >= next_sample:
                samples.append((round(now - t0, 1), memory(pid, metrics_port)))
                next_sample += args.sample
            wait = max(0.0, min(next_deliver, next_cli, next_flag, next_expunge, next_sample,
                                next_reidle, end) - time.monotonic())
            for key, _ in sel.select(timeout=wait):
                d = key.data
                if not d.readable():
                    failures.append("%s: session %d closed by the server" % (d.user, d.n))
            for d in idlers:
                if time.monotonic() - d.last_seen > 2 * args.reidle + 60:
                    failures.append("%s: session %d heard nothing" % (d.user, d.n))
        smtp.quit()
        flagger.logout()
        # let the last changes reach every session (bounded)
        want = {u: folder_count(srv, u) for u in users}
        deadline = time.monotonic() + 20 + args.idle_check
        while time.monotonic() < deadline:
            behind = [d for d in idlers if d.count != want[d.user]]
            if not behind:
                break
            for key, _ in sel.select(timeout=0.5):
                key.data.readable()
        behind = [d for d in idlers if d.count != want[d.user]]
        for d in behind[:5]:
            failures.append("%s: session %d counts %s, the folder holds %d" % (
                d.user, d.n, d.count, want[d.user]))
        samples.append((round(time.monotonic() - t0, 1), memory(pid, metrics_port)))
        for d in idlers:
            d.close()
        base = samples[1][1] if len(samples) > 2 else samples[0][1]
        growth = samples[-1][1]["heap"] - base["heap"]
        rss_growth = samples[-1][1].get("VmRSS", 0) - base.get("VmRSS", 0)
        if growth > args.growth_kib:
            failures.append("the heap grew by %d KiB (limit %d); samples %r" % (
                growth, args.growth_kib, samples))
        result = {"ok": not failures, "failures": failures, "seconds": args.seconds,
                  "sessions": args.sessions, "users": args.users, "delivered": delivered,
                  "flag_changes": flagged, "pop3_deletions": expunged, "reidles": reidles,
                  "events_seen": sum(d.events for d in idlers), "memory_before_kib": mem_start,
                  "memory_samples": samples, "heap_growth_kib": growth,
                  "rss_growth_kib": rss_growth}
    return result


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--sessions", type=int, default=100)
    ap.add_argument("--reidle", type=float, default=1740)
    ap.add_argument("--deliver-every", type=float, default=0.5)
    ap.add_argument("--flag-every", type=float, default=1)
    ap.add_argument("--expunge-every", type=float, default=10)
    ap.add_argument("--cli-every", type=float, default=5)
    ap.add_argument("--idle-check", type=int, default=30)
    ap.add_argument("--sample", type=float, default=10)
    ap.add_argument("--growth-kib", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    r = run(args)
    if args.json:
        print(json.dumps(r))
    else:
        for k, v in r.items():
            if k != "memory_samples":
                print("%s: %s" % (k, v))
        print("heap/rss KiB over time: " + " ".join(
            "%.0fs=%d/%d" % (t, m["heap"], m.get("VmRSS", 0))
            for t, m in r.get("memory_samples", [])))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

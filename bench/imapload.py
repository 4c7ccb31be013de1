#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""imapload.py - the IMAP load of bench/run-imap.sh, the same for every server.

    imapload.py big    LABEL PORT USER PASSWORD WORD REPEATS TIMEOUT
    imapload.py logins LABEL PORT PID USERFMT FIRST N PASSWORD CONCURRENCY
    imapload.py idle   LABEL PORT PID USERFMT FIRST USERS N PASSWORD SECONDS

big: REPEATS + 1 sessions on USER's INBOX, one after the other; each logs in,
then times SELECT INBOX, UID FETCH 1:* (FLAGS) and SEARCH TEXT WORD (from the
command sent to its tagged OK; each may take TIMEOUT seconds), then LOGOUT. Session 0 is the first look
(Dovecot builds its index files there) and is printed apart. Prints
"key=value" words: the first session's seconds, every timed run's seconds,
the messages SELECT reported, the FETCH responses and the SEARCH hits.

logins: N sessions, CONCURRENCY at once, each LOGIN as USERFMT % i (i = FIRST
.. FIRST+N-1) and LOGOUT; the CPU time of PID's process tree (the server,
bench/memtree.py) before and after, divided by N.

idle: N connections, each logs in as USERFMT % (FIRST + k % USERS), selects
INBOX and sends IDLE; once every one has its "+" continuation (or SECONDS
passed), the memory of PID's tree before and while they are held, and the
CPU time the tree spent setting them up (LOGIN, SELECT, IDLE); then they
are held until this process gets SIGTERM, reading and dropping what the
servers send (Dovecot's "* OK Still here").

Every wait is bounded (60 s per reply, TIMEOUT in big, SECONDS for the whole
connect phase of idle);
plain IMAP on 127.0.0.1, LOGIN with a quoted password. Exits 1 on any error.
"""
import os
import resource
import selectors
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memtree import cpu, tree  # noqa: E402

REPLY_TIMEOUT = 60.0  # seconds a reply may take
IN_FLIGHT = 64  # connections being set up at once (idle)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Session:
    """A blocking IMAP session that reads replies in large pieces."""

    def __init__(self, port, timeout):
        self.timeout = timeout
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.n = 0
        greeting = self._until(lambda b: b"\r\n" in b, "greeting")
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("greeting %r" % greeting[:80])

    def _until(self, done, what):
        deadline = time.monotonic() + self.timeout
        while not done(self.buf):
            if time.monotonic() > deadline:
                raise RuntimeError("%s: no complete reply in %d s" % (what, self.timeout))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                continue  # the deadline above decides
            if not data:
                raise RuntimeError("connection closed")
            self.buf += data
        out, self.buf = self.buf, b""
        return out

    def command(self, text):
        """(seconds, whole reply) of one command; raises unless it is OK."""
        self.n += 1
        tag = b"t%d " % self.n
        t0 = time.monotonic()
        self.sock.sendall(tag + text.encode() + b"\r\n")
        end = b"\r\n" + tag

        def done(b):
            return (b.startswith(tag) or end in b[-(1 << 16):]) and b.endswith(b"\r\n")
        reply = self._until(done, "LOGIN" if text.startswith("LOGIN") else text)
        secs = time.monotonic() - t0
        last = reply[reply.rfind(b"\r\n", 0, len(reply) - 2) + 2:] if reply.count(b"\r\n") > 1 \
            else reply
        if not last.startswith(tag + b"OK"):
            raise RuntimeError("%s: %r" % (text.split()[0], last[:120]))
        return secs, reply


def quote(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def cmd_big(label, port, user, password, word, repeats, timeout):
    first, runs = None, {"select": [], "fetch": [], "search": []}
    exists = fetched = hits = -1
    for r in range(repeats + 1):
        s = Session(port, timeout)
        s.command("LOGIN %s %s" % (quote(user), quote(password)))
        t_sel, reply = s.command("SELECT INBOX")
        for line in reply.split(b"\r\n"):
            if line.endswith(b" EXISTS"):
                exists = int(line.split()[1])
        t_fetch, reply = s.command("UID FETCH 1:* (FLAGS)")
        fetched = reply.count(b" FETCH (")
        t_search, reply = s.command("SEARCH TEXT %s" % quote(word))
        hits = sum(len(line.split()) - 2 for line in reply.split(b"\r\n")
                   if line.startswith(b"* SEARCH"))
        s.command("LOGOUT")
        s.sock.close()
        if r == 0:
            first = (t_sel, t_fetch, t_search)
        else:
            for k, v in zip(("select", "fetch", "search"), (t_sel, t_fetch, t_search)):
                runs[k].append(v)
        print("%s session %d: SELECT %.3f s, UID FETCH 1:* (FLAGS) %.3f s, SEARCH TEXT %.3f s"
              % (label, r, t_sel, t_fetch, t_search), file=sys.stderr)
    print("label=%s exists=%d fetched=%d hits=%d first_select=%.4f first_fetch=%.4f "
          "first_search=%.4f select=%s fetch=%s search=%s" % (
              label, exists, fetched, hits, first[0], first[1], first[2],
              ",".join("%.4f" % x for x in runs["select"]),
              ",".join("%.4f" % x for x in runs["fetch"]),
              ",".join("%.4f" % x for x in runs["search"])))
    return 0 if fetched == exists else 1


class Conn:
    """A non-blocking session that walks through a list of commands.

    steps: command texts; "IDLE" waits for the "+" continuation instead of a
    tagged OK. done is set when the last step is answered; error holds why
    a session failed."""

    def __init__(self, sel, port, steps):
        self.sock = socket.socket()
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", port))
        self.sel, self.steps, self.k = sel, steps, -1  # -1: the greeting
        self.buf, self.done, self.error = b"", False, None
        self.closed = False
        self.deadline = time.monotonic() + REPLY_TIMEOUT
        sel.register(self.sock, selectors.EVENT_READ, self)

    def readable(self):
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            return self.fail(type(e).__name__)
        if not data:
            self.closed = True
            self.sel.unregister(self.sock)
            if not self.done:
                self.fail("closed by the server")
            return
        if self.done:
            return  # untagged news in IDLE, or the BYE of LOGOUT
        self.buf += data
        while b"\r\n" in self.buf and not self.done and not self.error:
            line, self.buf = self.buf.split(b"\r\n", 1)
            self.line(line)

    def line(self, line):
        if self.k < 0:
            if not line.startswith(b"* OK"):
                return self.fail("greeting %r" % line[:60])
            return self.next()
        step = self.steps[self.k]
        if step == "IDLE":
            if line.startswith(b"+"):
                return self.next()
        elif line.startswith(b"t%d " % self.k):
            if not line.startswith(b"t%d OK" % self.k):
                return self.fail("%s: %r" % (step.split()[0], line[:80]))
            return self.next()
        if line.startswith(b"t%d " % self.k):
            self.fail("%s: %r" % (step.split()[0], line[:80]))

    def next(self):
        self.k += 1
        self.deadline = time.monotonic() + REPLY_TIMEOUT
        if self.k == len(self.steps):
            self.done = True
            return
        try:
            self.sock.send(b"t%d %s\r\n" % (self.k, self.steps[self.k].encode()))
        except OSError as e:
            self.fail(type(e).__name__)

    def fail(self, why):
        self.error = why
        if not self.closed:
            self.closed = True
            self.sel.unregister(self.sock)
        self.sock.close()


def run_conns(sel, make, n, in_flight, limit):
    """Starts n connections (make(k) -> Conn), at most in_flight not done at
    once, until all are done or failed or limit (monotonic) passes. Returns
    (done conns, errors by reason)."""
    started, active, finished, errors = 0, [], [], {}
    while (started < n or active) and time.monotonic() < limit:
        while started < n and len(active) < in_flight:
            active.append(make(started))
            started += 1
        for key, _ in sel.select(timeout=0.5):
            key.data.readable()
        now, still = time.monotonic(), []
        for c in active:
            if c.error is None and not c.done and now > c.deadline:
                c.fail("no reply in %d s" % REPLY_TIMEOUT)
            if c.error is not None:
                errors[c.error] = errors.get(c.error, 0) + 1
            elif c.done:
                finished.append(c)
            else:
                still.append(c)
        active = still
    for c in active:
        errors["not done in time"] = errors.get("not done in time", 0) + 1
    errors["not started"] = n - started
    return finished, {k: v for k, v in errors.items() if v}


def fmt_errors(errors):
    return ",".join("%s:%d" % (k.replace(" ", "_").replace("=", ":"), v)
                    for k, v in sorted(errors.items())) or "none"


def cmd_logins(label, port, pid, fmt, first, n, password, concurrency):
    raise_nofile()
    sel = selectors.DefaultSelector()

    def make(k):
        return Conn(sel, port, ["LOGIN %s %s" % (quote(fmt % (first + k)), quote(password)),
                                "LOGOUT"])
    cpu0, t0 = cpu(pid), time.monotonic()
    done, errors = run_conns(sel, make, n, concurrency, t0 + 600)
    for c in done:
        if not c.closed:
            c.sock.close()
    elapsed = time.monotonic() - t0
    time.sleep(1)  # the server's processes finish their sessions
    used = cpu(pid) - cpu0
    print("label=%s logins=%d seconds=%.2f cpu_s=%.2f cpu_ms_per_login=%.2f errors=%s" % (
        label, len(done), elapsed, used, 1000.0 * used / max(1, len(done)), fmt_errors(errors)))
    return 0 if len(done) == n else 1


def settle(pid):
    """Waits (bounded) until the number of processes under pid settles."""
    last = None
    for _ in range(50):
        cur = tree(pid)[2]
        if cur == last:
            return
        last = cur
        time.sleep(0.2)


def cmd_idle(label, port, pid, fmt, first, users, n, password, seconds):
    hard = raise_nofile()
    if n > hard - 100:
        print("imapload: %d connections need an open-files limit above %d (it is %d)"
              % (n, n + 100, hard), file=sys.stderr)
        return 1
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sel = selectors.DefaultSelector()
    settle(pid)
    before = tree(pid)

    def make(k):
        user = fmt % (first + k % users)
        return Conn(sel, port, ["LOGIN %s %s" % (quote(user), quote(password)),
                                "SELECT INBOX", "IDLE"])
    cpu0, t0 = cpu(pid), time.monotonic()
    held, errors = run_conns(sel, make, n, IN_FLIGHT, t0 + seconds)
    took = time.monotonic() - t0
    time.sleep(2)
    settle(pid)
    used = cpu(pid) - cpu0
    during = tree(pid)
    live = [c for c in held if not c.closed]
    print("label=%s requested=%d held=%d seconds=%.1f pss_before=%d rss_before=%d "
          "procs_before=%d pss_held=%d rss_held=%d procs_held=%d cpu_s=%.2f errors=%s" % (
              label, n, len(live), took, before[0], before[1], before[2], during[0],
              during[1], during[2], used, fmt_errors(errors)), flush=True)
    # hold, draining what the server sends, until told to stop (bounded)
    deadline = time.monotonic() + 3600
    while not stop and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            key.data.readable()
    return 0 if len(live) == n else 1


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    mode, a = sys.argv[1], sys.argv[2:]
    try:
        if mode == "big" and len(a) == 7:
            return cmd_big(a[0], int(a[1]), a[2], a[3], a[4], int(a[5]), float(a[6]))
        if mode == "logins" and len(a) == 8:
            return cmd_logins(a[0], int(a[1]), int(a[2]), a[3], int(a[4]), int(a[5]), a[6],
                              int(a[7]))
        if mode == "idle" and len(a) == 9:
            return cmd_idle(a[0], int(a[1]), int(a[2]), a[3], int(a[4]), int(a[5]), int(a[6]),
                            a[7], float(a[8]))
    except (OSError, RuntimeError) as e:
        print("imapload %s: %s" % (mode, e), file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

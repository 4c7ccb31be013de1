# SPDX-License-Identifier: MIT
"""retrhold.py - N POP3 clients that ask for a large message and read none
of it, and the server's memory before and while they wait.

    python3 bench/retrhold.py LABEL PORT PID USERFMT FIRST N PASSWORD

Each client logs in with USER/PASS as USERFMT % i (i = FIRST .. FIRST+N-1),
all of them first; then the server's memory is read (PID and every process
below it, bench/memtree.py); then every client sends RETR 1 and reads the
"+OK" line and nothing more, with the default socket buffers. The memory is
read every 0.2 s for SETTLE seconds (environment, default 10) and the
highest figures are kept. Then the first client reads its message to the
end (the others still waiting), timed. Prints one "key=value" line; exits 1
if a login or a RETR failed or a message ended early.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memtree import tree  # noqa: E402


def login(port, user, password):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    f = s.makefile("rb")
    if not f.readline().startswith(b"+OK"):
        raise RuntimeError("no greeting")
    for cmd in ("USER " + user, "PASS " + password):
        s.sendall(cmd.encode() + b"\r\n")
        reply = f.readline()
        if not reply.startswith(b"+OK"):
            raise RuntimeError("%s: %r" % (cmd.split()[0], reply))
    return s, f


def main():
    label, port, pid, fmt, first, n, password = sys.argv[1:8]
    port, pid, first, n = int(port), int(pid), int(first), int(n)
    settle = float(os.environ.get("SETTLE", "10"))
    clients, errors = [], 0
    for i in range(first, first + n):
        try:
            clients.append(login(port, fmt % i, password))
        except (OSError, RuntimeError) as e:
            errors += 1
            print("%s: login %d: %s" % (label, i, e), file=sys.stderr)
    time.sleep(1)
    before = tree(pid)
    t0 = time.monotonic()
    for s, f in clients:
        s.sendall(b"RETR 1\r\n")
    octets = 0
    for s, f in clients:
        reply = f.readline()
        if not reply.startswith(b"+OK"):
            errors += 1
            print("%s: RETR: %r" % (label, reply), file=sys.stderr)
        elif octets == 0:
            octets = int(reply.split()[1])
    ok_s = time.monotonic() - t0
    peak = list(before)
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        now = tree(pid)
        peak = [max(a, b) for a, b in zip(peak, now)]
        time.sleep(0.2)
    # then one of them reads its message to the end, the others still waiting
    t0 = time.monotonic()
    got, tail = 0, b""
    if clients:
        s, f = clients[0]
        while True:
            chunk = f.read1(1 << 20)
            if not chunk:
                errors += 1
                print("%s: the message ended early" % label, file=sys.stderr)
                break
            got += len(chunk)
            tail = (tail + chunk)[-5:]
            if tail == b"\r\n.\r\n":
                break
    read_s = time.monotonic() - t0
    print("label=%s clients=%d octets=%d ok_seconds=%.2f pss_before=%d pss_peak=%d "
          "rss_before=%d rss_peak=%d procs_before=%d procs_peak=%d read_octets=%d "
          "read_seconds=%.2f errors=%d"
          % (label, len(clients), octets, ok_s, before[0], peak[0], before[1], peak[1],
             before[2], peak[2], got, read_s, errors), flush=True)
    for s, f in clients:
        f.close()
        s.close()
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()

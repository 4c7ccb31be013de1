# SPDX-License-Identifier: MIT
"""fill.py - puts the same messages in many mailboxes through mailroom's
inbound SMTP listener, fast: one transaction per message and batch of
mailboxes, every RCPT pipelined (RFC 2920), so a message for 10,000
mailboxes is one body stored once (single-instance) and one commit;
a session per transaction.

  python3 bench/fill.py PORT USER_FORMAT FIRST COUNT BATCH MESSAGE...

USER_FORMAT is a printf format of the mailbox number (bench%04d@bench.test);
the mailboxes are FIRST .. FIRST+COUNT-1. BATCH is the most RCPTs in one
transaction (the server's [smtp] max_recipients must allow it). Each
MESSAGE file is sent as it is (LF or CRLF line ends), in the order given.
Prints "transactions=N recipients=N seconds=S"; exits 1 at the first reply
that is not a success, with that reply.
"""
import socket
import sys
import time


class Smtp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.f = self.sock.makefile("rb")
        self.expect(220, "greeting")
        self.send(b"EHLO fill.bench.test\r\n")
        self.expect(250, "EHLO")

    def send(self, data):
        self.sock.sendall(data)

    def expect(self, code, what):
        while True:
            line = self.f.readline()
            if not line:
                sys.exit("fill: %s: connection closed" % what)
            if not line.startswith(b"%d" % code):
                sys.exit("fill: %s: %s" % (what, line.decode("ascii", "replace").strip()))
            if line[3:4] != b"-":
                return

    def close(self):
        self.send(b"QUIT\r\n")
        self.f.close()
        self.sock.close()


def wire(data):
    """CRLF line ends, dot-stuffed, with the final dot."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def main():
    if len(sys.argv) < 7:
        sys.exit(__doc__.strip().split("\n\n")[1])
    port, fmt = int(sys.argv[1]), sys.argv[2]
    first, count, batch = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    bodies = [wire(open(p, "rb").read()) for p in sys.argv[6:]]
    t0 = time.monotonic()
    txns = rcpts = 0
    for body in bodies:
        for start in range(first, first + count, batch):
            n = min(batch, first + count - start)
            c = Smtp(port)  # a session each: [smtp] max_commands counts RCPTs
            c.send(b"MAIL FROM:<>\r\n" +
                   b"".join(b"RCPT TO:<%s>\r\n" % (fmt % i).encode()
                            for i in range(start, start + n)) + b"DATA\r\n")
            c.expect(250, "MAIL")
            for i in range(start, start + n):
                c.expect(250, "RCPT TO:<%s>" % (fmt % i))
            c.expect(354, "DATA")
            c.send(body)
            c.expect(250, "end of DATA")
            c.close()
            txns += 1
            rcpts += n
    print("transactions=%d recipients=%d seconds=%.1f" % (txns, rcpts, time.monotonic() - t0))


main()

# SPDX-License-Identifier: MIT
"""RETR and TOP streamed from the store (RFC 1939 §7, SPEC §3): the server's
memory stays bounded however large the message and however slowly clients
read; bodies larger than one store read come back byte-exact and dot-stuffed
across the read boundaries; TOP stops at its cut; a message that vanishes in
the middle of a RETR ends the connection without the final "." line."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
READ_CHUNK = 60 * 1024  # POP3_READ_CHUNK in src/pop3/pop3_private.h


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def big_message(size):
    """A wire-form message of about `size` octets, with lines that start
    with "." now and then, so stuffing happens all through it."""
    head = b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: big\r\n\r\n"
    line = b"x" * 70 + b"\r\n"
    dotted = b".dot line, stuffed on the wire\r\n"
    n = (size - len(head)) // (len(line) + len(dotted) // 8)
    body = b"".join(dotted if i % 8 == 0 else line for i in range(n))
    return head + body


def login(port, user, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        # a client that does not read: keep the kernel from buffering
        # megabytes for it, so the server's own memory is what is measured
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    for cmd in ("USER " + user, "PASS " + PASSWORD):
        s.sendall(cmd.encode() + b"\r\n")
        reply = f.readline()
        assert reply.startswith(b"+OK"), (cmd, reply)
    return s, f


def read_multiline(f):
    """The lines of a multi-line reply up to its "." line, un-stuffed, in
    wire form; raises EOFError if the connection ends first."""
    out = []
    while True:
        ln = f.readline()
        if not ln.endswith(b"\r\n"):
            raise EOFError("no final '.' line; %d lines read" % len(out))
        if ln == b".\r\n":
            return b"".join(out)
        out.append(ln[1:] if ln.startswith(b".") else ln)


def test_non_reading_clients_keep_memory_bounded():
    # 20 clients RETR a 20 MB message and read nothing: the server holds
    # at most a piece or two for each, not the message (twice) as it did
    n_clients, size = 20, 20 * 1024 * 1024
    users = ["u%02d@example.test" % i for i in range(n_clients)]
    srv = Server({"pop3.plaintext_auth": "yes", "limits.max_connections_per_ip": "100"},
                 pop3s=False)
    with srv:
        for u in users:
            srv.add_user(u)
        srv.cli("alias", "add", "all@example.test", users[0])
        for u in users[1:]:
            srv.cli("alias", "add", "all@example.test", u)
        body = big_message(size)
        srv.deliver("all@example.test", body)  # one body row, 20 messages
        # ASan builds keep freed memory in a quarantine (256 MB by default):
        # a small one, so that what is measured is what the server holds
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((saved or "") + ":quarantine_size_mb=4").lstrip(":")
        try:
            srv.start()
        finally:
            if saved is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = saved
        clients = [login(srv.pop3_port, u, rcvbuf=16384) for u in users]
        time.sleep(0.3)
        before = vm_rss_kib(srv.proc.pid)
        for s, f in clients:
            s.sendall(b"RETR 1\r\n")
        for s, f in clients:
            assert f.readline() == b"+OK %d octets\r\n" % len(body)
        # the old code had read and stuffed every copy by now; sample for a
        # while and keep the highest figure
        peak = before
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            peak = max(peak, vm_rss_kib(srv.proc.pid))
            time.sleep(0.1)
        growth = peak - before
        print("# VmRSS %d KiB -> peak %d KiB (+%d KiB) for %d clients" % (
            before, peak, growth, n_clients))
        assert growth < 40 * 1024, "server grew by %d KiB" % growth
        # the server is still responsive, and a client that reads gets it all
        s, f = clients[0]
        assert read_multiline(f) == body
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"+OK")
        for s, f in clients:
            f.close()
            s.close()


def fill_to(out, boundary):
    """Filler lines (one in four starts with ".") until `boundary` is near."""
    i = 0
    while boundary - len(out) > 200:
        out += b".dotted\r\n" if i % 4 == 0 else b"a" * 41 + b"\r\n"
        i += 1


def test_pieces_byte_exact_and_top():
    # headers longer than one store read; a CR LF cut by a read boundary; a
    # "." line that starts right at one; a body that ends exactly at one
    head = b"Subject: long headers\r\n" + b"".join(
        b"X-Filler-%05d: %s\r\n" % (i, b"h" * 60) for i in range(1200))  # ~95 KiB
    out = bytearray(head + b"\r\n")
    fill_to(out, 2 * READ_CHUNK)
    out += b"p" * (2 * READ_CHUNK - 1 - len(out)) + b"\r\n"  # CR before, LF after
    fill_to(out, 3 * READ_CHUNK)
    out += b"p" * (3 * READ_CHUNK - 2 - len(out)) + b"\r\n" + b".at the boundary\r\n"
    fill_to(out, 4 * READ_CHUNK)
    msg = bytes(out)
    assert msg[2 * READ_CHUNK - 1:2 * READ_CHUNK + 1] == b"\r\n"
    assert msg[3 * READ_CHUNK:3 * READ_CHUNK + 3] == b".at"
    fill_to(out, 5 * READ_CHUNK)
    out += b"p" * (5 * READ_CHUNK - 2 - len(out)) + b"\r\n"
    exact = bytes(out)
    assert len(exact) == 5 * READ_CHUNK
    with Server({"pop3.plaintext_auth": "yes"}, pop3s=False) as srv:
        srv.add_user(ALICE)
        srv.deliver(ALICE, msg)
        srv.deliver(ALICE, exact)
        srv.deliver(ALICE, b"Subject: empty body\r\n\r\n")
        srv.start()
        s, f = login(srv.pop3_port, ALICE)
        for no, m in ((1, msg), (2, exact), (3, b"Subject: empty body\r\n\r\n")):
            s.sendall(b"LIST %d\r\n" % no)
            assert f.readline() == b"+OK %d %d\r\n" % (no, len(m))
            s.sendall(b"RETR %d\r\n" % no)
            assert f.readline() == b"+OK %d octets\r\n" % len(m)
            assert read_multiline(f) == m, no
        # TOP: the headers (longer than a piece), the blank line, n lines
        lines = msg[len(head) + 2:].split(b"\r\n")[:-1]
        for n in (0, 1, 3, 10 ** 9):
            s.sendall(b"TOP 1 %d\r\n" % n)
            assert f.readline() == b"+OK Top of message follows\r\n"
            want = head + b"\r\n" + b"".join(ln + b"\r\n" for ln in lines[:n])
            assert read_multiline(f) == want, n
        assert want == msg
        # pipelined RETRs and a bad one between them, answered in order
        s.sendall(b"RETR 3\r\nRETR 9\r\nRETR 3\r\nNOOP\r\n")
        assert f.readline().startswith(b"+OK")
        assert read_multiline(f) == b"Subject: empty body\r\n\r\n"
        assert f.readline() == b"-ERR No such message\r\n"
        assert f.readline().startswith(b"+OK")
        assert read_multiline(f) == b"Subject: empty body\r\n\r\n"
        assert f.readline() == b"+OK\r\n"
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"+OK")
        f.close()
        s.close()


def test_message_removed_during_retr():
    # after +OK an -ERR would read as message text: the server ends the
    # connection instead, and the missing "." tells the client
    with Server({"pop3.plaintext_auth": "yes"}, pop3s=False) as srv:
        srv.add_user(ALICE)
        body = big_message(8 * 1024 * 1024)
        srv.deliver(ALICE, body)
        srv.start()
        s, f = login(srv.pop3_port, ALICE, rcvbuf=16384)
        s.sendall(b"RETR 1\r\n")
        assert f.readline() == b"+OK %d octets\r\n" % len(body)
        srv.cli("user", "remove", ALICE)
        try:
            got = read_multiline(f)
            raise AssertionError("message complete after its removal (%d octets)" % len(got))
        except EOFError:
            pass
        f.close()
        s.close()
        srv.wait_log(r"pop3 store error op=retr status=-1")
        # the server carries on
        srv.add_user(ALICE)
        s, f = login(srv.pop3_port, ALICE)
        s.sendall(b"STAT\r\n")
        assert f.readline() == b"+OK 0 0\r\n"
        f.close()
        s.close()


if __name__ == "__main__":
    run_tests(globals())

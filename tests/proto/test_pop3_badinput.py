# SPDX-License-Identifier: MIT
"""Bad and hostile POP3 input: every case gets an error or a timeout, never a
crash or a hang; the server keeps serving others afterwards."""
import base64
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
MSG = b"Subject: x\r\n\r\nhello\r\n"


def server(extra=None, messages=(MSG, MSG)):
    srv = Server(extra)
    srv.add_user(ALICE)
    for m in messages:
        srv.deliver(ALICE, m)
    return srv.start()


def logged_in(srv):
    r = srv.raw(tls=True)
    r.line()
    r.cmd("USER " + ALICE)
    assert r.cmd("PASS " + PASSWORD).startswith(b"+OK")
    return r


def still_serves(srv):
    c = srv.poplib_stls(ALICE)
    assert c.stat()[0] == 2
    c.quit()


def test_overlong_line():
    with server() as srv:
        r = srv.raw()
        r.line()
        r.send(b"NOOP " + b"x" * 300 + b"\r\n")
        reply = r.line()
        assert reply.startswith(b"-ERR") and b"too long" in reply.lower(), reply
        assert r.closed(), "no resync after an overlong line: one answer, then close"
        # a line that never ends is cut off, not buffered without limit
        r = srv.raw()
        r.line()
        r.send(b"A" * 200000)
        assert r.closed(), "endless line kept"
        still_serves(srv)


def test_nul_and_control_bytes():
    with server() as srv:
        r = srv.raw()
        r.line()
        assert r.cmd("NO\0OP").startswith(b"-ERR")
        assert r.cmd("USER a\0b").startswith(b"-ERR")
        assert r.cmd("\x01\x02\x7f\xff").startswith(b"-ERR")
        assert r.cmd("").startswith(b"-ERR")
        assert r.cmd("CAPA").startswith(b"+OK")
        r.close()
        still_serves(srv)


def test_bad_base64_and_sasl_abuse():
    with server() as srv:
        r = srv.raw(tls=True)
        r.line()
        assert r.cmd("AUTH PLAIN !!!notbase64").startswith(b"-ERR")
        assert r.cmd("AUTH PLAIN") == b"+ "
        assert r.cmd("%%%").startswith(b"-ERR")
        # structurally wrong PLAIN message (one NUL)
        bad = base64.b64encode(b"alice\0pw").decode()
        assert r.cmd("AUTH PLAIN " + bad).startswith(b"-ERR")
        assert r.cmd("AUTH CRAM-MD5").startswith(b"-ERR")
        assert r.cmd("AUTH X" * 1).startswith(b"-ERR")
        r.close()
        r = srv.raw(tls=True)
        r.line()
        r.cmd("AUTH SCRAM-SHA-256")
        assert r.cmd(base64.b64encode(b"garbage").decode()).startswith(b"-ERR")
        assert r.cmd("NOOP").startswith(b"-ERR")  # back in AUTHORIZATION, not logged in
        r.close()
        still_serves(srv)


def test_commands_in_wrong_state():
    with server() as srv:
        r = srv.raw(tls=True)
        r.line()
        for cmd in ("STAT", "LIST", "RETR 1", "DELE 1", "UIDL", "TOP 1 1", "RSET", "NOOP"):
            assert r.cmd(cmd).startswith(b"-ERR"), cmd
        assert r.cmd("PASS " + PASSWORD).startswith(b"-ERR")  # PASS without USER
        r.cmd("QUIT")
        r = logged_in(srv)
        for cmd in ("USER x", "PASS x", "APOP a b", "AUTH PLAIN", "STLS"):
            assert r.cmd(cmd).startswith(b"-ERR"), cmd
        for cmd in ("RETR 0", "RETR 3", "RETR -1", "RETR x", "RETR 99999999999999999999",
                    "TOP 1", "TOP 1 -1", "LIST 1 2", "DELE", "RETR 1 2", "FOO"):
            assert r.cmd(cmd).startswith(b"-ERR"), cmd
        assert r.cmd("STAT").startswith(b"+OK 2 ")
        r.cmd("QUIT")


def test_pipelined_commands():
    with server() as srv:
        r = logged_in(srv)
        r.send("STAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nDELE 2\r\nSTAT\r\nRSET\r\nQUIT\r\n")
        assert r.line().startswith(b"+OK 2 ")
        assert r.line().startswith(b"+OK") and len(r.multiline()) == 2
        assert r.line().startswith(b"+OK 1 ")
        assert r.line().startswith(b"+OK") and r.multiline() == [b"Subject: x", b"", b"hello"]
        assert r.line() == b"+OK"
        assert r.line().startswith(b"+OK")
        assert r.line().startswith(b"+OK 1 ")
        assert r.line().startswith(b"+OK")
        assert r.line().startswith(b"+OK")
        assert r.closed()
        still_serves(srv)


def test_bytes_pipelined_after_stls_are_discarded():
    with server(messages=()) as srv:
        r = srv.raw()
        r.line()
        # the injected USER must never reach the TLS session (RFC 2595 §4)
        r.send("STLS\r\nUSER " + ALICE + "\r\n")
        assert r.line() == b"+OK Begin TLS negotiation"
        r.starttls()
        assert r.cmd("PASS " + PASSWORD).startswith(b"-ERR"), "injected USER was kept"
        r.cmd("QUIT")


def test_idle_timeout_closes_and_deletes_nothing():
    with server({"limits.idle_timeout": "2s"}) as srv:
        r = logged_in(srv)
        assert r.cmd("DELE 1").startswith(b"+OK")
        t0 = time.monotonic()
        assert r.closed(timeout=10), "idle session not closed"
        assert time.monotonic() - t0 < 8
        # a client that stalls in the middle of a line is timed out too
        s = socket.create_connection(("127.0.0.1", srv.pop3_port), timeout=10)
        s.recv(512)
        s.sendall(b"US")
        t0 = time.monotonic()
        try:
            while s.recv(512):
                pass
        except ConnectionResetError:
            pass
        assert time.monotonic() - t0 < 8
        s.close()
        still_serves(srv)
        srv.wait_log(r"reason=idle|timeout")


def test_tls_handshake_stall_times_out():
    with server({"limits.idle_timeout": "2s"}) as srv:
        s = socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=40)
        t0 = time.monotonic()
        assert s.recv(512) == b""  # no ClientHello: closed at the handshake limit
        assert time.monotonic() - t0 < 8  # min(30 s, idle_timeout)
        s.close()


def test_per_ip_connection_limit():
    with server({"limits.max_connections_per_ip": "5"}) as srv:
        held = [srv.raw() for _ in range(5)]
        for r in held:
            assert r.line().startswith(b"+OK")
        extra = srv.raw()
        reply = extra.line()
        assert reply.startswith(b"-ERR [SYS/TEMP]") or reply.startswith(b"-ERR"), reply
        assert extra.closed()
        for r in held:
            r.close()
        time.sleep(0.3)
        still_serves(srv)


def test_total_connection_limit():
    with server({"limits.max_connections": "3"}) as srv:
        held = [srv.raw() for _ in range(3)]
        for r in held:
            r.line()
        extra = srv.raw()
        try:
            reply = extra.line()
            assert reply.startswith(b"-ERR"), reply
        except (EOFError, ConnectionResetError):
            pass
        for r in held:
            r.close()
        time.sleep(0.3)
        still_serves(srv)


def test_too_many_bad_commands():
    with server() as srv:
        r = srv.raw()
        r.line()
        for i in range(25):
            try:
                reply = r.cmd("BOGUS %d" % i)
            except (EOFError, ConnectionResetError, BrokenPipeError):
                break
            assert reply.startswith(b"-ERR")
        assert r.closed(), "endless bad commands tolerated"


def test_garbage_flood_and_many_connections():
    with server() as srv:
        rnd = os.urandom(64 * 1024)
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", srv.pop3_port if i % 2 else
                                          srv.pop3s_port), timeout=5)
            try:
                s.sendall(rnd[i * 1000:(i + 1) * 3000])
                s.settimeout(2)
                s.recv(4096)
            except OSError:
                pass
            s.close()
        still_serves(srv)


def test_client_that_never_reads():
    big = b"Subject: big\r\n\r\n" + b"y" * 76 + b"\r\n"
    big = big * 40000  # ~3 MB
    with server(messages=(big,)) as srv:
        r = logged_in(srv)
        r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for _ in range(20):
            r.send("RETR 1\r\n")  # never read: the server must throttle, not buffer
        time.sleep(1)
        r.close()
        srv.wait_log(r"session user=alice@example.test")
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 1
        c.quit()


def test_store_busy_gives_sys_temp_and_loses_nothing():
    import subprocess
    from harness import BIN
    with server() as srv:
        c = srv.poplib_stls(ALICE)
        c.dele(1)
        with srv.hold_store_lock():  # another writer holds the store
            lda = subprocess.Popen([BIN, "-c", srv.conf, "deliver", ALICE],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
            lda.stdin.write(MSG)
            lda.stdin.close()
            c.sock.settimeout(30)
            try:
                c.quit()
                raise AssertionError("QUIT succeeded while the store was locked")
            except Exception as e:
                assert b"[SYS/TEMP]" in str(e).encode(), e
            assert lda.wait(timeout=30) == 75, "deliver must exit EX_TEMPFAIL"
        c.close()
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 2, "the DELE of a failed UPDATE must not apply"
        c.quit()


if __name__ == "__main__":
    run_tests(globals())

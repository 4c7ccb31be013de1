# SPDX-License-Identifier: MIT
"""Clients that drip (slowloris) against clients that are only slow.

Every byte restarts the idle clock, so a client that sends one byte every
few seconds must be stopped by totals instead: a command line must be
complete line_deadline after its first byte, a message body (DATA, one BDAT
chunk) within data_deadline, and every data_rate_window of it must bring
min_data_rate bytes. The limits here are seconds, the idle timeouts longer
than all of them, so only the totals can close these sessions. A client
that types in pieces, pauses between commands and uploads steadily still
gets its mail through."""
import itertools
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
LIMITS = {
    "limits.line_deadline": "2s",
    "limits.data_deadline": "4s",
    "limits.min_data_rate": "20",
    "limits.data_rate_window": "1s",
    "limits.idle_timeout": "20s",
    "smtp.command_timeout": "20s",
    "smtp.data_timeout": "20s",
}


def server():
    srv = Server(LIMITS, smtp=True)
    srv.add_user(ALICE)
    return srv.start()


def drip(r, data, interval, give_up):
    """Sends data (cycled) a piece every `interval` s while reading what
    comes back. Returns the seconds from the first piece until the server
    closed, or None if it was still open after `give_up` s."""
    t0 = time.monotonic()
    r.sock.settimeout(interval)
    pieces = itertools.cycle(data)
    for _ in range(int(give_up / interval) + 2):
        try:
            r.sock.sendall(next(pieces))
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - t0
        try:
            chunk = r.sock.recv(4096)
            if not chunk:
                return time.monotonic() - t0
            r.buf += chunk
        except socket.timeout:
            pass
        except ConnectionResetError:
            return time.monotonic() - t0
        if time.monotonic() - t0 > give_up:
            return None
    return None


def byte_by_byte(text):
    return [bytes([b]) for b in text.encode()]


def smtp_reply(r):
    while True:
        ln = r.line()
        if len(ln) < 4 or ln[3:4] != b"-":
            return int(ln[:3]), ln


def smtp_cmd(r, text):
    r.send(text + "\r\n")
    return smtp_reply(r)


def smtp_ready(srv):
    r = srv.raw(port=srv.smtp_port)
    assert r.line().startswith(b"220 ")
    assert smtp_cmd(r, "EHLO client.example")[0] == 250
    assert smtp_cmd(r, "MAIL FROM:<sender@remote.example>")[0] == 250
    assert smtp_cmd(r, "RCPT TO:<%s>" % ALICE)[0] == 250
    return r


def test_limits_in_config_show():
    with server() as srv:
        shown = srv.cli("config", "show").stdout
        for line in (b"line_deadline = 2s\n", b"data_deadline = 4s\n",
                     b"min_data_rate = 20\n", b"data_rate_window = 1s\n"):
            assert line in shown, shown


def closed_by_limit(srv, r, pieces, interval, within, reply, log):
    """Drips pieces, one every `interval` s; the server must answer `reply`
    and close between within[0] and within[1] s after the first, and log
    the limit (the pattern `log`)."""
    took = drip(r, pieces, interval, within[1] + 3)
    assert took is not None, "a dripping client held the session"
    assert within[0] <= took < within[1], took
    assert reply in r.buf, r.buf
    r.close()
    srv.wait_log(r"sid=\w+ \w+ session .*reason=timeout .*timeout=" + log)


def test_pop3_dripped_line_is_closed():
    with server() as srv:
        r = srv.raw()
        assert r.line().startswith(b"+OK")
        closed_by_limit(srv, r, byte_by_byte("USER " + ALICE), 0.25, (1.5, 4.5),
                        b"-ERR Autologout", "line_deadline limit=2s")
        # the server still serves an ordinary client
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 0
        c.quit()


def test_smtp_dripped_command_is_closed():
    with server() as srv:
        r = srv.raw(port=srv.smtp_port)
        assert r.line().startswith(b"220 ")
        closed_by_limit(srv, r, byte_by_byte("EHLO client.example"), 0.25, (1.5, 4.5),
                        b"421 4.4.2 ", "line_deadline")
        assert b"timeout" in r.buf, r.buf


def test_smtp_dripped_data_is_closed():
    with server() as srv:
        r = smtp_ready(srv)
        assert smtp_cmd(r, "DATA")[0] == 354
        # 5 bytes a second, under the floor of 20 per second
        closed_by_limit(srv, r, byte_by_byte("Subject: drip\r\n\r\nbody\r\n"), 0.2,
                        (0.8, 3), b"421 4.4.2 ", r"data_rate bytes=\d+ window=1s min=20")
        assert srv.messages(ALICE) == []


def test_smtp_data_streamed_past_its_deadline_is_closed():
    with server() as srv:
        r = smtp_ready(srv)
        assert smtp_cmd(r, "DATA")[0] == 354
        # 100 bytes a second, well above the floor, but it never ends
        closed_by_limit(srv, r, [b"Subject: long\r\n", b"x" * 30 + b"\r\n"], 0.2, (3.5, 6.5),
                        b"421 4.4.2 ", "data_deadline limit=4s")
        assert srv.messages(ALICE) == []


def test_smtp_dripped_bdat_chunk_is_closed():
    with server() as srv:
        r = smtp_ready(srv)
        r.send("BDAT 1000 LAST\r\n")
        closed_by_limit(srv, r, [b"x"], 0.2, (0.8, 3), b"421 4.4.2 ", "data_rate")
        assert srv.messages(ALICE) == []


def send_in_pieces(r, text, pieces=3, pause=0.3):
    """Types one line in pieces, as a person at a telnet prompt does."""
    data = (text + "\r\n").encode()
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        r.send(data[i:i + step])
        time.sleep(pause)


def test_slow_but_steady_clients_succeed():
    with server() as srv:
        # POP3: each line typed over about a second, a pause longer than
        # the line deadline between commands
        p = srv.raw()
        assert p.line().startswith(b"+OK")
        send_in_pieces(p, "CAPA")
        p.multiline()
        time.sleep(2.5)
        send_in_pieces(p, "STLS")
        assert p.line().startswith(b"+OK")
        p.starttls()
        send_in_pieces(p, "USER " + ALICE)
        assert p.line().startswith(b"+OK")
        time.sleep(2.5)
        send_in_pieces(p, "PASS " + PASSWORD)
        assert p.line().startswith(b"+OK"), "slow POP3 login failed"

        # SMTP: commands in pieces with pauses, then a body of 8 KiB at
        # about 4 KiB/s: longer than a line deadline and two rate windows
        r = srv.raw(port=srv.smtp_port)
        assert r.line().startswith(b"220 ")
        for text in ("EHLO client.example", "MAIL FROM:<sender@remote.example>",
                     "RCPT TO:<%s>" % ALICE):
            send_in_pieces(r, text)
            assert smtp_reply(r)[0] == 250, text
            time.sleep(2.5)
        send_in_pieces(r, "DATA")
        assert smtp_reply(r)[0] == 354
        body = b"Subject: slow\r\n\r\n" + (b"y" * 62 + b"\r\n") * 128
        t0 = time.monotonic()
        for i in range(0, len(body), 400):
            r.send(body[i:i + 400])
            time.sleep(0.1)
        r.send(b".\r\n")
        code, line = smtp_reply(r)
        assert code == 250, line
        assert time.monotonic() - t0 > 2
        assert smtp_cmd(r, "QUIT")[0] == 221
        r.close()

        # the POP3 session, quiet for longer than a line deadline all along,
        # is still open (its snapshot is from before the message came)
        assert p.cmd("STAT").startswith(b"+OK 0 ")
        assert p.cmd("QUIT").startswith(b"+OK")
        p.close()
        got = srv.messages(ALICE)
        assert len(got) == 1 and got[0].endswith(body), got
        assert "timeout=line_deadline" not in srv.log_text()
        assert "timeout=data_" not in srv.log_text()


if __name__ == "__main__":
    run_tests(globals())

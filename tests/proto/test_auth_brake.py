# SPDX-License-Identifier: MIT
"""The login brake (directory/penalty.h, SPEC §3) over the wire: one brake per
client address across POP3 and SMTP AUTH. After failures from an address,
every attempt from it waits before its password is checked, the right one
too, so an early answer never gives a guess away; SMTP AUTH guessing is
slowed like POP3's; a success with another account leaves the guesser's
brake where it was. Delays are configured small so the tests take seconds."""
import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Raw, Server, run_tests  # noqa: E402
from test_pop3 import scram_login  # noqa: E402
from test_smtp import cmd as smtp_cmd, reply  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
FIRST_MS = 200  # auth_fail_delay: the wait after one failure
# three failures from 127.0.0.1 make the next attempt wait 200 << 2 = 800 ms
# (cap 1 s); a little less allows for timer rounding
WAIT_AFTER_3 = 0.75
NO_WAIT = 0.6  # an answer with no brake (the password check itself is fast)


def server(first="%dms" % FIRST_MS):
    srv = Server({"limits.auth_fail_delay": first, "limits.auth_fail_delay_max": "1s"},
                 smtp=True)
    srv.add_user(ALICE)
    srv.add_user(BOB)
    return srv.start()


def plain(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def smtp_session(srv, port):
    """A submission session ready for AUTH: 465 (implicit TLS) or 587 (STARTTLS)."""
    if port == 465:
        r = Raw(srv.submissions_port, tls=True, timeout=10)
        reply(r)
    else:
        r = Raw(srv.submission_port, timeout=10)
        reply(r)
        smtp_cmd(r, "EHLO c")
        assert smtp_cmd(r, "STARTTLS")[0] == 220
        r.starttls()
    assert smtp_cmd(r, "EHLO c")[0] == 250
    return r


def timed(fn, *args):
    t0 = time.monotonic()
    out = fn(*args)
    return time.monotonic() - t0, out


def smtp_auth(srv, port, user, password):
    """(seconds the AUTH answer took, reply code), on a fresh session."""
    r = smtp_session(srv, port)
    secs, (code, _) = timed(smtp_cmd, r, "AUTH PLAIN " + plain(user, password))
    r.close()
    return secs, code


def pop3_pass(srv, user, password):
    """(seconds the PASS answer took, answer line), over POP3S."""
    r = srv.raw(tls=True, timeout=10)
    r.line()
    assert r.cmd("USER " + user).startswith(b"+OK")
    secs, line = timed(r.cmd, "PASS " + password)
    quit_pop3(r, line)
    return secs, line


def quit_pop3(r, line):
    """QUIT a logged-in session (the mailbox lock goes), or just close."""
    if line.startswith(b"+OK"):
        assert r.cmd("QUIT").startswith(b"+OK")
    r.close()


def fail_pop3(srv, n, user=ALICE):
    for _ in range(n):
        assert pop3_pass(srv, user, "wrong")[1].startswith(b"-ERR [AUTH]")


def test_pop3_right_password_waits_too():
    with server() as srv:
        assert pop3_pass(srv, ALICE, PASSWORD)[0] < NO_WAIT  # no failures: no wait
        fail_pop3(srv, 3)
        secs, line = pop3_pass(srv, ALICE, PASSWORD)
        assert line.startswith(b"+OK"), line
        assert secs >= WAIT_AFTER_3, secs  # the wait comes before the check
        # the success cleared alice's failures from this address
        assert pop3_pass(srv, ALICE, PASSWORD)[0] < NO_WAIT
        # AUTH PLAIN and SCRAM wait the same before their checking step
        fail_pop3(srv, 3)
        r = srv.raw(tls=True, timeout=10)
        r.line()
        secs, line = timed(r.cmd, "AUTH PLAIN " + plain(ALICE, PASSWORD))
        assert line.startswith(b"+OK") and secs >= WAIT_AFTER_3, (secs, line)
        quit_pop3(r, line)
        fail_pop3(srv, 3)
        r = srv.raw(timeout=10)
        r.line()
        secs, line = timed(scram_login, r, ALICE, PASSWORD)
        assert line.startswith(b"+OK") and secs >= WAIT_AFTER_3, (secs, line)
        quit_pop3(r, line)


def test_pop3_wrong_answer_not_early():
    """A guesser that gives up after 200 ms learns nothing: the wrong answer
    and the right one both come only after the wait."""
    with server() as srv:
        fail_pop3(srv, 3)
        secs_wrong, line = pop3_pass(srv, ALICE, "wrong")
        assert line.startswith(b"-ERR [AUTH]") and secs_wrong >= WAIT_AFTER_3, secs_wrong
        # four failures now: 1 s (the cap) for the right password as well
        secs_right, line = pop3_pass(srv, ALICE, PASSWORD)
        assert line.startswith(b"+OK") and secs_right >= 0.95, secs_right


def test_smtp_auth_right_password_waits_465_and_587():
    with server() as srv:
        for port in (465, 587):
            for _ in range(3):
                assert smtp_auth(srv, port, ALICE, "wrong")[1] == 535
            secs, code = smtp_auth(srv, port, ALICE, PASSWORD)
            assert code == 235 and secs >= WAIT_AFTER_3, (port, secs, code)
            # cleared by the success
            secs, code = smtp_auth(srv, port, ALICE, PASSWORD)
            assert code == 235 and secs < NO_WAIT, (port, secs, code)
        # failures over SMTP brake POP3 too: one brake per address
        for _ in range(3):
            assert smtp_auth(srv, 465, ALICE, "wrong")[1] == 535
        secs, line = pop3_pass(srv, ALICE, PASSWORD)
        assert line.startswith(b"+OK") and secs >= WAIT_AFTER_3, secs


def test_smtp_auth_guessing_is_slowed():
    """Ten wrong AUTH PLAIN attempts (three per session, then 421) take at
    least the sum of the waits: 0 + 50 + 100 + 200 + 400 + 800 + 4 x 1000 ms."""
    with server(first="50ms") as srv:
        t0 = time.monotonic()
        left = 10
        while left > 0:
            r = smtp_session(srv, 465)
            for _ in range(min(3, left)):
                assert smtp_cmd(r, "AUTH PLAIN " + plain(ALICE, "guess%d" % left))[0] == 535
                left -= 1
            r.close()
        took = time.monotonic() - t0
        assert took >= 5.4, took
        srv.wait_log(r"login user=alice@example.test ip=\S+ mech=\S+ result=failed")
        # the same via LOGIN: the wait sits before the password step
        r = smtp_session(srv, 587)
        assert smtp_cmd(r, "AUTH LOGIN")[0] == 334
        assert smtp_cmd(r, base64.b64encode(ALICE.encode()).decode())[0] == 334
        secs, (code, _) = timed(smtp_cmd, r, base64.b64encode(b"wrong").decode())
        assert code == 535 and secs >= 0.95, (secs, code)
        r.close()


def test_other_account_success_keeps_penalty():
    """A guesser cannot reset its brake by logging in to an account of its own."""
    with server() as srv:
        for _ in range(3):
            assert smtp_auth(srv, 465, ALICE, "wrong")[1] == 535
        # bob (the guesser's own account) logs in: he waits like anyone here
        secs, code = smtp_auth(srv, 465, BOB, PASSWORD)
        assert code == 235 and secs >= WAIT_AFTER_3, (secs, code)
        secs, line = pop3_pass(srv, BOB, PASSWORD)
        assert line.startswith(b"+OK") and secs >= WAIT_AFTER_3, secs
        # and the guesser's brake on alice is where it was
        secs, code = smtp_auth(srv, 587, ALICE, PASSWORD)
        assert code == 235 and secs >= WAIT_AFTER_3, (secs, code)



def test_stop_while_attempts_wait():
    """SIGTERM while a POP3 and an SMTP attempt wait out the brake: both
    finish, the server exits cleanly (no sanitizer report under ASan)."""
    with server() as srv:
        for _ in range(3):
            assert smtp_auth(srv, 465, ALICE, "wrong")[1] == 535
        r = smtp_session(srv, 465)
        r.send("AUTH PLAIN " + plain(ALICE, PASSWORD) + "\r\n")
        p = srv.raw(tls=True, timeout=10)
        p.line()
        assert p.cmd("USER " + BOB).startswith(b"+OK")
        p.send("PASS " + PASSWORD + "\r\n")
        time.sleep(0.2)  # both wait now
        srv.stop()
        assert reply(r)[0] == 235 and reply(r)[0] == 421
        assert p.line().startswith(b"+OK") and b"shutting down" in p.line()
        r.close()
        p.close()

if __name__ == "__main__":
    run_tests(globals())

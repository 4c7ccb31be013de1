# SPDX-License-Identifier: MIT
"""test_smtp_filter.py - the content filters on the SMTP path: a running
mailroom with [filter] milter and clamd, driven by smtplib on port 25 and
submission, and read back over POP3.

(a) Every milter action through a real libmilter peer (Debian's
    python3-milter: tests/proto/pymilter_peer.py, whose verdict depends on the
    recipients' local parts): accept, reject with its own reply, tempfail,
    discard (250, nothing stored), quarantine (only the quarantine mailbox
    gets it, with the reason and the original recipients), header and body
    changes (what is stored is what the milter made), recipients added and
    removed, the sender changed, a recipient refused at RCPT.
(b) ClamAV's clamd with a signature database the test builds: infected mail
    refused with 5.7.1 naming the signature and the AVAPI-style log record
    (sender, recipients, signature); clean mail stored; clamd down under both
    failure policies.
(c) A milter that is not there: tempfail (451) or accept (stored).
(d) Submission goes through the same filters.
"""
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, run_tests  # noqa: E402
import test_clamd as C  # noqa: E402
import test_milter as M  # noqa: E402

USERS = ("accept", "reject", "tempfail", "discard", "quarantine", "addheader", "insheader",
         "chgheader", "addrcpt", "added", "par", "delrcpt", "other", "replbody", "chgfrom",
         "plain", "rcptreject", "qbox", "macros")

MSG = (b"From: Sender <sender@remote.test>\r\n"
       b"To: someone@example.test\r\n"
       b"Subject: a test\r\n"
       b"X-Remove: this goes\r\n"
       b"Message-ID: <1@remote.test>\r\n"
       b"\r\n"
       b"The body.\r\n")

PEER = None
CLAMD = None


def peer():
    global PEER
    if PEER is None:
        PEER = M.PyMilter().start()
    return PEER


def clamd():
    global CLAMD
    if CLAMD is None:
        CLAMD = C.Clamd().start()
    return CLAMD


def server(**extra):
    s = Server(extra=extra, smtp=True)
    for u in USERS:
        s.add_user(u + "@example.test")
    s.start()
    return s


def milter_server(**extra):
    extra.setdefault("filter.milter", "inet:127.0.0.1:%d" % peer().port)
    extra.setdefault("filter.milter_timeout", "20s")
    extra.setdefault("filter.quarantine", "qbox@example.test")
    return server(**extra)


def send(s, rcpts, msg=MSG, sender="sender@remote.test"):
    """The final reply to the message: (code, text); RCPT refusals raise."""
    c = s.smtp()
    try:
        c.mail(sender)
        for r in rcpts:
            code, text = c.rcpt(r)
            assert code == 250, (r, code, text)
        code, text = c.data(msg)
        return code, text.decode(errors="replace")
    finally:
        try:
            c.quit()
        except smtplib.SMTPException:
            pass


def box(s, user):
    return s.messages(user + "@example.test")


def test_milter_verdicts():
    with milter_server() as s:
        assert send(s, ["accept@example.test"])[0] == 250
        assert len(box(s, "accept")) == 1
        code, text = send(s, ["reject@example.test", "plain@example.test"])
        assert code == 554 and "5.7.1 Custom refusal by the test milter" in text, (code, text)
        assert box(s, "reject") == [] and box(s, "plain") == []
        code, text = send(s, ["tempfail@example.test"])
        assert code == 451 and text.startswith("4."), (code, text)
        assert box(s, "tempfail") == []
        code, text = send(s, ["discard@example.test"])
        assert code == 250, (code, text)
        assert box(s, "discard") == []
        s.wait_log(r"discarded by a milter")
        log = s.log_text()
        assert re.search(r"milter=inet:127\.0\.0\.1:\d+ action=reject", log), log[-3000:]


def test_milter_quarantine():
    with milter_server() as s:
        code, _ = send(s, ["quarantine@example.test", "plain@example.test"])
        assert code == 250
        assert box(s, "quarantine") == [] and box(s, "plain") == []
        q = box(s, "qbox")
        assert len(q) == 1, q
        m = q[0]
        assert b"X-Quarantine-Reason: held by the test\r\n" in m, m[:800]
        assert b"X-Original-To: <quarantine@example.test>\r\n" in m, m[:800]
        assert b"X-Original-To: <plain@example.test>\r\n" in m, m[:800]
        assert b"X-Quarantine-Sender: <sender@remote.test>\r\n" in m, m[:800]
        assert b"The body." in m
        s.wait_log(r"quarantined reason=\"held by the test\" to=<qbox@example.test>")


def test_milter_quarantine_default_postmaster():
    with milter_server(**{"filter.quarantine": None,
                          "smtp.postmaster": "qbox@example.test"}) as s:
        assert send(s, ["quarantine@example.test"])[0] == 250
        assert box(s, "quarantine") == []
        q = box(s, "qbox")
        assert len(q) == 1 and b"X-Quarantine-Reason:" in q[0], q


def test_milter_changes_message():
    with milter_server() as s:
        assert send(s, ["addheader@example.test", "chgheader@example.test",
                        "insheader@example.test", "replbody@example.test"])[0] == 250
        for u in ("addheader", "chgheader", "insheader", "replbody"):
            got = box(s, u)
            assert len(got) == 1, (u, got)
            m = got[0]
            head, _, body = m.partition(b"\r\n\r\n")
            head += b"\r\n"
            assert b"X-Test-Milter: added\r\n" in head, head
            assert b"Subject: changed subject\r\n" in head, head
            assert b"X-Remove" not in head, head
            # first, under the Return-Path that the store shows
            assert re.match(rb"Return-Path: <[^>]*>\r\nX-Inserted: at the top\r\n", head), head

            assert body == b"replaced body\r\nsecond line\r\n", body
            # our trace field stays
            assert b"Received: from client.example" in head, head


def test_milter_changes_envelope():
    with milter_server() as s:
        code, _ = send(s, ["addrcpt@example.test", "delrcpt@example.test",
                           "other@example.test"])
        assert code == 250
        assert len(box(s, "addrcpt")) == 1
        assert len(box(s, "delrcpt")) == 1
        assert len(box(s, "added")) == 1 and len(box(s, "par")) == 1
        assert box(s, "other") == []
        assert send(s, ["chgfrom@example.test"])[0] == 250
        m = box(s, "chgfrom")[0]
        assert m.startswith(b"Return-Path: <new-sender@example.test>\r\n"), m[:200]


def test_milter_refuses_one_recipient_at_rcpt():
    with milter_server() as s:
        assert send(s, ["rcptreject@example.test", "plain@example.test"])[0] == 250
        assert box(s, "rcptreject") == []
        assert len(box(s, "plain")) == 1
        s.wait_log(r"filter recipient dropped to=<rcptreject@example.test>|"
                   r"milter=\S+ action=continue")


def test_milter_macros():
    with milter_server() as s:
        assert send(s, ["macros@example.test"])[0] == 250
        m = box(s, "macros")[0]
        seen = re.search(rb"X-Seen-Macros: (.*)\r\n", m).group(1).decode()
        assert "j=mail.example.test" in seen, seen
        assert "{daemon_name}=smtp" in seen, seen
        assert "{client_addr}=127.0.0.1" in seen, seen
        assert "helo=client.example" in seen, seen
        assert "{mail_addr}=sender@remote.test" in seen, seen


def test_milter_down_policies():
    port = free_port()
    with milter_server(**{"filter.milter": "inet:127.0.0.1:%d" % port,
                          "filter.milter_timeout": "2s"}) as s:
        code, text = send(s, ["plain@example.test"])
        assert code == 451 and "4.7.1" in text, (code, text)
        assert box(s, "plain") == []
    with milter_server(**{"filter.milter": "inet:127.0.0.1:%d" % port,
                          "filter.milter_timeout": "2s",
                          "filter.milter_default_action": "accept"}) as s:
        assert send(s, ["plain@example.test"])[0] == 250
        assert len(box(s, "plain")) == 1


def test_clamd_on_smtp():
    spec = "inet:127.0.0.1:%d" % clamd().port
    with server(**{"filter.clamd": spec, "filter.clamd_timeout": "30s"}) as s:
        assert send(s, ["plain@example.test"], msg=C.CLEAN)[0] == 250
        assert len(box(s, "plain")) == 1
        code, text = send(s, ["other@example.test", "added@example.test"], msg=C.INFECTED)
        assert code == 554, (code, text)
        assert re.match(r"5\.7\.1 Virus found: %s(\.UNOFFICIAL)?$" % re.escape(C.SIG_NAME),
                        text), text
        assert box(s, "other") == []
        line = s.wait_log(r"virus found signature=\S+ from=<sender@remote.test> "
                          r"to=<other@example.test>,<added@example.test> ip=127.0.0.1")
        assert line


def test_clamd_down_policies():
    spec = "inet:127.0.0.1:%d" % free_port()
    with server(**{"filter.clamd": spec, "filter.clamd_timeout": "2s"}) as s:
        code, text = send(s, ["plain@example.test"], msg=C.CLEAN)
        assert code == 451, (code, text)
    with server(**{"filter.clamd": spec, "filter.clamd_timeout": "2s",
                   "filter.clamd_default_action": "accept"}) as s:
        assert send(s, ["plain@example.test"], msg=C.INFECTED)[0] == 250
        assert len(box(s, "plain")) == 1


def test_submission_is_filtered():
    with milter_server() as s:
        c = s.submission("plain@example.test")
        try:
            c.mail("plain@example.test")
            c.rcpt("reject@example.test")
            code, text = c.data(MSG)
            assert code == 554 and b"Custom refusal" in text, (code, text)
            c.rset()
            c.mail("plain@example.test")
            c.rcpt("macros@example.test")
            assert c.data(MSG)[0] == 250
        finally:
            c.quit()
        m = box(s, "macros")[0]
        assert b"{daemon_name}=submission" in m, m[:1500]
        assert b"{auth_authen}=plain@example.test" in m, m[:1500]


def main():
    for prog in (M.PROBE, C.CLAMD):
        if not os.path.exists(prog):
            print("skipped: %s is missing" % prog)
            sys.exit(77)
    if not M.python_has("Milter"):
        print("skipped: python3-milter is missing")
        sys.exit(77)
    try:
        run_tests(globals())
    finally:
        if PEER is not None:
            PEER.cleanup()
        if CLAMD is not None:
            CLAMD.cleanup()


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: MIT
"""Quota levels and sending limits as real clients meet them (smtplib,
poplib): the warning notice once per crossing, prohibit send (552 5.2.2 at
MAIL on submission, port 25 still delivering), prohibit receive (452 4.2.2),
domain defaults and a mailbox's own values, the message size both declared
and not, the recipients per message with a list expanded, and the hourly
and daily message and recipient rates (450 4.7.1 and a `delivery limit` log
line).
Limits hold for submission logins only; port 25 is never limited by them."""
import os
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
OUTSIDE = "someone@remote.test"


def message(subject, size=0):
    """A message of about `size` octets (at least its header)."""
    head = "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n" % (OUTSIDE, ALICE, subject)
    lines, left = [], max(0, size - len(head))
    while left > 0:
        n = min(76, max(1, left - 2))
        lines.append("x" * n)
        left -= n + 2
    return (head + "\r\n".join(lines) + "\r\n").encode()


def server():
    srv = Server(smtp=True)
    srv.add_user(ALICE)
    srv.add_user(BOB)
    return srv


def inbound(srv, rcpts, data):
    """One message on port 25 from outside; the RCPT replies by address."""
    c = srv.smtp()
    code, _ = c.mail(OUTSIDE)
    assert code == 250, code
    replies = {r: c.rcpt(r) for r in rcpts}
    if any(code == 250 for code, _ in replies.values()):
        code, text = c.data(data)
        assert code == 250, (code, text)
    c.quit()
    return replies


def subjects(srv, user):
    out = []
    for m in srv.messages(user):
        found = re.search(rb"^Subject: ([^\r\n]*)", m, re.M)
        out.append(found.group(1).decode() if found else "")
    return out


def notices(srv, user):
    return [m for m in srv.messages(user) if re.search(rb"^Subject: Mailbox almost full", m,
                                                       re.M)]


def mail_reply(srv, user):
    """The answer to MAIL FROM after a submission login of `user`."""
    c = srv.submission(user)
    r = c.mail(user)
    c.quit()
    return r


def reply(result):
    code, text = result
    return "%d %s" % (code, text.decode(errors="replace"))


def limit_logged(srv, login, limit):
    """One `delivery limit` line naming the login and the limit."""
    pattern = limit.replace("-", "[-_ ]")
    return [ln for ln in srv.log_text().splitlines()
            if "delivery limit" in ln and login in ln and re.search(pattern, ln)]


def test_quota_warning_once_per_crossing():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--quota-warn", "3K")
        srv.start()
        inbound(srv, [ALICE], message("one", 1024))
        inbound(srv, [ALICE], message("two", 1024))
        assert notices(srv, ALICE) == []  # 2K: below the level
        inbound(srv, [ALICE], message("three", 1200))  # crosses 3K
        found = notices(srv, ALICE)
        assert len(found) == 1, subjects(srv, ALICE)
        n = found[0]
        assert n.startswith(b"Return-Path: <>\r\n"), n[:200]
        assert re.search(rb"^From: [^\r\n]*MAILER-DAEMON@mail\.example\.test", n, re.M), n
        for i in range(3):  # well above the level: no second notice
            inbound(srv, [ALICE], message("more %d" % i, 1024))
        assert len(notices(srv, ALICE)) == 1, subjects(srv, ALICE)
        # the user makes room below the level; the next crossing is told again
        c = srv.poplib_stls(ALICE)
        total = c.stat()[0]
        for i in range(total):
            c.dele(i + 1)
        c.quit()
        assert srv.messages(ALICE) == []
        inbound(srv, [ALICE], message("again one", 2000))
        assert notices(srv, ALICE) == []
        inbound(srv, [ALICE], message("again two", 2000))
        assert len(notices(srv, ALICE)) == 1, subjects(srv, ALICE)
        inbound(srv, [ALICE], message("again three", 500))
        assert len(notices(srv, ALICE)) == 1, subjects(srv, ALICE)
        # a new level: the next delivery at or above it sends a notice
        srv.cli("user", "set", ALICE, "--quota-warn", "4K")
        inbound(srv, [ALICE], message("after the change", 500))
        assert len(notices(srv, ALICE)) == 2, subjects(srv, ALICE)


def test_quota_send_refuses_mail_from_but_port_25_delivers():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--quota-send", "1K")
        srv.deliver(ALICE, message("fill", 2048))
        srv.start()
        r = mail_reply(srv, ALICE)
        assert r[0] == 552 and b"5.2.2" in r[1], reply(r)
        c = srv.submission(ALICE, implicit=True)  # port 465 alike
        r = c.mail(ALICE)
        assert r[0] == 552 and b"5.2.2" in r[1], reply(r)
        c.quit()
        assert len(limit_logged(srv, ALICE, "quota-send")) == 2, srv.log_text()[-2000:]
        # receiving goes on, from outside and from bob
        assert inbound(srv, [ALICE], message("in", 300))[ALICE][0] == 250
        c = srv.submission(BOB)
        assert c.mail(BOB)[0] == 250 and c.rcpt(ALICE)[0] == 250
        assert c.data(message("from bob", 300))[0] == 250
        c.quit()
        assert len(srv.messages(ALICE)) == 3
        # bob, under no level, sends; alice again once below hers
        c = srv.poplib_stls(ALICE)
        for i in range(c.stat()[0]):
            c.dele(i + 1)
        c.quit()
        assert mail_reply(srv, ALICE)[0] == 250


def test_quota_receive_452_at_rcpt():
    with server() as srv:
        srv.deliver(ALICE, message("fill", 2048))  # before the quota: it would refuse
        srv.cli("user", "set", ALICE, "--quota", "1K")
        srv.start()
        r = inbound(srv, [ALICE, BOB], message("in", 300))
        assert r[ALICE][0] == 452 and b"4.2.2" in r[ALICE][1], reply(r[ALICE])
        assert r[BOB][0] == 250
        assert len(srv.messages(BOB)) == 1 and len(srv.messages(ALICE)) == 1


def test_domain_default_inherited_and_overridden():
    with server() as srv:
        srv.deliver(ALICE, message("fill", 2048))
        srv.deliver(BOB, message("fill", 2048))
        srv.cli("domain", "set", "example.test", "--quota", "1K", "--quota-send", "1K")
        srv.cli("user", "set", BOB, "--quota", "0", "--quota-send", "default")
        srv.start()
        r = inbound(srv, [ALICE, BOB], message("in", 300))
        assert r[ALICE][0] == 452 and b"4.2.2" in r[ALICE][1], reply(r[ALICE])
        assert r[BOB][0] == 250, reply(r[BOB])  # bob's own "none" wins
        for user in (ALICE, BOB):  # both take the domain's send level
            r = mail_reply(srv, user)
            assert r[0] == 552 and b"5.2.2" in r[1], (user, reply(r))
        srv.cli("user", "set", BOB, "--quota-send", "0")
        assert mail_reply(srv, BOB)[0] == 250


def test_max_message_size_declared_and_not():
    with server() as srv:
        srv.cli("domain", "set", "example.test", "--max-message-size", "2K")
        srv.cli("user", "set", BOB, "--max-message-size", "8K")
        srv.start()
        big = message("big", 5000)
        c = srv.submission(ALICE)
        r = c.mail(ALICE, ["SIZE=%d" % len(big)])
        assert r[0] == 552 and b"5.3.4" in r[1], reply(r)
        c.rset()
        # without SIZE= the message is taken in and refused after the data
        assert c.mail(ALICE)[0] == 250 and c.rcpt(OUTSIDE)[0] == 250
        try:
            r = c.data(big)
        except smtplib.SMTPDataError as e:
            r = (e.smtp_code, e.smtp_error)
        assert r[0] == 552 and b"5.3.4" in r[1], reply(r)
        assert len(limit_logged(srv, ALICE, "max-message-size")) == 2, srv.log_text()[-2000:]
        # a small one goes
        small = message("small", 1000)
        assert c.mail(ALICE, ["SIZE=%d" % len(small)])[0] == 250
        assert c.rcpt(OUTSIDE)[0] == 250 and c.data(small)[0] == 250
        c.quit()
        # bob's own limit is higher than the domain's
        c = srv.submission(BOB)
        assert c.mail(BOB, ["SIZE=%d" % len(big)])[0] == 250
        assert c.rcpt(OUTSIDE)[0] == 250 and c.data(big)[0] == 250
        c.quit()
        # port 25 is not held to it
        assert inbound(srv, [ALICE], big)[ALICE][0] == 250
        assert len(srv.messages(ALICE)) == 1


def test_max_recipients_counts_list_members():
    with server() as srv:
        members = ["m%d@example.test" % i for i in range(3)]
        for m in members:
            srv.add_user(m)
        has_lists = srv.cli("list", "--help", check=False).returncode == 0
        if has_lists:
            srv.cli("list", "add", "staff@example.test", "--senders", "anyone")
            for m in members:
                srv.cli("list", "member", "add", "staff@example.test", m)
            first = ["staff@example.test"]
        else:
            first = members
        srv.cli("user", "set", ALICE, "--max-recipients", "3")
        srv.start()
        c = srv.submission(ALICE)
        assert c.mail(ALICE)[0] == 250
        for r in first:  # the list is three recipients
            assert c.rcpt(r)[0] == 250, r
        r = c.rcpt(BOB)
        assert r[0] == 452 and b"4.5.3" in r[1], reply(r)
        r = c.rcpt("far@remote.test")
        assert r[0] == 452 and b"4.5.3" in r[1], reply(r)
        assert c.data(message("to three", 300))[0] == 250
        c.quit()
        for m in members:
            assert len(srv.messages(m)) == 1, m
        assert srv.messages(BOB) == []
        assert limit_logged(srv, ALICE, "max-recipients"), srv.log_text()[-2000:]
        # port 25 takes more recipients than alice may send to
        r = inbound(srv, members + [ALICE, BOB], message("inbound", 300))
        assert all(code == 250 for code, _ in r.values()), r


def test_messages_per_hour():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--messages-per-hour", "2")
        srv.start()
        c = srv.submission(ALICE)
        # an abandoned transaction, and one refused after its data, send nothing
        assert c.mail(ALICE)[0] == 250 and c.rcpt(OUTSIDE)[0] == 250
        c.rset()
        srv.cli("user", "set", ALICE, "--max-message-size", "1K")
        assert c.mail(ALICE)[0] == 250 and c.rcpt(OUTSIDE)[0] == 250
        try:
            r = c.data(message("too big", 3000))
        except smtplib.SMTPDataError as e:
            r = (e.smtp_code, e.smtp_error)
        assert r[0] == 552, reply(r)
        srv.cli("user", "set", ALICE, "--max-message-size", "default")
        for i in range(2):
            assert c.mail(ALICE)[0] == 250 and c.rcpt(OUTSIDE)[0] == 250
            assert c.data(message("n%d" % i, 300))[0] == 250
        r = c.mail(ALICE)
        assert r[0] == 450 and b"4.7.1" in r[1], reply(r)
        c.quit()
        assert len(limit_logged(srv, ALICE, "messages-per-hour")) == 1, srv.log_text()[-2000:]
        # another login, and port 25 to alice, are not counted against her
        assert mail_reply(srv, BOB)[0] == 250
        assert inbound(srv, [ALICE], message("in", 300))[ALICE][0] == 250
        # raising the limit lets her send again
        srv.cli("user", "set", ALICE, "--messages-per-hour", "3")
        assert mail_reply(srv, ALICE)[0] == 250


def test_daily_limits():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--messages-per-day", "1")
        srv.cli("user", "set", BOB, "--recipients-per-day", "2")
        srv.start()
        c = srv.submission(ALICE)
        assert c.mail(ALICE)[0] == 250 and c.rcpt(OUTSIDE)[0] == 250
        assert c.data(message("first", 300))[0] == 250
        r = c.mail(ALICE)
        assert r[0] == 450 and b"4.7.1" in r[1], reply(r)
        c.quit()
        c = srv.submission(BOB)
        assert c.mail(BOB)[0] == 250
        assert c.rcpt("a@remote.test")[0] == 250 and c.rcpt(ALICE)[0] == 250
        r = c.rcpt("b@remote.test")
        assert r[0] == 450 and b"4.7.1" in r[1], reply(r)
        assert c.data(message("two", 300))[0] == 250
        c.quit()
        assert len(limit_logged(srv, ALICE, "messages-per-day")) == 1, srv.log_text()[-2000:]
        assert len(limit_logged(srv, BOB, "recipients-per-day")) == 1, srv.log_text()[-2000:]
        assert len(srv.messages(ALICE)) == 1  # bob's message reached her


def test_recipients_per_hour():
    with server() as srv:
        srv.cli("domain", "set", "example.test", "--recipients-per-hour", "3")
        srv.start()
        c = srv.submission(ALICE)
        assert c.mail(ALICE)[0] == 250
        assert c.rcpt("a@remote.test")[0] == 250 and c.rcpt("b@remote.test")[0] == 250
        assert c.data(message("two", 300))[0] == 250
        assert c.mail(ALICE)[0] == 250
        assert c.rcpt("c@remote.test")[0] == 250  # the third
        r = c.rcpt("d@remote.test")
        assert r[0] == 450 and b"4.7.1" in r[1], reply(r)
        assert c.data(message("one", 300))[0] == 250
        c.quit()
        assert len(limit_logged(srv, ALICE, "recipients-per-hour")) == 1, \
            srv.log_text()[-2000:]
        # bob's count is his own; a list counts as its members
        for m in ("m0@example.test", "m1@example.test"):
            srv.add_user(m)
        srv.cli("list", "add", "pair@example.test", "--senders", "anyone")
        srv.cli("list", "member", "add", "pair@example.test", "m0@example.test")
        srv.cli("list", "member", "add", "pair@example.test", "m1@example.test")
        c = srv.submission(BOB)
        assert c.mail(BOB)[0] == 250
        assert c.rcpt("pair@example.test")[0] == 250 and c.rcpt("a@remote.test")[0] == 250
        r = c.rcpt("b@remote.test")
        assert r[0] == 450 and b"4.7.1" in r[1], reply(r)
        assert c.data(message("to the pair", 300))[0] == 250
        c.quit()
        assert len(srv.messages("m1@example.test")) == 1


if __name__ == "__main__":
    run_tests(globals())

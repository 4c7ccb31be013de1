# SPDX-License-Identifier: MIT
"""SMTP inbound and submission with smtplib, swaks, curl and raw sockets:
extensions, relay policy, AUTH, DATA termination, limits, durability."""
import json
import os
import random
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, PASSWORD, PG, Server, run_tests, tls_client_context  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"


def server(extra=None):
    srv = Server(extra, smtp=True)
    srv.add_user(ALICE)
    srv.add_user(BOB)
    return srv.start()


def body_of(stored):
    """The message as sent: without the Return-Path: and Received: header
    fields mailroom added (RFC 5321 §4.4: Return-Path first)."""
    assert stored.startswith(b"Return-Path: <"), stored[:200]
    stored = stored.split(b"\r\n", 1)[1]
    assert stored.startswith(b"Received: from "), stored[:200]
    lines = stored.split(b"\r\n")
    i = 1
    while lines[i].startswith(b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


def smtp_raw(srv, port=None):
    r = srv.raw(port=port or srv.smtp_port)
    assert r.line().startswith(b"220 ")
    return r


def reply(r):
    """A whole (possibly multi-line) SMTP reply as (code, [lines])."""
    lines = []
    while True:
        ln = r.line()
        lines.append(ln)
        if len(ln) < 4 or ln[3:4] != b"-":
            return int(ln[:3]), lines


def cmd(r, text):
    r.send(text + "\r\n")
    return reply(r)


def queue(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)


def test_ehlo_extensions():
    with server() as srv:
        c = srv.smtp()
        for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8",
                    "dsn", "starttls"):
            assert c.has_extn(ext), (ext, c.esmtp_features)
        assert c.esmtp_features["size"] == str(35 * 1024 * 1024)
        assert not c.has_extn("auth"), "AUTH on the inbound port"
        c.quit()
        c = srv.smtp(srv.submission_port)
        assert not c.has_extn("auth"), "AUTH offered before TLS"
        c.starttls(context=tls_client_context())
        c.ehlo("client.example")
        assert c.has_extn("auth") and not c.has_extn("starttls")
        assert set(c.esmtp_features["auth"].split()) == {"SCRAM-SHA-256", "PLAIN", "LOGIN"}
        c.quit()


def test_inbound_delivery_byte_exact():
    msg = (b"From: x@remote.test\r\nTo: alice@example.test\r\nSubject: exact\r\n\r\n"
           b".leading dot\r\n..two\r\n\xc3\xa9 8-bit \xff\r\nlast line\r\n")
    with server() as srv:
        c = srv.smtp()
        c.sendmail("x@remote.test", [ALICE, BOB], msg, mail_options=["BODY=8BITMIME"])
        c.quit()
        for user in (ALICE, BOB):
            got = srv.messages(user)
            assert len(got) == 1 and body_of(got[0]) == msg, got
        head = srv.messages(ALICE)[0].split(b"\r\n\r\n")[0]
        assert b"by mail.example.test (mailroom) with ESMTP id " in head, head
        # one body for both recipients
        assert srv.db_query("select count(*) from bodies") == [(1,)]
        srv.wait_log(r"smtp message qid=\S+ ip=\S+ result=250 reason=queued ms=\S+ bytes=\d+ "
                     r"count=2 from=<x@remote.test> to=<alice@example.test>,\+1 "
                     r"local=2 remote=0")


def test_unknown_recipient_and_vrfy():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        assert cmd(r, "MAIL FROM:<x@remote.test>")[0] == 250
        code, lines = cmd(r, "RCPT TO:<nobody@example.test>")
        assert code == 550 and b"5.1.1" in lines[0], lines
        assert cmd(r, "DATA")[0] == 554  # no valid recipients
        assert cmd(r, "VRFY alice")[0] == 252
        assert cmd(r, "VRFY nobody")[0] == 252
        cmd(r, "QUIT")


def test_relay_tricks_refused():
    tricks = ["<someone@remote.test>", "<someone%remote.test@example.test>",
              "<remote.test!someone@example.test>", "<\"someone@remote.test\"@example.test>",
              "<@example.test:someone@remote.test>", "<someone@[127.0.0.1]>",
              "<someone@example.test.>", "<someone@remote.test>", "<alice@example.test@remote.test>",
              "<\"alice\"@remote.test>", "<alice@EXAMPLE.test.remote.test>"]
    with server() as srv:
        for port in (srv.smtp_port, srv.submission_port):
            r = smtp_raw(srv, port)
            cmd(r, "EHLO c")
            if port == srv.submission_port:
                # without AUTH nothing goes anywhere on submission
                assert cmd(r, "MAIL FROM:<x@remote.test>")[0] == 530
                cmd(r, "QUIT")
                continue
            for t in tricks:
                assert cmd(r, "MAIL FROM:<x@remote.test>")[0] == 250
                code, lines = cmd(r, "RCPT TO:" + t)
                assert code in (550, 501, 553), (t, lines)
                cmd(r, "RSET")
            cmd(r, "QUIT")
        assert queue(srv) == []


def test_submission_auth_and_queue():
    with server() as srv:
        r = smtp_raw(srv, srv.submission_port)
        cmd(r, "EHLO c")
        code, lines = cmd(r, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQtcHctMQ==")
        assert code == 538, lines  # no AUTH before TLS
        cmd(r, "QUIT")

        c = srv.submission(ALICE)
        c.sendmail(ALICE, [BOB, "friend@remote.test", "other@remote.test"],
                   b"Subject: out\r\n\r\nhello\r\n")
        try:
            c.sendmail(BOB, ["friend@remote.test"], b"Subject: forged\r\n\r\nx\r\n")
            raise AssertionError("sender of another user accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553, e
        c.sendmail("", ["friend@remote.test"], b"Subject: receipt\r\n\r\nx\r\n")
        c.quit()
        assert len(srv.messages(BOB)) == 1  # local: delivered at once
        q = queue(srv)
        assert len(q) == 2, q
        assert q[0]["sender"] == ALICE and q[0]["recipients"] == [
            "friend@remote.test", "other@remote.test"], q
        # the same through implicit TLS, with an alias as sender
        srv.cli("alias", "add", "sales@example.test", ALICE)
        c = srv.submission(ALICE, implicit=True)
        c.sendmail("sales@example.test", ["x@remote.test"], b"Subject: alias\r\n\r\nx\r\n")
        c.quit()
        assert len(queue(srv)) == 3


def test_auth_failures():
    with server() as srv:
        for user, pw in ((ALICE, "wrong"), ("nobody@example.test", PASSWORD)):
            c = srv.submission()
            try:
                c.login(user, pw)  # smtplib tries PLAIN, then LOGIN
                raise AssertionError("bad credentials accepted")
            except smtplib.SMTPAuthenticationError as e:
                assert e.smtp_code == 535, e
            c.close()
        r = srv.raw(port=srv.submissions_port, tls=True)
        r.line()
        cmd(r, "EHLO c")
        for _ in range(3):
            code, lines = cmd(r, "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==")
        assert code == 535 and reply(r)[0] == 421 and r.closed()
        r = srv.raw(port=srv.submissions_port, tls=True)
        r.line()
        cmd(r, "EHLO c")
        assert cmd(r, "AUTH PLAIN !!!")[0] == 501
        assert cmd(r, "AUTH FOO")[0] == 504
        code, _ = cmd(r, "AUTH LOGIN")
        assert code == 334
        assert cmd(r, "*")[0] == 501
        assert cmd(r, "MAIL FROM:<alice@example.test>")[0] == 530
        r.close()


def test_submission_switch_per_account():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--submission", "no")
        c = srv.submission()
        try:
            c.login(ALICE, PASSWORD)
            raise AssertionError("login with submission switched off")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
        c.close()
        srv.wait_log(r"submission login user=alice@example.test ip=\S+ mech=\S+ result=refused "
                     r"reason=submission-disabled")
        srv.poplib_stls(ALICE).quit()  # POP3 still works, and mail still arrives
        c = srv.smtp()
        c.sendmail("x@remote.test", [ALICE], b"Subject: in\r\n\r\nx\r\n")
        c.quit()
        srv.cli("user", "set", ALICE, "--submission", "yes")
        srv.submission(ALICE).quit()


def test_starttls_injection_discarded():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        r.send("STARTTLS\r\nMAIL FROM:<evil@remote.test>\r\n")
        assert reply(r)[0] == 220
        r.starttls()
        # the pipelined MAIL was dropped: the session starts over (EHLO first)
        assert cmd(r, "RCPT TO:<alice@example.test>")[0] == 503
        cmd(r, "EHLO c")
        assert cmd(r, "MAIL FROM:<x@remote.test>")[0] == 250
        cmd(r, "QUIT")


def test_smuggling_sequences_are_content():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        assert cmd(r, "DATA")[0] == 354
        r.send(b"Subject: smuggle\r\n\r\nbefore\n.\nMAIL FROM:<evil@remote.test>\n"
               b"RCPT TO:<bob@example.test>\r\n\r.\rDATA\r\n.\nafter\r\n.\r\n")
        code, lines = reply(r)
        assert code == 250, lines
        assert cmd(r, "NOOP")[0] == 250  # nothing else was executed
        cmd(r, "QUIT")
        got = srv.messages(ALICE)
        assert len(got) == 1 and b"MAIL FROM:<evil@remote.test>" in got[0]
        assert srv.messages(BOB) == []


def test_size_limits():
    with server({"smtp.max_message_size": "2K"}) as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        assert cmd(r, "MAIL FROM:<x@remote.test> SIZE=5000")[0] == 552
        assert cmd(r, "MAIL FROM:<x@remote.test> SIZE=100")[0] == 250
        cmd(r, "RCPT TO:<alice@example.test>")
        cmd(r, "DATA")
        r.send(b"Subject: big\r\n\r\n" + b"x" * 3000 + b"\r\n.\r\n")
        code, lines = reply(r)
        assert code == 552 and b"5.3.4" in lines[0], lines
        assert cmd(r, "NOOP")[0] == 250  # still in sync
        cmd(r, "QUIT")
        assert srv.messages(ALICE) == []


def test_recipient_limit_and_rset():
    with server({"smtp.max_recipients": "3"}) as srv:
        for i in range(5):
            srv.add_user("u%d@example.test" % i)
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        codes = [cmd(r, "RCPT TO:<u%d@example.test>" % i)[0] for i in range(4)]
        assert codes == [250, 250, 250, 452], codes
        assert cmd(r, "RSET")[0] == 250
        assert cmd(r, "DATA")[0] == 503  # RSET dropped the transaction
        assert cmd(r, "RCPT TO:<u1@example.test>")[0] == 503
        cmd(r, "QUIT")


def test_chunking_bdat():
    msg = b"Subject: chunks\r\n\r\n.dot stays\r\nbare\nLF\r\n.\r\nend\r\n"
    with server() as srv:
        r = smtp_raw(srv)
        code, lines = cmd(r, "EHLO c")
        assert b"250-CHUNKING" in lines
        # a refused BDAT's octets are read and dropped, the session stays in sync
        r.send(b"BDAT 5\r\nhello")
        assert reply(r)[0] == 503
        cmd(r, "MAIL FROM:<x@remote.test>")
        r.send(b"BDAT 3 LAST\r\nabc")
        assert reply(r)[0] == 554
        assert cmd(r, "RCPT TO:<alice@example.test>")[0] == 503  # the txn went with it
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        a, b = msg[:20], msg[20:]
        r.send(b"BDAT %d\r\n" % len(a) + a + b"BDAT %d LAST\r\n" % len(b))
        assert reply(r)[0] == 250
        r.send(b[:5])
        time.sleep(0.2)
        r.send(b[5:])
        code, lines = reply(r)
        assert code == 250 and b"queued as" in lines[0], lines
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<bob@example.test>")
        r.send(b"BDAT 4\r\nx\r\ny")
        assert reply(r)[0] == 250
        assert cmd(r, "DATA")[0] == 503  # no DATA after BDAT
        r.send(b"BDAT 0 LAST\r\n")
        assert reply(r)[0] == 250
        cmd(r, "QUIT")
        assert [body_of(m) for m in srv.messages(ALICE)] == [
            msg.replace(b"bare\nLF", b"bare\r\nLF")]  # stored in wire form, dots kept
        assert body_of(srv.messages(BOB)[0]) == b"x\r\ny\r\n"


def test_pipelined_transactions():
    with server() as srv:
        r = smtp_raw(srv)
        r.send("EHLO c\r\nMAIL FROM:<x@remote.test>\r\nRCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<nobody@example.test>\r\nDATA\r\n")
        codes = [reply(r)[0] for _ in range(5)]
        assert codes == [250, 250, 250, 550, 354], codes
        r.send("Subject: one\r\n\r\n1\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<bob@example.test>\r\n"
               "DATA\r\nSubject: two\r\n\r\n2\r\n.\r\nQUIT\r\n")
        codes = [reply(r)[0] for _ in range(6)]
        assert codes == [250, 250, 250, 354, 250, 221], codes
        assert len(srv.messages(ALICE)) == 1 and len(srv.messages(BOB)) == 1


def test_postmaster_always_accepted():
    with server({"smtp.postmaster": ALICE}) as srv:
        c = srv.smtp()
        c.sendmail("x@remote.test", ["Postmaster", "postmaster@example.test"],
                   b"Subject: pm\r\n\r\nx\r\n")
        c.quit()
        assert len(srv.messages(ALICE)) == 1  # one copy for both addresses
    with server() as srv:  # not configured: the store's built-in postmaster, never 4xx
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        assert cmd(r, "RCPT TO:<Postmaster>")[0] == 250
        assert cmd(r, "RCPT TO:<POSTMASTER@example.test>")[0] == 250
        assert cmd(r, "DATA")[0] == 354
        assert cmd(r, "Subject: to the postmaster\r\n\r\nhello\r\n.")[0] == 250
        cmd(r, "QUIT")
        # no login until the admin gives it a password; then POP3 as `postmaster`
        try:
            srv.messages("postmaster", "any-password")
            raise AssertionError("postmaster logged in without a password")
        except Exception as e:  # poplib.error_proto
            assert "-ERR" in str(e), e
        srv.cli("user", "passwd", "postmaster", "--password-stdin", stdin=b"pm-secret\n")
        got = srv.messages("postmaster", "pm-secret")
        assert len(got) == 1 and b"Subject: to the postmaster" in got[0], got
    # [smtp] postmaster naming a mailbox that is gone: still 250, to the built-in one
    with server({"smtp.postmaster": "gone@example.test"}) as srv:
        c = srv.smtp()
        c.sendmail("x@remote.test", ["postmaster@example.test"], b"Subject: pm2\r\n\r\nx\r\n")
        c.quit()
        srv.wait_log(r"\[smtp\] postmaster <gone@example.test> names no mailbox here")
        srv.cli("user", "passwd", "postmaster", "--password-stdin", stdin=b"pm-secret\n")
        got = srv.messages("postmaster", "pm-secret")
        assert len(got) == 1 and b"Subject: pm2" in got[0], got


def test_mail_loop_refused():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        cmd(r, "DATA")
        hops = "".join("Received: from h%d by h%d; Mon, 1 Jan 2026 00:00:00 +0000\r\n" % (i, i)
                       for i in range(51))
        r.send(hops + "Subject: loop\r\n\r\nx\r\n.\r\n")
        code, lines = reply(r)
        assert code == 554 and b"5.4.6" in lines[0], lines
        cmd(r, "QUIT")


def test_quota_at_rcpt():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--quota", "1K")
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test> SIZE=5000")
        code, lines = cmd(r, "RCPT TO:<alice@example.test>")
        assert code == 452 and b"4.2.2" in lines[0], lines
        cmd(r, "QUIT")


def test_dsn_and_smtputf8_parameters():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        assert cmd(r, "MAIL FROM:<j\u00f6rg@remote.test>".encode().decode("latin-1"))[0] in (
            553, 501)
        r.close()
        c = srv.submission(ALICE)
        c.sendmail(ALICE, ["far@remote.test"], b"Subject: dsn\r\n\r\nx\r\n",
                   mail_options=["RET=HDRS", "ENVID=abc+2Bdef"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;far@remote.test"])
        c.sendmail(ALICE, ["j\u00f6rg@b\u00fccher.test"], "Subject: utf8\r\n\r\nx\r\n".encode(),
                   mail_options=["SMTPUTF8"])
        try:
            c.sendmail(ALICE, ["far@remote.test"], b"x\r\n", mail_options=["FOO=BAR"])
            raise AssertionError("unknown MAIL parameter accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 555, e
        c.quit()
        rcpts = [q["recipients"][0] for q in queue(srv)]
        assert rcpts == ["far@remote.test", "j\u00f6rg@b\u00fccher.test"], rcpts


def test_bad_input_and_limits():
    with server({"smtp.command_timeout": "2s", "smtp.data_timeout": "3s",
                 "smtp.max_errors": "5"}) as srv:
        r = smtp_raw(srv)
        r.send(b"EHLO " + b"x" * 3000 + b"\r\n")
        code, lines = reply(r)
        assert code == 500 and r.closed()
        r = smtp_raw(srv)
        assert cmd(r, "NO\0OP")[0] == 500
        assert cmd(r, "MAIL FROM:<x@remote.test>")[0] == 503  # EHLO first
        cmd(r, "EHLO c")
        assert cmd(r, "MAIL FROM:x@remote.test")[0] == 501
        assert cmd(r, "XYZZY")[0] == 500
        assert cmd(r, "FOO")[0] == 500
        assert reply(r)[0] == 421  # the fifth error ends the session
        assert r.closed()
        r = smtp_raw(srv)
        t0 = time.monotonic()
        code, lines = reply(r)  # say nothing: timed out
        assert code == 421 and b"4.4.2" in lines[0] and time.monotonic() - t0 < 8
        assert r.closed()
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        cmd(r, "DATA")
        r.send("Subject: stalled\r\n\r\npart")  # the message stalls mid-way
        code, lines = reply(r)
        assert code == 421 and srv.messages(ALICE) == []


def test_store_error_gives_4xx():
    with server() as srv:
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        cmd(r, "DATA")
        with srv.hold_store_lock():  # another writer holds the store
            r.sock.settimeout(30)
            r.send("Subject: busy\r\n\r\nx\r\n.\r\n")
            code, lines = reply(r)
            assert code == 451 and b"4.3.0" in lines[0], lines
        cmd(r, "QUIT")
        assert srv.messages(ALICE) == []
        assert srv.db_query("select count(*) from bodies") == [(0,)]


def test_swaks_and_curl():
    with server() as srv:
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % srv.smtp_port,
                            "--from", "x@remote.test", "--to", ALICE,
                            "--header", "Subject: swaks inbound", "--body", "hi"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout
        p = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % srv.submission_port, "-tls",
                            "--auth", "LOGIN", "--auth-user", ALICE, "--auth-password",
                            PASSWORD, "--from", ALICE, "--to", BOB,
                            "--header", "Subject: swaks submission"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout
        mail = os.path.join(srv.dir, "curl.eml")
        with open(mail, "wb") as f:
            f.write(b"From: alice@example.test\r\nSubject: curl\r\n\r\nsent by curl\r\n")
        p = subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "30",
                            "smtp://127.0.0.1:%d" % srv.submission_port,
                            "-u", "%s:%s" % (ALICE, PASSWORD), "--mail-from", ALICE,
                            "--mail-rcpt", BOB, "--upload-file", mail],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, p.stderr
        assert len(srv.messages(ALICE)) == 1
        subjects = [m.split(b"Subject: ")[1].split(b"\r\n")[0] for m in srv.messages(BOB)]
        assert sorted(subjects) == [b"curl", b"swaks submission"], subjects


def test_aliases_expand_at_rcpt():
    with server() as srv:
        srv.cli("alias", "add", "team@example.test", ALICE)
        srv.cli("alias", "add", "team@example.test", BOB)
        srv.cli("alias", "add", "team@example.test", "far@remote.test")
        srv.cli("alias", "add", "fwd@example.test", "away@remote.test")
        srv.cli("alias", "add", "mid@example.test", ALICE)  # an alias whose target went away
        srv.cli("alias", "add", "dangling@example.test", "mid@example.test")
        srv.cli("alias", "remove", "mid@example.test")
        c = srv.smtp()
        c.sendmail("x@remote.test", ["team@example.test", ALICE, "fwd@example.test"],
                   b"Subject: team\r\n\r\nx\r\n")
        try:
            c.sendmail("x@remote.test", ["dangling@example.test"], b"x\r\n")
            raise AssertionError("alias to nobody accepted")
        except smtplib.SMTPRecipientsRefused:
            pass
        c.quit()
        assert len(srv.messages(ALICE)) == 1  # once, though named twice
        assert len(srv.messages(BOB)) == 1
        assert [q["recipients"] for q in queue(srv)] == [["away@remote.test",
                                                          "far@remote.test"]]


def test_domain_alias():
    with server() as srv:
        srv.cli("domain", "add", "example.net", "--alias-of", "example.test")
        doms = {d["name"]: d for d in json.loads(srv.cli("domain", "list", "--json").stdout)}
        assert doms["example.net"]["alias_of"] == "example.test"
        assert doms["example.net"]["type"] == "authoritative"
        p = srv.cli("user", "add", "x@example.net", "--password-stdin", stdin=b"pw\n",
                    check=False)
        assert p.returncode == 65 and b"alias of example.test" in p.stderr, p.stderr
        p = srv.cli("domain", "remove", "example.test", check=False)
        assert p.returncode == 65
        c = srv.smtp()
        c.sendmail("x@remote.test", ["alice@example.net", "ALICE@example.test"],
                   b"Subject: alias domain\r\n\r\nx\r\n")
        try:
            c.sendmail("x@remote.test", ["nobody@example.net"], b"x\r\n")
            raise AssertionError("unknown user in an alias domain accepted")
        except smtplib.SMTPRecipientsRefused as e:
            assert list(e.recipients.values())[0][0] == 550
        c.quit()
        assert len(srv.messages(ALICE)) == 1  # one mailbox, one copy
        assert len(srv.messages("alice@example.net")) == 1  # logins work too


def test_msmtp_submission():
    with server() as srv:
        rc = os.path.join(srv.dir, "msmtprc")
        with open(rc, "w") as f:
            f.write("account default\nhost 127.0.0.1\nport %d\nfrom %s\nauth on\n"
                    "user %s\npassword %s\ntls on\ntls_starttls on\ntls_certcheck off\n"
                    "timeout 20\n" % (srv.submission_port, ALICE, ALICE, PASSWORD))
        os.chmod(rc, 0o600)
        msg = b"From: alice@example.test\nTo: bob@example.test\nSubject: msmtp\n\nhi\n"
        for args in (["-C", rc, BOB, "far@remote.test"],
                     ["-C", rc, "--tls-starttls=off", "--port=%d" % srv.submissions_port, BOB]):
            p = subprocess.run(["msmtp"] + args, input=msg, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            assert p.returncode == 0, p.stderr
        assert len(srv.messages(BOB)) == 2
        assert [q["recipients"] for q in queue(srv)] == [["far@remote.test"]]


def test_kill_9_loses_nothing_acknowledged():
    with server() as srv:
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def sender(k):
            n = 0
            while not stop.is_set() and n < 400:
                try:
                    c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)
                    c.ehlo("c")
                    while not stop.is_set() and n < 400:
                        subj = "k%d-%d" % (k, n)
                        c.sendmail("x@remote.test", [ALICE, BOB],
                                   ("Subject: %s\r\n\r\n%s\r\n" % (subj, "y" * 500)).encode())
                        with lock:
                            acked.append(subj)  # only after the 250
                        n += 1
                except (OSError, smtplib.SMTPException):
                    return

        threads = [threading.Thread(target=sender, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.8, 2.0))
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        srv.log.close()
        srv.proc = None
        assert len(acked) > 20, len(acked)
        srv.start()
        for user in (ALICE, BOB):
            subjects = [m.split(b"Subject: ")[1].split(b"\r\n")[0].decode()
                        for m in srv.messages(user)]
            assert len(subjects) == len(set(subjects)), "a message stored twice"
            missing = set(acked) - set(subjects)
            assert not missing, "acknowledged but lost: %s" % sorted(missing)[:5]


def queued_body(srv, qid):
    return srv.db_query("select data from bodies where id = "
                        "(select body_id from queue where qid = ?)", (qid,), blob=True)[0][0]


def header_of(stored):
    return stored.split(b"\r\n\r\n")[0]


def test_return_path_on_final_delivery():
    """RFC 5321 §4.4: final delivery puts the envelope sender first; a copy
    for elsewhere leaves without it."""
    with server() as srv:
        c = srv.smtp()
        c.sendmail("x@remote.test", [ALICE], b"Subject: one\r\n\r\nx\r\n")
        c.sendmail("", [ALICE], b"Subject: bounce\r\n\r\nx\r\n")
        c.sendmail('"odd name"@remote.test', [ALICE], b"Subject: quoted\r\n\r\nx\r\n")
        c.quit()
        got = srv.messages(ALICE)
        assert [m.split(b"\r\n")[0] for m in got] == [
            b"Return-Path: <x@remote.test>", b"Return-Path: <>",
            b'Return-Path: <"odd name"@remote.test>'], got
        assert all(m.count(b"Return-Path:") == 1 for m in got)
        # submission to a local and a remote recipient: only the mailbox copy
        c = srv.submission(ALICE)
        c.sendmail(ALICE, [BOB, "friend@remote.test"], b"Subject: both\r\n\r\nx\r\n")
        c.quit()
        assert srv.messages(BOB)[0].startswith(b"Return-Path: <alice@example.test>\r\n")
        q = queue(srv)
        assert len(q) == 1 and b"Return-Path" not in queued_body(srv, q[0]["id"]), q
        # mailroom deliver: with --sender as given; without, nothing is made up
        srv.deliver(BOB, b"Subject: cli\r\n\r\nx\r\n", "--sender", "boss@remote.test")
        srv.deliver(BOB, b"Subject: cli2\r\n\r\nx\r\n")
        got = srv.messages(BOB)
        assert got[1].startswith(b"Return-Path: <boss@remote.test>\r\nSubject: cli\r\n")
        assert got[2] == b"Subject: cli2\r\n\r\nx\r\n", got[2]


def test_submission_adds_date_and_message_id():
    """RFC 6409 §8.3: submission completes a bare message; port 25 never
    changes one."""
    with server() as srv:
        c = srv.submission(ALICE)
        c.sendmail(ALICE, [BOB], b"Subject: bare\r\n\r\nx\r\n")
        c.sendmail(ALICE, [BOB], b"Subject: own\r\nmessage-id : <mine@example.test>\r\n"
                   b"DATE: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nDate: body\r\n")
        c.sendmail(ALICE, [BOB], b"\r\nMessage-ID: <in-body@x>\r\n")  # no header at all
        c.quit()
        bare, own, empty = [header_of(m) for m in srv.messages(BOB)]
        assert b"\r\nDate: " in bare and b"\r\nMessage-ID: <" in bare, bare
        assert bare.count(b"Message-ID:") == 1 and b"@mail.example.test>" in bare, bare
        assert b"\r\nDate: " not in own and b"Message-ID: <" not in own, own
        assert own.count(b"<mine@example.test>") == 1, own
        assert b"\r\nDate: " in empty and b"\r\nMessage-ID: <" in empty, empty
        c = srv.smtp()
        c.sendmail("x@remote.test", [ALICE], b"Subject: bare\r\n\r\nx\r\n")
        c.quit()
        head = header_of(srv.messages(ALICE)[0])
        assert b"Date:" not in head and b"Message-ID:" not in head, head


def test_received_names_protocol_and_tls():
    """RFC 3848: ESMTPS over TLS, ESMTPSA logged in too; the TLS version is
    in a comment."""
    with server() as srv:
        c = srv.submission(ALICE)
        c.sendmail(ALICE, [BOB], b"Subject: sa\r\n\r\nx\r\n")
        c.quit()
        c = srv.smtp()
        c.starttls(context=tls_client_context())
        c.ehlo("client.example")
        c.sendmail("x@remote.test", [BOB], b"Subject: s\r\n\r\nx\r\n")
        c.quit()
        c = srv.smtp()
        c.sendmail("x@remote.test", [BOB], b"Subject: plain\r\n\r\nx\r\n")
        c.quit()
        c = srv.smtp(ehlo=False)
        c.helo("old.example")
        c.sendmail("x@remote.test", [BOB], b"Subject: helo\r\n\r\nx\r\n")
        c.quit()
        sa, s, plain, helo = [header_of(m) for m in srv.messages(BOB)]
        assert b" with ESMTPSA id " in sa and b"(authenticated as alice@example.test)" in sa, sa
        assert b" with ESMTPS id " in s and b"\t(TLSv1." in s, s
        assert b" with ESMTP id " in plain and b"TLSv1" not in plain, plain
        assert b" with SMTP id " in helo, helo


def report_of(stored):
    assert stored.startswith(b"Return-Path: <>\r\n"), stored[:100]
    return stored


def test_notify_success_reports_local_delivery():
    """RFC 3461 §6.2.1: NOTIFY=SUCCESS to a mailbox here gets a "delivered"
    report to the sender, never to <>, stored with the delivery."""
    with server() as srv:
        c = srv.submission(BOB)
        c.sendmail(BOB, [ALICE], b"Subject: tell me\r\nMessage-ID: <m1@example.test>\r\n"
                   b"\r\nsecret body\r\n",
                   mail_options=["ENVID=env+2B1", "RET=HDRS"],
                   rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;alice@example.test"])
        c.quit()
        assert len(srv.messages(ALICE)) == 1
        got = srv.messages(BOB)
        assert len(got) == 1, got
        rep = report_of(got[0])
        for want in (b"Subject: Successful Mail Delivery Report", b"To: <bob@example.test>",
                     b"Content-Type: multipart/report; report-type=delivery-status",
                     b"Original-Envelope-Id: env+2B1",
                     b"Original-Recipient: rfc822;alice@example.test",
                     b"Final-Recipient: rfc822; alice@example.test",
                     b"Action: delivered", b"Status: 2.0.0",
                     b"Content-Type: text/rfc822-headers", b"Message-ID: <m1@example.test>"):
            assert want in rep, (want, rep)
        assert b"secret body" not in rep  # headers only
        # inbound from elsewhere: the report is queued to the sender
        c = srv.smtp()
        c.sendmail("x@remote.test", [ALICE, BOB], b"Subject: in\r\n\r\nx\r\n",
                   rcpt_options=["NOTIFY=SUCCESS"])
        # no report for the null sender, for NOTIFY=FAILURE or without NOTIFY
        c.sendmail("", [ALICE], b"Subject: n\r\n\r\nx\r\n", rcpt_options=["NOTIFY=SUCCESS"])
        c.sendmail("y@remote.test", [ALICE], b"Subject: f\r\n\r\nx\r\n",
                   rcpt_options=["NOTIFY=FAILURE"])
        c.sendmail("y@remote.test", [ALICE], b"Subject: f\r\n\r\nx\r\n")
        c.quit()
        q = queue(srv)
        assert len(q) == 1 and q[0]["sender"] == "" and q[0]["recipients"] == [
            "x@remote.test"], q
        body = queued_body(srv, q[0]["id"])
        assert body.count(b"Action: delivered") == 2, body
        assert b"Final-Recipient: rfc822; bob@example.test" in body, body
        assert len(srv.messages(ALICE)) == 5 and len(srv.messages(BOB)) == 2


def test_permanent_store_error_gives_5xx():
    """A store failure that will not go away (here: every body insert fails
    with "blob too big") is 554 5.3.0, not a 451 that senders retry for days;
    the session goes on and nothing is half-written."""
    with server() as srv:
        if PG:  # the engine's own "too big" (program_limit_exceeded)
            srv.db_exec("CREATE FUNCTION broken() RETURNS trigger LANGUAGE plpgsql AS $$ "
                        "BEGIN RAISE EXCEPTION 'blob too big' USING ERRCODE = '54000'; END $$; "
                        "CREATE TRIGGER broken BEFORE INSERT ON bodies "
                        "FOR EACH ROW EXECUTE FUNCTION broken()")
        else:
            srv.db_exec("CREATE TRIGGER broken BEFORE INSERT ON bodies "
                        "BEGIN SELECT zeroblob(2000000000); END")
        r = smtp_raw(srv)
        cmd(r, "EHLO c")
        cmd(r, "MAIL FROM:<x@remote.test>")
        cmd(r, "RCPT TO:<alice@example.test>")
        assert cmd(r, "DATA")[0] == 354
        r.send("Subject: perm\r\n\r\nx\r\n.\r\n")
        code, lines = reply(r)
        assert code == 554 and b"5.3.0" in lines[0], lines
        assert cmd(r, "NOOP")[0] == 250
        cmd(r, "QUIT")
        assert srv.db_query("select count(*) from messages") == [(0,)]
        assert "store error op=commit status=-6" in srv.log_text()


def test_command_records_and_state_trace():
    """One record per command with its reply, AUTH arguments masked (the
    table's SECRET flag), and every state change traced from -> to."""
    import base64
    with server({"server.log_level": "debug"}) as srv:
        ir = base64.b64encode(("\0%s\0%s" % (ALICE, PASSWORD)).encode()).decode()
        c = srv.submission()
        code, _ = c.docmd("AUTH", "PLAIN " + ir)
        assert code == 235
        c.sendmail(ALICE, [BOB], b"Subject: rec\r\n\r\nx\r\n")
        assert c.docmd("MAIL", "FROM:<alice@example.test>")[0] == 250
        assert c.docmd("MAIL", "FROM:<alice@example.test>")[0] == 503  # nested
        c.quit()
        log = srv.wait_log(r"submission session user=\S+ ip=\S+ reason=quit") and \
            srv.log_text()
        assert ir not in log and PASSWORD not in log
        assert re.search(r"submission command user=alice@example.test ip=\S+ command=AUTH "
                         r"result=ok ms=\S+ reply=235 state=READY\n", log), log
        assert re.search(r"command=RCPT result=ok ms=\S+ reply=250 "
                         r"args=\"TO:<bob@example.test>\" state=RCPT\n", log), log
        assert "reply=503 args=\"FROM:<alice@example.test>\" state=MAIL" in log, log
        for trace in ("state GREETED -> READY", "state READY -> MAIL", "state MAIL -> RCPT",
                      "state RCPT -> DATA", "state DATA -> RCPT", "state RCPT -> READY"):
            assert trace in log, trace


if __name__ == "__main__":
    run_tests(globals())

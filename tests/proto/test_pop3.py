# SPDX-License-Identifier: MIT
"""POP3 behaviour with Python's poplib and raw sockets (RFC 1939, 2449, 2595,
5034, 3206, 8314): logins, listings, exact bytes, UIDL, locking, expunge."""
import base64
import hashlib
import hmac
import os
import poplib
import re
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests, tls_client_context  # noqa: E402

ALICE = "alice@example.test"

MSG_DOTS = (b"From: bob@example.test\r\nTo: alice@example.test\r\nSubject: dots\r\n\r\n"
            b".starts with a dot\r\n..two dots\r\n.\r\n. space\r\nend\r\n")
MSG_8BIT = ("From: bob@example.test\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\nCaf\u00e9 cr\u00e8me, \u65e5\u672c\u8a9e, \u00ff\u00fe\r\n").encode() + \
    bytes(range(0x80, 0x100)) + b"\r\n"


def msg(n, body_lines=3):
    body = "".join("line %d of message %d\r\n" % (i, n) for i in range(body_lines))
    return ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: m%d\r\n\r\n%s"
            % (n, body)).encode()


def server_with_mail(messages, extra=None):
    srv = Server(extra)
    srv.add_user(ALICE)
    for m in messages:
        srv.deliver(ALICE, m)
    return srv.start()


def test_greeting_and_capa():
    with server_with_mail([]) as srv:
        r = srv.raw()
        greet = r.line()
        # no APOP timestamp by default (SPEC §7: [pop3] apop = no)
        assert greet == b"+OK mail.example.test POP3 ready", greet
        assert r.cmd("CAPA") == b"+OK Capability list follows"
        caps = r.multiline()
        for c in (b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING",
                  b"STLS"):
            assert c in caps, caps
        sasl = [c for c in caps if c.startswith(b"SASL")]
        # plaintext mechanisms and USER are not offered before TLS
        assert sasl == [b"SASL SCRAM-SHA-256"], caps
        assert b"USER" not in caps
        assert r.cmd("STLS") == b"+OK Begin TLS negotiation"
        r.starttls()
        caps = [c for c in (r.cmd("CAPA"), ) + tuple(r.multiline())]
        assert b"STLS" not in caps and b"USER" in caps, caps
        assert b"SASL SCRAM-SHA-256 PLAIN LOGIN" in caps, caps
        assert r.cmd("QUIT").startswith(b"+OK")


def test_user_pass_stls_and_995():
    with server_with_mail([msg(1), msg(2)]) as srv:
        c = srv.poplib_stls(ALICE)
        assert c.stat() == (2, len(msg(1)) + len(msg(2)))
        c.quit()
        c = srv.poplib_ssl(ALICE)
        assert c.stat()[0] == 2
        c.quit()


def test_plaintext_refused_before_tls():
    with server_with_mail([]) as srv:
        r = srv.raw()
        r.line()
        assert r.cmd("USER " + ALICE).startswith(b"-ERR [AUTH]")
        assert r.cmd("PASS x").startswith(b"-ERR")
        assert r.cmd("AUTH PLAIN").startswith(b"-ERR [AUTH]")
        r.cmd("QUIT")
    with server_with_mail([msg(1)], {"pop3.plaintext_auth": "yes"}) as srv:
        c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
        c.user(ALICE)
        c.pass_(PASSWORD)
        assert c.stat()[0] == 1
        c.quit()


def test_auth_plain_and_login():
    with server_with_mail([msg(1)]) as srv:
        r = srv.raw()
        r.line()
        r.cmd("STLS")
        r.starttls()
        ir = base64.b64encode(b"\0" + ALICE.encode() + b"\0" + PASSWORD.encode()).decode()
        assert r.cmd("AUTH PLAIN " + ir).startswith(b"+OK"), "initial response"
        r.cmd("QUIT")
        r = srv.raw(tls=True)
        r.line()
        assert r.cmd("AUTH PLAIN") == b"+ "
        assert r.cmd(ir).startswith(b"+OK")
        r.cmd("QUIT")
        r = srv.raw(tls=True)
        r.line()
        assert r.cmd("AUTH LOGIN") == b"+ " + base64.b64encode(b"Username:")
        assert r.cmd(base64.b64encode(ALICE.encode()).decode()).startswith(b"+ ")
        assert r.cmd(base64.b64encode(PASSWORD.encode()).decode()).startswith(b"+OK")
        r.cmd("QUIT")
        # the client cancels
        r = srv.raw(tls=True)
        r.line()
        r.cmd("AUTH LOGIN")
        assert r.cmd("*").startswith(b"-ERR")
        assert r.cmd("NOOP").startswith(b"-ERR")  # still AUTHORIZATION
        r.cmd("QUIT")


def scram_login(r, user, password):
    """RFC 5802 client over a Raw connection; returns the final server line."""
    cnonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), cnonce)
    first = r.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(("n,," + bare).encode()).decode())
    assert first.startswith(b"+ "), first
    sfirst = base64.b64decode(first[2:]).decode()
    attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
    assert attrs["r"].startswith(cnonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                 int(attrs["i"]))
    ckey = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(ckey).digest()
    without = "c=biws,r=" + attrs["r"]
    auth_msg = ",".join((bare, sfirst, without)).encode()
    sig = hmac.new(stored, auth_msg, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    final = without + ",p=" + base64.b64encode(proof).decode()
    reply = r.cmd(base64.b64encode(final.encode()).decode())
    if reply.startswith(b"+ "):
        skey = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = "v=" + base64.b64encode(hmac.new(skey, auth_msg, hashlib.sha256).digest()).decode()
        assert base64.b64decode(reply[2:]).decode() == want, "server signature"
        reply = r.cmd("")
    return reply


def test_scram_sha_256():
    with server_with_mail([msg(1)]) as srv:
        # SCRAM is offered before TLS: no password crosses the wire
        r = srv.raw()
        r.line()
        assert scram_login(r, ALICE, PASSWORD).startswith(b"+OK"), "scram"
        assert r.cmd("STAT") == b"+OK 1 %d" % len(msg(1))
        r.cmd("QUIT")
        r = srv.raw()
        r.line()
        assert scram_login(r, ALICE, "wrong").startswith(b"-ERR [AUTH]")
        assert scram_login(r, "nobody@example.test", "x").startswith(b"-ERR [AUTH]")
        r.close()


def capa_lines(r):
    assert r.cmd("CAPA") == b"+OK Capability list follows"
    return r.multiline()


def test_apop_off_by_default():
    with server_with_mail([msg(1)]) as srv:
        srv.add_user("bob@example.test", "tanstaaf", "--apop")
        r = srv.raw()
        greet = r.line()
        assert greet == b"+OK mail.example.test POP3 ready", greet
        assert b"<" not in greet and b"@" not in greet, greet
        caps_off = capa_lines(r)
        # even an account with an APOP secret cannot use it
        digest = hashlib.md5(b"<1.2@mail.example.test>tanstaaf").hexdigest()
        assert r.cmd("APOP bob@example.test " + digest) == \
            b"-ERR APOP is not enabled on this server"
        r.close()
        # the ordinary login is unaffected
        c = srv.poplib_stls("bob@example.test", "tanstaaf")
        assert c.stat() == (0, 0)
        c.quit()
    with server_with_mail([], {"pop3.apop": "yes"}) as srv:
        r = srv.raw()
        greet = r.line()
        assert re.match(rb"^\+OK mail\.example\.test POP3 ready <[^<>@]+@mail\.example\.test>$",
                        greet), greet
        # CAPA says the same either way: RFC 2449 has no APOP capability
        assert capa_lines(r) == caps_off
        r.close()


def test_apop_only_for_opted_in():
    with server_with_mail([msg(1)], {"pop3.apop": "yes"}) as srv:
        srv.add_user("bob@example.test", "tanstaaf", "--apop")
        c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
        assert re.search(rb"<[^<>@]+@mail\.example\.test>$", c.getwelcome())
        c.apop("bob@example.test", "tanstaaf")
        assert c.stat() == (0, 0)
        c.quit()
        c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
        try:
            c.apop(ALICE, PASSWORD)  # alice has no APOP secret
            raise AssertionError("APOP accepted without opt-in")
        except poplib.error_proto as e:
            assert b"[AUTH]" in e.args[0], e
        c.close()
        c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
        try:
            c.apop("bob@example.test", "wrong")
            raise AssertionError("wrong APOP secret accepted")
        except poplib.error_proto:
            pass
        c.close()


def test_wrong_password_and_unknown_user():
    with server_with_mail([msg(1)]) as srv:
        for user, pw in ((ALICE, "wrong"), ("nobody@example.test", PASSWORD),
                         ("notanaddress", PASSWORD)):
            c = srv.poplib_stls()
            c.user(user)  # USER never says whether the user exists
            try:
                c.pass_(pw)
                raise AssertionError("login accepted")
            except poplib.error_proto as e:
                assert e.args[0] == b"-ERR [AUTH] Authentication failed", e
            c.close()
        srv.wait_log(r"login .*result=failed")


def test_too_many_failures_close_session():
    with server_with_mail([]) as srv:
        r = srv.raw(tls=True)
        r.line()
        for _ in range(3):
            r.cmd("USER " + ALICE)
            assert r.cmd("PASS wrong").startswith(b"-ERR [AUTH]")
        assert r.closed(), "session stays open after 3 failures"


def test_failure_delay_grows_per_ip():
    import time
    with server_with_mail([], {"limits.auth_fail_delay_max": "2s"}) as srv:
        times = []
        for _ in range(3):
            c = srv.poplib_stls()
            c.user(ALICE)
            t0 = time.monotonic()
            try:
                c.pass_("wrong")
            except poplib.error_proto:
                pass
            times.append(time.monotonic() - t0)
            c.close()
        # the brake waits before the check: none before the first failure,
        # then 1 s, then 2 s (test_auth_brake.py has the rest)
        assert times[0] < 0.9 and times[1] >= 0.9 and times[2] >= 1.9, times
        assert times[2] < 4, times  # capped at auth_fail_delay_max
        c = srv.poplib_stls(ALICE)  # a success clears alice's failures
        c.quit()
        c = srv.poplib_stls()
        c.user(ALICE)
        t0 = time.monotonic()
        try:
            c.pass_("wrong")
        except poplib.error_proto:
            pass
        assert time.monotonic() - t0 < 1.6
        c.close()


def test_list_uidl_top_retr_exact():
    msgs = [msg(1), MSG_DOTS, MSG_8BIT, msg(4, 50)]
    with server_with_mail(msgs) as srv:
        c = srv.poplib_stls(ALICE)
        assert c.stat() == (4, sum(len(m) for m in msgs))
        resp, listing, _ = c.list()
        assert [int(x.split()[1]) for x in listing] == [len(m) for m in msgs]
        assert c.list(2).split()[2] == str(len(MSG_DOTS)).encode()
        resp, uidls, _ = c.uidl()
        assert len(set(u.split()[1] for u in uidls)) == 4
        for i, m in enumerate(msgs, 1):
            # byte-exact: poplib un-stuffs; we rebuild the CRLF form
            resp, lines, octets = c.retr(i)
            assert b"\r\n".join(lines) + b"\r\n" == m, (i, lines)
        resp, lines, _ = c.top(4, 2)
        head, body = msg(4, 50).split(b"\r\n\r\n", 1)
        assert lines == head.split(b"\r\n") + [b""] + body.split(b"\r\n")[:2], lines
        resp, lines, _ = c.top(2, 0)
        assert lines == MSG_DOTS.split(b"\r\n\r\n")[0].split(b"\r\n") + [b""]
        c.quit()


def test_dot_stuffing_on_the_wire():
    with server_with_mail([MSG_DOTS]) as srv:
        r = srv.raw(tls=True)
        r.line()
        r.cmd("USER " + ALICE)
        r.cmd("PASS " + PASSWORD)
        assert r.cmd("RETR 1") == b"+OK %d octets" % len(MSG_DOTS)
        wire = b"\r\n".join(r.multiline()) + b"\r\n"
        assert wire == MSG_DOTS.replace(b"\r\n.", b"\r\n.."), wire
        r.cmd("QUIT")


def test_uidl_stable_across_sessions_and_restart():
    with server_with_mail([msg(1), msg(2), msg(3)]) as srv:
        c = srv.poplib_stls(ALICE)
        first = c.uidl()[1]
        c.dele(2)
        c.quit()
        srv.deliver(ALICE, msg(4))
        c = srv.poplib_stls(ALICE)
        second = c.uidl()[1]
        c.quit()
        u1 = [x.split()[1] for x in first]
        u2 = [x.split()[1] for x in second]
        assert u2[:2] == [u1[0], u1[2]] and u2[2] not in u1, (u1, u2)
        srv.stop()
        srv.start()
        c = srv.poplib_ssl(ALICE)
        assert [x.split()[1] for x in c.uidl()[1]] == u2
        c.quit()


def test_imported_uidl_kept():
    with server_with_mail([]) as srv:
        srv.deliver(ALICE, msg(1), "--uidl", "GmailId1234abcd")
        c = srv.poplib_stls(ALICE)
        assert c.uidl(1).split()[2] == b"GmailId1234abcd"
        c.quit()
        p = srv.cli("deliver", ALICE, "--uidl", "bad uidl", stdin=msg(2), check=False)
        assert p.returncode == 65, (p.returncode, p.stderr)


def test_in_use():
    with server_with_mail([msg(1)]) as srv:
        a = srv.poplib_stls(ALICE)
        b = srv.poplib_stls()
        b.user(ALICE)
        try:
            b.pass_(PASSWORD)
            raise AssertionError("second session got the mailbox")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR [IN-USE]"), e
        b.close()
        a.quit()
        b = srv.poplib_stls(ALICE)  # free again after QUIT
        b.quit()
        a = srv.poplib_stls(ALICE)
        a.sock.shutdown(socket.SHUT_RDWR)  # a dropped session frees the lock too
        a.close()
        srv.wait_log(r"pop3s? session user=alice@example.test ip=\S+ reason=(?!quit)")
        b = srv.poplib_stls(ALICE)
        b.quit()


def test_dele_rset_and_dele_quit():
    with server_with_mail([msg(1), msg(2), msg(3)]) as srv:
        c = srv.poplib_stls(ALICE)
        c.dele(1)
        assert c.stat() == (2, len(msg(2)) + len(msg(3)))
        for cmd in (lambda: c.retr(1), lambda: c.dele(1), lambda: c.list(1)):
            try:
                cmd()
                raise AssertionError("deleted message still reachable")
            except poplib.error_proto:
                pass
        assert c.list(2).split()[1] == b"2"  # numbers do not shift
        c.rset()
        assert c.stat()[0] == 3
        c.dele(2)
        c.quit()
        c = srv.poplib_stls(ALICE)
        assert c.stat() == (2, len(msg(1)) + len(msg(3)))
        assert c.retr(2)[1][2] == b"Subject: m3"
        c.quit()
        listing = srv.cli("user", "list", "--json").stdout.decode()
        assert '"messages":2' in listing, listing


def test_dropped_connection_deletes_nothing():
    with server_with_mail([msg(1), msg(2)]) as srv:
        c = srv.poplib_stls(ALICE)
        c.dele(1)
        c.dele(2)
        c.sock.shutdown(socket.SHUT_RDWR)
        c.sock.close()
        srv.wait_log(r"pop3s? session user=alice@example.test")
        r = srv.raw(tls=True)
        r.line()
        r.cmd("USER " + ALICE)
        r.cmd("PASS " + PASSWORD)
        r.cmd("DELE 1")
        r.close()  # TLS torn down without QUIT
        srv.wait_log(r"(?s)session user=alice@example.test.*session user=alice@example.test")
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 2
        c.quit()
        # a server stop in TRANSACTION deletes nothing either
        c = srv.poplib_stls(ALICE)
        c.dele(1)
        srv.stop()
        c.close()
        srv.start()
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 2
        c.quit()


def test_pop3_disabled_and_disabled_account():
    with server_with_mail([msg(1)]) as srv:
        srv.cli("user", "set", ALICE, "--pop3", "no")
        c = srv.poplib_stls()
        c.user(ALICE)
        try:
            c.pass_(PASSWORD)
            raise AssertionError("pop3-disabled account logged in")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR [SYS/PERM]"), e
        c.close()
        srv.cli("user", "set", ALICE, "--pop3", "yes", "--enabled", "no")
        c = srv.poplib_stls()
        c.user(ALICE)
        try:
            c.pass_(PASSWORD)
            raise AssertionError("disabled account logged in")
        except poplib.error_proto as e:
            assert e.args[0].startswith(b"-ERR [SYS/PERM]"), e
        c.close()
        srv.cli("user", "set", ALICE, "--enabled", "yes")
        srv.poplib_stls(ALICE).quit()


def test_password_change_while_running():
    with server_with_mail([msg(1)]) as srv:
        srv.cli("user", "passwd", ALICE, "--password-stdin", stdin=b"new-pw\n")
        c = srv.poplib_stls()
        c.user(ALICE)
        try:
            c.pass_(PASSWORD)
            raise AssertionError("old password still works")
        except poplib.error_proto:
            pass
        c.close()
        srv.poplib_stls(ALICE, "new-pw").quit()


def test_login_through_alias():
    with server_with_mail([msg(1)]) as srv:
        srv.cli("alias", "add", "al@example.test", ALICE)
        c = srv.poplib_stls("AL@Example.Test")
        assert c.stat()[0] == 1
        c.quit()


def test_large_message_and_many_messages():
    big = b"Subject: big\r\n\r\n" + b"".join(
        b"%07d " % i + b"x" * 70 + b"\r\n" for i in range(40000))  # ~3 MB
    with server_with_mail([big] + [msg(i) for i in range(200)]) as srv:
        c = srv.poplib_ssl(ALICE)
        assert c.stat()[0] == 201
        resp, lines, octets = c.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == big
        assert len(c.uidl()[1]) == 201
        c.quit()


def test_read_ahead():
    # RETRs of small messages after the first are answered from what the
    # server read ahead (pop3_cmds.c); the bytes must be those of a RETR
    # that went to the store, in any order, with DELE, RSET and TOP between
    big = b"Subject: big\r\n\r\n" + b"".join(b"%05d " % i + b"y" * 70 + b"\r\n"
                                             for i in range(300))  # > 16 KiB
    msgs = [msg(i, 1 + i * 7) for i in range(1, 6)] + [big, MSG_DOTS] + \
        [msg(i, 40) for i in range(8, 41)]
    wire = lambda m: m.replace(b"\r\n.", b"\r\n..")  # noqa: E731
    with server_with_mail(msgs) as srv:
        r = srv.raw(tls=True)
        r.line()
        r.cmd("USER " + ALICE)
        r.cmd("PASS " + PASSWORD)
        # pipelined, in order: every reply whole and byte-exact
        r.send(b"".join(b"RETR %d\r\n" % i for i in range(1, 21)))
        for i in range(1, 21):
            assert r.line() == b"+OK %d octets" % len(msgs[i - 1]), i
            assert b"\r\n".join(r.multiline()) + b"\r\n" == wire(msgs[i - 1]), i
        # 21.. were read ahead: DELE one, TOP another, then out of order
        assert r.cmd("DELE 22").startswith(b"+OK")
        assert r.cmd("RETR 22").startswith(b"-ERR")
        assert r.cmd("TOP 23 0") == b"+OK Top of message follows"
        assert b"\r\n".join(r.multiline()) + b"\r\n" == \
            msgs[22].split(b"\r\n\r\n")[0] + b"\r\n\r\n"
        for i in (24, 21, 2, 23, 25):
            assert r.cmd("RETR %d" % i) == b"+OK %d octets" % len(msgs[i - 1]), i
            assert b"\r\n".join(r.multiline()) + b"\r\n" == wire(msgs[i - 1]), i
        assert r.cmd("RSET").startswith(b"+OK")
        for i in range(22, 41):
            assert r.cmd("RETR %d" % i) == b"+OK %d octets" % len(msgs[i - 1]), i
            assert b"\r\n".join(r.multiline()) + b"\r\n" == wire(msgs[i - 1]), i
        r.cmd("QUIT")
    # a client that leaves with messages read ahead: the next session
    # finds the mailbox unlocked and whole
    with server_with_mail(msgs[:10]) as srv:
        for _ in range(3):
            r = srv.raw(tls=True)
            r.line()
            r.cmd("USER " + ALICE)
            assert r.cmd("PASS " + PASSWORD).startswith(b"+OK")
            assert r.cmd("RETR 1").startswith(b"+OK")
            r.multiline()
            r.close()
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 10
        for i in range(1, 11):
            assert b"\r\n".join(c.retr(i)[1]) + b"\r\n" == msgs[i - 1], i
        c.quit()


def test_alpn_strict():
    with server_with_mail([]) as srv:
        ctx = tls_client_context()
        ctx.set_alpn_protocols(["http/1.1"])
        s = socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=5)
        try:
            ctx.wrap_socket(s)
            raise AssertionError("TLS with ALPN http/1.1 accepted on pop3s")
        except (ssl.SSLError, ConnectionResetError):
            pass
        s.close()
        ctx = tls_client_context()
        ctx.set_alpn_protocols(["pop3"])
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.pop3s_port),
                                                     timeout=5))
        assert s.selected_alpn_protocol() == "pop3"
        s.close()


def test_tls_1_1_refused():
    with server_with_mail([]) as srv:
        ctx = tls_client_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        s = socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=5)
        try:
            ctx.wrap_socket(s)
            raise AssertionError("TLS 1.1 accepted")
        except (ssl.SSLError, ConnectionResetError):
            pass
        s.close()


if __name__ == "__main__":
    run_tests(globals())

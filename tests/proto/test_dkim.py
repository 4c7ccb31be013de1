# SPDX-License-Identifier: MIT
"""DKIM signing of outbound mail: `mailroom dkim` as an admin runs it, and
what a next hop receives checked by an independent verifier (Debian's
python3-dkim, which does ed25519-sha256 too): submitted mail, a body converted to 7
bits for a next hop without 8BITMIME, a rotation with two selectors live, a
double rsa + ed25519 signature; a forwarded copy of outside mail is not
signed, an auto-reply mailroom makes is. Sinks are aiosmtpd on
127.0.215.1, ports 21500-21599."""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

import dkim  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
SINK_HOST = "127.0.215.1"


class Sink:
    """Records what arrives; refuses recipients whose local part starts with
    'refuse' (550)."""

    def __init__(self):
        self.messages = []
        self.sizes = []  # SIZE= of each MAIL FROM

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        self.sizes += [int(o[5:]) for o in mail_options if o.upper().startswith("SIZE=")]
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@")[0].startswith("refuse"):
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Ok: stored"


class SevenBitSink(Sink):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if "8BITMIME" not in r.upper()]


def sink_port():
    for port in range(21500, 21600):
        with socket.socket() as s:
            try:
                s.bind((SINK_HOST, port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port in 21500-21599 on " + SINK_HOST)


class routed:
    """A started server whose route for * leads to a sink."""

    def __init__(self, sink=None, setup=None):
        self.sink = sink or Sink()
        self.setup = setup

    def __enter__(self):
        self.port = sink_port()
        self.ctl = Controller(self.sink, hostname=SINK_HOST, port=self.port)
        self.ctl.start()
        conf = {"delivery.enabled": "yes", "delivery.scan_interval": "1s",
                "delivery.retry_min": "1s", "delivery.retry_max": "2s",
                "delivery.connect_timeout": "3s", "delivery.command_timeout": "10s"}
        self.srv = Server(conf, smtp=True)
        self.srv.add_user(ALICE)
        self.srv.add_user(BOB)
        self.srv.cli("route", "add", "*", "%s:%d" % (SINK_HOST, self.port), "--tls", "none")
        if self.setup:
            self.setup(self.srv)
        self.srv.start()
        return self.srv, self.sink

    def __exit__(self, *exc):
        try:
            self.srv.stop()
            self.srv.cleanup()
        finally:
            self.ctl.stop()


def wait(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def keys(srv, domain=None):
    args = ["dkim", "list", "--json"] + ([domain] if domain else [])
    return json.loads(srv.cli(*args).stdout)


def dnsfunc(records):
    """records: {"sel._domainkey.dom": txt} as `dkim list --json` gives."""
    def f(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        return records.get(n.rstrip(".").lower(), "").encode()
    return f


def records_of(srv):
    return {k["name"]: k["txt"] for k in keys(srv)}


def verify_all(content, records):
    """Every DKIM-Signature of content verifies; returns their (d, s, a)."""
    d = dkim.DKIM(content)
    sigs = [m for m in re.findall(rb"(?im)^DKIM-Signature:", content)]
    out = []
    for i in range(len(sigs)):
        assert d.verify(idx=i, dnsfunc=dnsfunc(records)), (i, content[:1500])
        out.append(tuple(x.decode() for x in (d.domain, d.selector, d.signature_fields[b"a"])))
    return out


def submit(srv, msg, to="x@far.test", user=ALICE):
    s = srv.submission(user)
    s.sendmail(user, [to], msg)
    s.quit()


def message(subject, frm=ALICE, body=b"hello\r\n.dot\r\n"):
    return (b"From: Alice <%s>\r\nTo: x@far.test\r\nSubject: %s\r\n"
            b"Message-ID: <%s@example.test>\r\n\r\n" % (frm.encode(), subject.encode(),
                                                         subject.encode().replace(b" ", b"."))
            + body)


# --- the CLI -------------------------------------------------------------------


def test_cli():
    srv = Server()
    try:
        srv.cli("domain", "add", "example.test")
        p = srv.cli("dkim", "generate", "example.test")
        out = p.stdout.decode()
        sel = "mr" + time.strftime("%Y%m", time.gmtime())
        m = re.match(r'%s\._domainkey\.example\.test\. IN TXT \( "v=DKIM1; k=rsa; " '
                     r'"p=[A-Za-z0-9+/=]+" ("[A-Za-z0-9+/=]+" )*\)\n' % sel, out)
        assert m, out
        assert all(len(x) <= 255 for x in re.findall(r'"([^"]*)"', out.split("\n")[0])), out
        k = keys(srv)
        assert len(k) == 1 and k[0]["selector"] == sel and k[0]["algorithm"] == "rsa", k
        assert k[0]["bits"] == 2048 and k[0]["state"] == "active", k
        assert k[0]["txt"].startswith("v=DKIM1; k=rsa; p=MIIB"), k
        assert k[0]["name"] == "%s._domainkey.example.test" % sel
        # the record's strings joined are the TXT text
        joined = "".join(re.findall(r'"([^"]*)"', out.split("\n")[0]))
        assert joined == k[0]["txt"], (joined, k[0]["txt"])

        p = srv.cli("dkim", "generate", "example.test", "--algorithm", "ed25519")
        assert p.stdout.startswith(b'%se._domainkey.example.test. IN TXT ( "v=DKIM1; '
                                   b'k=ed25519; " "p=' % sel.encode()), p.stdout
        text = srv.cli("dkim", "list").stdout.decode()
        assert text.startswith("DOMAIN"), text
        assert re.search(r"example\.test +%se +ed25519 +256 +active " % sel, text), text
        assert re.search(r"example\.test +%s +rsa +2048 +active " % sel, text), text

        # errors: on stderr, non-zero
        for args, code, what in [
                (["generate", "example.test"], 65, b"already has an active rsa key"),
                (["generate", "nowhere.test"], 67, b"not a hosted domain"),
                (["generate", "example.test", "--algorithm", "dsa"], 64, b"unknown"),
                (["generate", "example.test", "--bits", "1024"], 64, b"2048 to 4096"),
                (["rotate", "example.test", "--algorithm", "rsa", "--selector", "bad_sel"], 64,
                 b"not a selector"),
                (["remove", "example.test", "--selector", "nope"], 67, b"no key"),
                (["rotate", "example.test"], 64, b"give --algorithm"),
                (["list", "nowhere.test"], 67, b"not a hosted domain"),
                (["frobnicate"], 64, b"unknown action")]:
            p = srv.cli("dkim", *args, check=False)
            assert p.returncode == code and what in p.stderr and p.stdout == b"", (args, p)

        p = srv.cli("dkim", "generate", "example.test", "--algorithm", "ed25519",
                    check=False)
        assert p.returncode == 65 and b"rotate" in p.stderr, p
        assert b"usage: mailroom" in srv.cli("dkim", "--help").stdout
        assert b"usage: mailroom" in srv.cli("dkim", "generate", "--help").stdout

        p = srv.cli("dkim", "rotate", "example.test", "--algorithm", "rsa", "--selector",
                    "new1")
        assert p.stdout.startswith(b'new1._domainkey.example.test. IN TXT ('), p.stdout
        assert b"%s retires" % sel.encode() in p.stdout, p.stdout
        st = {k["selector"]: k["state"] for k in keys(srv, "example.test")}
        assert st == {sel: "retiring", "new1": "active", sel + "e": "active"}, st
        p = srv.cli("dkim", "remove", "example.test", "--selector", sel)
        assert b"removed" in p.stdout
        assert sorted(k["selector"] for k in keys(srv)) == sorted(["new1", sel + "e"])
        srv.cli("dkim", "remove", "example.test")
        assert keys(srv) == []
        assert srv.cli("dkim", "list").stdout == b"no DKIM keys: mail is sent unsigned\n"
    finally:
        srv.cleanup()


# --- signing ---------------------------------------------------------------------


def gen(*args):
    return lambda srv: srv.cli("dkim", "generate", "example.test", *args)


def test_submitted_mail_is_signed():
    with routed(setup=gen("--selector", "s1")) as (srv, sink):
        submit(srv, message("signed one"))
        wait(lambda: sink.messages, what="delivery")
        content = sink.messages[0][2]
        assert content.startswith(b"DKIM-Signature: "), content[:300]
        assert sink.sizes == [len(content)], (sink.sizes, len(content))  # SIZE= counts it
        recs = records_of(srv)
        assert verify_all(content, recs) == [("example.test", "s1", "rsa-sha256")]
        srv.wait_log(r"result=sent .*dkim=example\.test/s1/rsa-sha256")
        # a changed byte breaks it (the verifier is not fooled)
        bad = content.replace(b"hello", b"hellO")
        assert not dkim.verify(bad, dnsfunc=dnsfunc(recs))
        # another domain's From: finds no key: sent unsigned
        srv.add_user("carol@other.test")
        submit(srv, message("other", frm="carol@other.test"), user="carol@other.test")
        wait(lambda: len(sink.messages) == 2, what="second delivery")
        assert b"DKIM-Signature" not in sink.messages[1][2]


def test_eight_bit_converted_then_signed():
    with routed(sink=SevenBitSink(), setup=gen("--selector", "s7")) as (srv, sink):
        body = "gr\u00fc\u00df Gott = 1 \r\n.line\r\n".encode()
        msg = (b"From: alice@example.test\r\nTo: x@far.test\r\nSubject: latin\r\n"
               b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
               b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body)
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["x@far.test"], msg, mail_options=["BODY=8BITMIME"])
        s.quit()
        wait(lambda: sink.messages, what="converted message")
        content = sink.messages[0][2]
        assert all(b < 0x80 for b in content), content
        assert b"quoted-printable" in content
        assert verify_all(content, records_of(srv)) == [("example.test", "s7", "rsa-sha256")]
        srv.wait_log(r"mime=downgraded .*dkim=example\.test/s7/rsa-sha256")


def test_rotation_two_selectors_live():
    with routed(setup=gen("--selector", "old")) as (srv, sink):
        submit(srv, message("before"))
        wait(lambda: sink.messages, what="first")
        recs_before = records_of(srv)
        srv.cli("dkim", "rotate", "example.test", "--selector", "new")
        submit(srv, message("after"))
        wait(lambda: len(sink.messages) == 2, what="second")
        recs = records_of(srv)  # both published: the retiring one too
        assert set(recs) == {"old._domainkey.example.test", "new._domainkey.example.test"}
        assert verify_all(sink.messages[0][2], recs) == [("example.test", "old", "rsa-sha256")]
        assert verify_all(sink.messages[1][2], recs) == [("example.test", "new", "rsa-sha256")]
        # each with its own record only
        assert verify_all(sink.messages[0][2], recs_before)
        only_new = {"new._domainkey.example.test": recs["new._domainkey.example.test"]}
        assert not dkim.verify(sink.messages[0][2], dnsfunc=dnsfunc(only_new))
        # removed: the next message goes unsigned
        srv.cli("dkim", "remove", "example.test")
        submit(srv, message("none"))
        wait(lambda: len(sink.messages) == 3, what="third")
        assert b"DKIM-Signature" not in sink.messages[2][2]


def test_rsa_and_ed25519_both_sign():
    def setup(srv):
        srv.cli("dkim", "generate", "example.test", "--selector", "r")
        srv.cli("dkim", "generate", "example.test", "--algorithm", "ed25519", "--selector",
                "e")
    with routed(setup=setup) as (srv, sink):
        submit(srv, message("twice"))
        wait(lambda: sink.messages, what="delivery")
        got = verify_all(sink.messages[0][2], records_of(srv))
        assert sorted(got) == [("example.test", "e", "ed25519-sha256"),
                               ("example.test", "r", "rsa-sha256")], got


def test_outside_mail_forwarded_is_not_signed():
    def setup(srv):
        gen("--selector", "f")(srv)
        srv.cli("user", "set", BOB, "--forward", "x@far.test", "--keep-copy", "no")
    with routed(setup=setup) as (srv, sink):
        # port 25, no login, a From: of our domain: the forwarded copy is unsigned
        c = srv.smtp()
        c.sendmail("someone@outside.test", [BOB], message("spoofed"))
        c.quit()
        wait(lambda: sink.messages, what="forwarded copy")
        assert b"Subject: spoofed" in sink.messages[0][2]
        assert b"DKIM-Signature" not in sink.messages[0][2]
        # the same forwarded for a submission with a login: signed
        submit(srv, message("from alice"), to=BOB)
        wait(lambda: len(sink.messages) == 2, what="second forwarded copy")
        content = sink.messages[1][2]
        assert b"Subject: from alice" in content
        assert verify_all(content, records_of(srv)) == [("example.test", "f", "rsa-sha256")]


def test_port25_relayed_is_not_signed_its_report_is():
    def setup(srv):
        gen("--selector", "r")(srv)
        srv.cli("domain", "add", "relay.test", "--type", "internal-relay")
        # the reports' From: is MAILER-DAEMON@ the hostname: a hosted domain here
        srv.cli("domain", "add", "mail.example.test")
        srv.cli("dkim", "generate", "mail.example.test", "--selector", "dsn")
    with routed(setup=setup) as (srv, sink):
        c = srv.smtp()
        c.sendmail("someone@outside.test", ["x@relay.test"], message("relayed"))
        c.sendmail("someone@outside.test", ["refuse@relay.test"], message("refused"))
        c.quit()
        wait(lambda: len(sink.messages) == 2, what="relayed copy and report")
        relayed = [m for m in sink.messages if m[1] == ["x@relay.test"]]
        assert relayed and b"Subject: relayed" in relayed[0][2], sink.messages
        assert b"DKIM-Signature" not in relayed[0][2]
        report = [m for m in sink.messages if m[1] == ["someone@outside.test"]]
        assert report and report[0][0] in ("", "<>"), sink.messages
        content = report[0][2]
        assert b"multipart/report" in content, content[:500]
        got = verify_all(content, records_of(srv))
        assert got == [("mail.example.test", "dsn", "rsa-sha256")], got


def test_list_copies_keep_the_origin():
    def setup(srv):
        gen("--selector", "l")(srv)
        srv.cli("list", "add", "staff@example.test")
        srv.cli("list", "member", "add", "staff@example.test", "x@far.test")
    with routed(setup=setup) as (srv, sink):
        c = srv.smtp()
        c.sendmail("someone@outside.test", ["staff@example.test"], message("from outside"))
        c.quit()
        wait(lambda: sink.messages, what="list copy of outside mail")
        assert b"Subject: from outside" in sink.messages[0][2]
        assert b"DKIM-Signature" not in sink.messages[0][2]
        submit(srv, message("from alice"), to="staff@example.test")
        wait(lambda: len(sink.messages) == 2, what="list copy of alice's mail")
        content = sink.messages[1][2]
        assert b"Subject: from alice" in content and b"List-Id: " in content
        assert verify_all(content, records_of(srv)) == [("example.test", "l", "rsa-sha256")]


def test_auto_reply_is_signed():
    def setup(srv):
        gen("--selector", "v")(srv)
        path = os.path.join(srv.dir, "away.txt")
        with open(path, "w") as f:
            f.write("I am away.\n")
        srv.cli("vacation", "set", BOB, "--subject", "Away", "--body-file", path)
    with routed(setup=setup) as (srv, sink):
        c = srv.smtp()
        c.sendmail("someone@outside.test", [BOB],
                   b"From: someone@outside.test\r\nTo: bob@example.test\r\n"
                   b"Subject: hi\r\nMessage-ID: <q1@outside.test>\r\n\r\nhi\r\n")
        c.quit()
        wait(lambda: sink.messages, what="auto-reply")
        frm, tos, content = sink.messages[0]
        assert tos == ["someone@outside.test"] and b"Subject: Away" in content, content
        assert verify_all(content, records_of(srv)) == [("example.test", "v", "rsa-sha256")]


def test_deliver_cli_is_signed():
    def setup(srv):
        gen("--selector", "d")(srv)
        srv.cli("user", "set", BOB, "--forward", "x@far.test", "--keep-copy", "no")
    with routed(setup=setup) as (srv, sink):
        # the admin's injection, forwarded on: originates here
        srv.deliver(BOB, message("injected"), "--sender", ALICE)
        wait(lambda: sink.messages, what="delivery")
        got = verify_all(sink.messages[0][2], records_of(srv))
        assert got == [("example.test", "d", "rsa-sha256")], got


if __name__ == "__main__":
    run_tests(globals())

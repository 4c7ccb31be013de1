# SPDX-License-Identifier: MIT
"""test_forward.py - forwarded mail with real clients (smtplib in, poplib out).

A mailbox that forwards elsewhere: the copy waits in the queue (delivery
off) with an SRS0 envelope sender of the mailbox's domain and
`Delivered-To:` first (`mailroom queue list --json`, `queue show`), with or
without a copy in the mailbox. A local forward, and a chain A->B->A that
loses nothing and stops. A copy that already carries `Delivered-To:` of the
mailbox is kept, not sent round again, and so is mail for a local target
that is gone. The null sender is not rewritten.
Bounces to SRS addresses: a valid SRS0 is accepted and queued to the
original sender (or delivered, when that is a mailbox here), a valid SRS1
goes to the first hop's SRS0; forged, foreign, expired and malformed ones
are refused `550 5.7.1`. The addresses the tests make or check are made and
checked by tests/tools/srs_probe with the server's own DATA_DIR/srs.key.

The round trip: two mailroom servers on loopback. Server 2 hosts b.test
(authoritative, no nobody@b.test) and c.test (carol); server 1 hosts a.test,
where alice forwards to nobody@b.test. Routes send b.test and c.test from
server 1 to server 2, and a.test from server 2 to server 1. carol submits to
alice at server 2; server 1 forwards to server 2, which refuses nobody@b.test;
server 1's queue makes the failure report for the SRS sender, reverses it and
sends it on to carol@c.test at server 2, where carol reads it over POP3.

Skipped (77) while the tree has no delivery path (src/delivery/delivery.c).
"""
import email
import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SRC, Server, run_tests  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "srs_probe")
ALICE, BOB, DAVE = "alice@a.test", "bob@a.test", "dave@c.test"
OUTSIDE = "carol@sender.example"
DAY = 86400
SRS0_RE = r"^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=%s=%s@%s$"


def server(extra=None, hostname=None):
    conf = dict(extra or {})
    if hostname:
        conf["server.hostname"] = hostname
    srv = Server(conf, smtp=True)
    for u in (ALICE, BOB, DAVE):
        srv.add_user(u)
    return srv


def queue(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)


def queued_body(srv, qid):
    """The stored message of `queue show`, after its envelope lines."""
    out = srv.cli("queue", "show", qid).stdout
    head, sep, body = out.partition(b"\n\n")
    assert sep and qid.encode() in head, out[:300]
    return body


def wait(pred, timeout=30, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def send(srv, sender, rcpts, body=None, port=None):
    """One message over SMTP (port 25 unless told); the RCPT answers."""
    c = srv.smtp(port=port)
    assert c.mail(sender)[0] == 250
    answers = [c.rcpt(r) for r in rcpts]
    if any(code == 250 for code, _ in answers):
        msg = body or ("From: <%s>\r\nTo: <%s>\r\nSubject: fwd test\r\n"
                       "Message-ID: <%d@sender.example>\r\n\r\nhello\r\n"
                       % (sender or "mailer-daemon@sender.example", rcpts[0],
                          time.monotonic_ns()))
        code, text = c.data(msg.encode() if isinstance(msg, str) else msg)
        assert code == 250, (code, text)
    c.quit()
    return answers


class Key:
    """srs_probe with the server's own secret."""

    def __init__(self, srv):
        path = os.path.join(srv.dir, "data", "srs.key")
        with open(path, "rb") as f:
            key = f.read()
        assert len(key) == 32, len(key)
        self.proc = subprocess.Popen([PROBE, key.hex()], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def ask(self, *fields):
        self.proc.stdin.write("\t".join(str(f) for f in fields) + "\n")
        self.proc.stdin.flush()
        code, _, text = self.proc.stdout.readline().rstrip("\n").partition("\t")
        return int(code), text

    def forward(self, sender, domain, now=None):
        code, text = self.ask("forward", sender, domain, int(now or time.time()))
        assert code == 0, (sender, code)
        return text

    def reverse(self, address, now=None):
        return self.ask("reverse", address, int(now or time.time()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def srs0_of(sender, domain):
    local, _, host = sender.rpartition("@")
    return SRS0_RE % (re.escape(host), re.escape(local), re.escape(domain))


def test_secret_file():
    with server() as srv:
        srv.start()
        path = os.path.join(srv.dir, "data", "srs.key")
        st = os.stat(path)
        assert stat.S_ISREG(st.st_mode) and st.st_size == 32
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        data = os.stat(os.path.join(srv.dir, "data"))
        assert st.st_uid == data.st_uid  # the server's user, as the store
        with open(path, "rb") as f:
            first = f.read()
        srv.stop()
        srv.start()
        with open(path, "rb") as f:
            assert f.read() == first, "the secret changed on restart"
        srv.stop()
        # a secret of the wrong size stops the server, naming the file
        with open(path, "ab") as f:
            f.write(b"x")
        p = subprocess.run([os.environ.get("MAILROOM_BIN", "build/mailroom"), "-c", srv.conf,
                            "serve"], capture_output=True, timeout=30)
        assert p.returncode != 0 and b"srs.key" in p.stderr + p.stdout, p


def test_outside_forward_keeps_a_copy():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", "x@far.test")
        srv.start()
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        q = wait(lambda: queue(srv), what="the forwarded copy")
        assert len(q) == 1, q
        assert re.match(srs0_of(OUTSIDE, "a.test"), q[0]["sender"]), q[0]["sender"]
        assert q[0]["recipients"] == ["x@far.test"], q
        body = queued_body(srv, q[0]["id"])
        assert re.match(rb"Delivered-To: <?alice@a\.test>?\r\n", body), body[:200]
        assert b"Subject: fwd test\r\n" in body and b"\r\nhello\r\n" in body
        # the copy kept in the mailbox, with the original sender
        msgs = srv.messages(ALICE)
        assert len(msgs) == 1 and msgs[0].startswith(b"Return-Path: <%s>\r\n" % OUTSIDE.encode())
        assert b"Subject: fwd test" in msgs[0]
        # our SRS address reverses, with the server's secret, to the sender
        with Key(srv) as key:
            assert key.reverse(q[0]["sender"]) == (1, OUTSIDE)


def test_outside_forward_without_copy():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", "x@far.test,y@other.test",
                "--keep-copy", "no")
        srv.start()
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        q = wait(lambda: queue(srv), what="the forwarded copy")
        rcpts = sorted(r for e in q for r in e["recipients"])
        assert rcpts == ["x@far.test", "y@other.test"], q
        for e in q:
            assert re.match(srs0_of(OUTSIDE, "a.test"), e["sender"]), e
            assert re.match(rb"Delivered-To: <?alice@a\.test>?\r\n", queued_body(srv, e["id"]))
        assert srv.messages(ALICE) == []
        # a sender of the mailbox's own domain is not rewritten
        c = srv.submission(BOB)
        c.sendmail(BOB, [ALICE], b"From: <bob@a.test>\r\nSubject: local\r\n\r\nhi\r\n")
        c.quit()
        q = wait(lambda: [e for e in queue(srv) if e["sender"] == BOB], what="bob's copy")
        assert q and all(e["sender"] == BOB for e in q)


def test_forwarded_from_mailroom_deliver():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", "x@far.test", "--keep-copy", "no")
        srv.deliver(ALICE, "Subject: by deliver\r\n\r\nx\r\n", "--sender", OUTSIDE)
        q = queue(srv)
        assert len(q) == 1 and q[0]["recipients"] == ["x@far.test"], q
        assert re.match(srs0_of(OUTSIDE, "a.test"), q[0]["sender"]), q
        assert re.match(rb"Delivered-To: <?alice@a\.test>?\r\n", queued_body(srv, q[0]["id"]))
        # the secret deliver made is the one serve reads
        with Key(srv) as key:
            assert key.reverse(q[0]["sender"]) == (1, OUTSIDE)
        srv.start()
        assert send(srv, "", [q[0]["sender"]])[0][0] == 250


def test_null_sender_is_not_rewritten():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", "x@far.test", "--keep-copy", "no")
        srv.start()
        report = ("From: MAILER-DAEMON@sender.example\r\nTo: <%s>\r\n"
                  "Subject: Undelivered Mail\r\nAuto-Submitted: auto-replied\r\n\r\n"
                  "a bounce\r\n" % ALICE)
        assert [c for c, _ in send(srv, "", [ALICE], body=report)] == [250]
        q = wait(lambda: queue(srv), what="the forwarded bounce")
        assert len(q) == 1 and q[0]["sender"] in ("", "<>"), q
        assert q[0]["recipients"] == ["x@far.test"]


def test_local_forward():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", BOB, "--keep-copy", "no")
        srv.start()
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        wait(lambda: srv.messages(BOB), what="bob's copy")
        msgs = srv.messages(BOB)
        assert len(msgs) == 1 and b"Subject: fwd test" in msgs[0]
        # delivered here: the original sender, no queue, no SRS
        assert msgs[0].startswith(b"Return-Path: <%s>\r\n" % OUTSIDE.encode()), msgs[0][:200]
        assert srv.messages(ALICE) == []
        assert queue(srv) == []
        # bob's own forwarding applies in turn (with his copy)
        srv.cli("user", "set", BOB, "--forward", "far@far.test")
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        q = wait(lambda: queue(srv), what="bob's forward")
        assert len(q) == 1 and q[0]["recipients"] == ["far@far.test"], q
        assert re.match(srs0_of(OUTSIDE, "a.test"), q[0]["sender"]), q
        assert len(srv.messages(BOB)) == 2 and srv.messages(ALICE) == []


def test_chain_back_to_itself_loses_nothing():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", BOB, "--keep-copy", "no")
        srv.cli("user", "set", BOB, "--forward", ALICE, "--keep-copy", "no")
        srv.start()
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        wait(lambda: srv.messages(ALICE) or srv.messages(BOB), what="the message")
        time.sleep(1)
        a, b = srv.messages(ALICE), srv.messages(BOB)
        # one copy in all, where the chain closes (alice, whom it reached again)
        assert len(a) + len(b) == 1, (len(a), len(b))
        assert len(a) == 1, "the chain should end at alice"
        assert queue(srv) == []
        # to both at once: one copy each at most, at least one, nothing queued
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE, BOB])] == [250, 250]
        wait(lambda: len(srv.messages(ALICE)) + len(srv.messages(BOB)) > 1, what="it")
        time.sleep(1)
        na, nb = len(srv.messages(ALICE)) - 1, len(srv.messages(BOB))
        assert na in (0, 1) and nb in (0, 1), (na, nb)
        assert queue(srv) == []


def test_vanished_local_target_keeps_the_mail():
    with server() as srv:
        srv.add_user("zed@a.test")
        srv.cli("user", "set", ALICE, "--forward", "zed@a.test,x@far.test", "--keep-copy", "no")
        srv.cli("user", "remove", "zed@a.test")
        srv.start()
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE])] == [250]
        # the outside target still gets its copy; zed's stays with alice
        q = wait(lambda: queue(srv), what="the forwarded copy")
        assert [e["recipients"] for e in q] == [["x@far.test"]], q
        assert len(srv.messages(ALICE)) == 1
        srv.wait_log(r"<alice@a\.test> forwards to <zed@a\.test>, which takes no mail")


def test_delivered_to_already_there_is_kept():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--forward", "x@far.test", "--keep-copy", "no")
        srv.start()
        looped = ("Delivered-To: <alice@a.test>\r\nReceived: from elsewhere\r\n"
                  "From: <%s>\r\nTo: <%s>\r\nSubject: came back\r\n\r\nround\r\n"
                  % (OUTSIDE, ALICE))
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE], body=looped)] == [250]
        wait(lambda: srv.messages(ALICE), what="the looped message kept")
        assert b"Subject: came back" in srv.messages(ALICE)[0]
        assert queue(srv) == []
        # another mailbox's Delivered-To does not stop it
        other = looped.replace("Delivered-To: <alice@a.test>", "Delivered-To: <zed@a.test>")
        assert [c for c, _ in send(srv, OUTSIDE, [ALICE], body=other)] == [250]
        wait(lambda: queue(srv), what="the forwarded copy")


def test_bounce_to_srs_addresses():
    with server() as srv, Key(srv.start()) as key:
        # a valid SRS0: accepted, queued to the original sender, whatever the case
        srs0 = key.forward(OUTSIDE, "a.test")
        assert send(srv, "", [srs0])[0][0] == 250
        q = wait(lambda: queue(srv), what="the bounce queued")
        assert len(q) == 1 and q[0]["recipients"] == [OUTSIDE], q
        assert q[0]["sender"] in ("", "<>"), q
        local, _, dom = srs0.rpartition("@")
        assert send(srv, "", [local.lower() + "@" + dom])[0][0] == 250
        # a valid SRS1: to the SRS0 address of the first hop
        hop0 = "SRS0=AbCd=G3=orig.example=user@hop.example"
        srs1 = key.forward(hop0, "a.test")
        assert srs1.startswith("SRS1=") and key.reverse(srs1) == (1, hop0)
        n = len(queue(srv))
        assert send(srv, "", [srs1])[0][0] == 250
        q = wait(lambda: len(queue(srv)) > n and queue(srv), what="the SRS1 bounce")
        assert [hop0] in [e["recipients"] for e in q], q


def test_bounce_to_srs_of_a_local_sender():
    # dave@c.test (hosted here) wrote to alice, whose forward went elsewhere
    # with dave's SRS0 address; the bounce for it is dave's: delivered into
    # his mailbox, not queued for c.test's MX hosts (which are this server)
    with server() as srv, Key(srv.start()) as key:
        mine = key.forward(DAVE, "a.test")
        assert send(srv, "", [mine])[0][0] == 250
        wait(lambda: srv.messages(DAVE) or queue(srv), what="dave's bounce")
        assert queue(srv) == [], queue(srv)
        assert len(srv.messages(DAVE)) == 1


def test_forged_and_expired_srs_refused():
    with server() as srv, Key(srv.start()) as key:
        good = key.forward(OUTSIDE, "a.test")
        h = good[5:9]
        forged = good[:5] + ("A" if h[0].upper() != "A" else "B") + good[6:]
        other = good.replace("=sender.example=", "=evil.example=")
        expired = key.forward(OUTSIDE, "a.test", time.time() - 30 * DAY)
        assert key.reverse(expired)[0] == -1 and key.reverse(good)[0] == 1
        # made the same way with another secret
        other_key = subprocess.run([PROBE, "ab" * 32], capture_output=True, text=True,
                                   input="forward\t%s\ta.test\t%d\n"
                                   % (OUTSIDE, time.time()), timeout=10)
        foreign = other_key.stdout.split("\t")[1].strip()
        assert foreign.startswith("SRS0=") and foreign != good
        srs1 = key.forward("SRS0=AbCd=G3=orig.example=user@hop.example", "a.test")
        bad_srs1 = srs1[:5] + ("A" if srs1[5].upper() != "A" else "B") + srs1[6:]
        refused = [forged, other, expired, foreign, bad_srs1, "SRS0=abcd@a.test",
                   "SRS0=ab=G3=x.example=u@a.test", "SRS1=abcd=hop.example@a.test"]
        for addr in refused:
            for sender in ("", OUTSIDE):
                (code, text), = send(srv, sender, [addr])
                assert code == 550 and text.startswith(b"5.7.1"), (addr, code, text)
        assert queue(srv) == []


def test_round_trip_through_a_second_server():
    s1 = server({"delivery.enabled": "yes", "delivery.scan_interval": "1s",
                 "delivery.retry_min": "1s", "delivery.retry_max": "2s",
                 "delivery.connect_timeout": "3s"})
    s2 = Server({"delivery.enabled": "yes", "delivery.scan_interval": "1s",
                 "delivery.retry_min": "1s", "delivery.retry_max": "2s",
                 "delivery.connect_timeout": "3s", "server.hostname": "mx2.example.test"},
                smtp=True)
    try:
        # server 1 keeps a.test alone: b.test and c.test are server 2's
        s1.cli("user", "remove", DAVE)
        s1.cli("domain", "remove", "c.test")
        s2.cli("domain", "add", "b.test")
        s2.add_user("carol@c.test")
        s1.cli("user", "set", ALICE, "--forward", "nobody@b.test", "--keep-copy", "no")
        for space in ("b.test", "c.test"):
            s1.cli("route", "add", space, "127.0.0.1:%d" % s2.smtp_port, "--tls", "none")
        s2.cli("route", "add", "a.test", "127.0.0.1:%d" % s1.smtp_port, "--tls", "none")
        s1.start()
        s2.start()
        c = s2.submission("carol@c.test")
        c.sendmail("carol@c.test", [ALICE],
                   b"From: <carol@c.test>\r\nTo: <alice@a.test>\r\nSubject: round trip\r\n"
                   b"\r\nthere and back\r\n")
        c.quit()
        # server 2 refuses the forwarded copy; the report comes back to carol
        s1.wait_log(r"result=bounced ms=\S+ to=<nobody@b\.test> relay=127\.0\.0\.1", timeout=60)
        rep = wait(lambda: [m for m in s2.messages("carol@c.test")
                            if b"multipart/report" in m], timeout=60, what="carol's report")
        m = email.message_from_bytes(rep[0])
        assert m.get_content_type() == "multipart/report", m.get_content_type()
        text = rep[0].decode(errors="replace")
        assert "nobody@b.test" in text and "5.1.1" in text, text[:3000]
        assert "Subject: round trip" in text
        # the forwarded copy left server 1 with carol's SRS address
        # server 1 forwarded with carol's SRS address, reported to it, and
        # reversed that to carol at server 2
        log = s1.log_text()
        fwd = re.search(r"forward qid=\S+ to=<nobody@b\.test> from=<(SRS0=[^>]+)>", log)
        assert fwd and re.match(srs0_of("carol@c.test", "a.test"), fwd.group(1)), log[-3000:]
        assert re.search(r"queue delivery qid=\S+ result=report ms=\S+ count=1 report=\S+ "
                         r"to=\"<%s>\"" % re.escape(fwd.group(1)), log), log[-3000:]
        assert re.search(r"queue delivery qid=\S+ result=sent ms=\S+ to=<carol@c\.test> "
                         r"relay=127\.0\.0\.1\S* starttls=no status=2\.0\.0 ", log), log[-3000:]
        assert s1.messages(ALICE) == []
        wait(lambda: queue(s1) == [] and queue(s2) == [], timeout=30, what="queues empty")
        s2.stop()
        s1.stop()
    finally:
        s2.cleanup()
        s1.cleanup()


if __name__ == "__main__":
    if not os.path.exists(os.path.join(SRC, "src", "delivery", "delivery.c")):
        print("skip: forwarding and SRS bounces need the delivery path "
              "(src/delivery/delivery.c), which is not in this tree")
        sys.exit(77)
    if not os.access(PROBE, os.X_OK):
        print("skip: %s was not built" % PROBE)
        sys.exit(77)
    run_tests(globals())

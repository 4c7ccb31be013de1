# SPDX-License-Identifier: MIT
"""Structured logs ([server] log_format = text|json) with log_level = debug:
every way to log in (POP3 USER/PASS, APOP, AUTH PLAIN with an initial
response and after a continuation, AUTH LOGIN, SCRAM-SHA-256, submission AUTH
PLAIN/LOGIN), right and wrong passwords, `user add --password-stdin` and
`user passwd`; no password, base64 form of one, APOP digest or SASL response
appears anywhere in the server's or the CLI's stderr. In the json form every
line is one JSON object; records carry sid/ip/user/result, the records of a
session share its sid, and a message's record carries the queue id that
`queue list` shows."""
import base64
import hashlib
import json
import os
import poplib
import re
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402
from test_pop3 import scram_login  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
FIRST_PW = "Fir5t-Pw-k7q"
PW = "S3cond-Pw-zx9"
WRONG = "Wr0ng-Pw-m4j"
BOB_PW = "B0b-Apop-Pw-r2"


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class Recorder:
    """Every line a Raw client sends, so the test can look for them in the log."""

    def __init__(self, raw, sent):
        self.raw, self.sent = raw, sent

    def cmd(self, text):
        self.sent.append(text)
        return self.raw.cmd(text)

    def line(self):
        return self.raw.line()

    def close(self):
        self.raw.close()


def secrets_of(sent_sasl, digests):
    out = {FIRST_PW, PW, WRONG, BOB_PW}
    for pw in (FIRST_PW, PW, WRONG, BOB_PW):
        out.add(b64(pw))
        for user in (ALICE, BOB):
            out.add(b64("\0%s\0%s" % (user, pw)))
            out.add(b64("%s\0%s\0%s" % (user, user, pw)))
    for line in sent_sasl:
        # the SASL responses themselves, and what they carry, decoded
        words = line.split(" ")
        resp = words[2] if len(words) > 2 and words[0] == "AUTH" else line
        if words[0] == "AUTH" and len(words) == 2:
            continue  # "AUTH PLAIN": no response in it
        if resp and resp != "*":
            out.add(resp)
    out.update(digests)
    return {s for s in out if len(s) >= 8}


def run(fmt):
    sent, digests, cli_err = [], [], []
    srv = Server({"server.log_level": "debug", "server.log_format": fmt,
                  "pop3.apop": "yes"}, smtp=True)
    with srv:
        srv.cli("domain", "add", "example.test")
        p = srv.cli("user", "add", ALICE, "--password-stdin", stdin=(FIRST_PW + "\n").encode())
        cli_err.append(p.stderr)
        p = srv.cli("user", "passwd", ALICE, "--password-stdin", stdin=(PW + "\n").encode())
        cli_err.append(p.stderr)
        p = srv.cli("user", "add", BOB, "--password-stdin", "--apop",
                    stdin=(BOB_PW + "\n").encode())
        cli_err.append(p.stderr)
        srv.deliver(ALICE, b"Subject: one\r\n\r\nbody\r\n")
        srv.start()

        # USER/PASS, wrong then right, over STLS
        c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
        from harness import tls_client_context
        c.stls(tls_client_context())
        c.user(ALICE)
        try:
            c.pass_(WRONG)
            raise AssertionError("a wrong password logged in")
        except poplib.error_proto:
            pass
        c.user(ALICE)
        c.pass_(PW)
        c.retr(1)
        c.quit()

        # APOP, wrong then right
        r = Recorder(srv.raw(), sent)
        greet = r.line()
        stamp = re.search(rb"<[^>]+>", greet).group(0)
        bad = hashlib.md5(stamp + WRONG.encode()).hexdigest()
        good = hashlib.md5(stamp + BOB_PW.encode()).hexdigest()
        digests += [bad, good]
        assert r.cmd("APOP %s %s" % (BOB, bad)).startswith(b"-ERR [AUTH]")
        assert r.cmd("APOP %s %s" % (BOB, good)).startswith(b"+OK")
        r.cmd("QUIT")

        # AUTH PLAIN: initial response, then continuation; AUTH LOGIN; wrong ones
        r = Recorder(srv.raw(tls=True), sent)
        r.line()
        assert r.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, WRONG))).startswith(b"-ERR")
        assert r.cmd("AUTH PLAIN") == b"+ "
        assert r.cmd(b64("\0%s\0%s" % (ALICE, PW))).startswith(b"+OK")
        r.cmd("QUIT")
        r = Recorder(srv.raw(tls=True), sent)
        r.line()
        assert r.cmd("AUTH LOGIN").startswith(b"+ ")
        assert r.cmd(b64(ALICE)).startswith(b"+ ")
        assert r.cmd(b64(WRONG)).startswith(b"-ERR")
        assert r.cmd("AUTH LOGIN").startswith(b"+ ")
        assert r.cmd(b64(ALICE)).startswith(b"+ ")
        assert r.cmd(b64(PW)).startswith(b"+OK")
        r.cmd("QUIT")

        # a name that is not UTF-8, with a quote and a backslash: still one
        # valid line (json: escaped, U+FFFD), still one record
        r = srv.raw(tls=True)
        r.line()
        r.send(b'USER \xff\xfe"q\\x\xc3\xa9\r\n')
        reply = r.line()
        assert reply.startswith(b"+OK"), reply
        r.send(b"QUIT\r\n")
        r.line()
        r.close()

        # SCRAM-SHA-256 (the client is test_pop3's), wrong then right
        r = Recorder(srv.raw(), sent)
        r.line()
        assert scram_login(r, ALICE, WRONG).startswith(b"-ERR")
        assert scram_login(r, ALICE, PW).startswith(b"+OK")
        r.cmd("QUIT")

        # submission: AUTH PLAIN with and without an initial response, AUTH LOGIN
        for mech, ir in (("PLAIN", True), ("PLAIN", False), ("LOGIN", False)):
            for pw in (WRONG, PW):
                s = srv.submission()
                s.user, s.password = ALICE, pw
                fn = s.auth_plain if mech == "PLAIN" else s.auth_login
                try:
                    s.auth(mech, fn, initial_response_ok=ir)
                    assert pw == PW, "a wrong password logged in"
                except smtplib.SMTPAuthenticationError:
                    assert pw == WRONG
                s.quit()
        # a message to a remote address, queued (delivery is off)
        s = srv.submission(ALICE, PW)
        s.sendmail(ALICE, ["far@remote.test", ALICE], b"Subject: out\r\n\r\nhello\r\n")
        s.quit()
        queued = json.loads(srv.cli("queue", "list", "--json").stdout)
        assert len(queued) == 1, queued
        srv.stop()
        log = srv.log_text()

    for s in secrets_of(sent, digests):
        assert s not in log, "secret %r in the log" % s
        for err in cli_err:
            assert s.encode() not in err, "secret %r in CLI stderr" % s
    return log, queued[0]["id"]


def records_json(log):
    recs = []
    for ln in log.splitlines():
        obj = json.loads(ln)  # every line, records and the rest
        assert isinstance(obj, dict) and "time" in obj and "level" in obj, ln
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", obj["time"]), ln
        if "event" in obj:
            recs.append(obj)
    return recs


def test_json_records():
    log, qid = run("json")
    recs = records_json(log)
    logins = [r for r in recs if r["event"] == "login"]
    ok = [r for r in logins if r["result"] == "ok"]
    failed = [r for r in logins if r["result"] == "failed"]
    # POP3: USER, APOP, PLAIN x1, LOGIN, SCRAM; submission: 3 + the sender's
    assert len(ok) == 9, [(r["service"], r.get("mech")) for r in ok]
    assert len(failed) == 8, [(r["service"], r.get("mech")) for r in failed]
    mechs = {(r["service"], r["mech"]) for r in ok}
    for want in (("pop3", "USER"), ("pop3", "APOP"), ("pop3s", "PLAIN"), ("pop3s", "LOGIN"),
                 ("pop3", "SCRAM-SHA-256"), ("submission", "PLAIN"),
                 ("submission", "LOGIN")):
        assert want in mechs, (want, mechs)
    for r in logins:
        assert r["sid"] and r["ip"] == "127.0.0.1" and isinstance(r["ms"], float), r
        assert r.get("user") in (ALICE, BOB), r
    # a session's records share its sid: connect, tls, login, commands, session
    by_sid = {}
    for r in recs:
        if "sid" in r:
            by_sid.setdefault(r["sid"], []).append(r["event"])
    for r in ok:
        ev = by_sid[r["sid"]]
        assert ev[0] == "connect" and ev[-1] == "session" and ev.count("session") == 1, ev
        assert "command" in ev, ev
    sessions = [r for r in recs if r["event"] == "session"]
    assert all("reason" in r and "ms" in r for r in sessions)
    pop3_end = [r for r in sessions if r.get("user") == ALICE and r["service"] == "pop3"
                and r.get("retrieved") == 1]
    assert pop3_end and pop3_end[0]["reason"] == "quit", sessions
    assert pop3_end[0]["bytes"] > 0 and pop3_end[0]["count"] >= 4, pop3_end
    # commands: no arguments of PASS, APOP or AUTH; RETR has its bytes
    cmds = [r for r in recs if r["event"] == "command"]
    assert all(r["level"] == "debug" and r["result"] in ("ok", "err") for r in cmds)
    for r in cmds:
        if r["command"] in ("PASS", "APOP", "AUTH"):
            assert "args" not in r, r
    retr = [r for r in cmds if r["command"] == "RETR"]
    assert retr and retr[0]["bytes"] > 0 and retr[0]["args"] == "1", retr
    # (the harness's probes of the TLS ports leave failed handshakes, at info)
    odd = [r for r in recs if r["event"] == "command" and r["command"] == "USER"
           and r["args"] != ALICE]
    assert [r["args"] for r in odd] == ['\ufffd\ufffd"q\\x\u00e9'], odd
    tls = [r for r in recs if r["event"] == "tls" and "login" in by_sid[r["sid"]]]
    assert tls and all(r["result"] == "ok" and r["tls"].startswith("TLSv1.") and
                       r["level"] == "debug" for r in tls), tls
    probes = [r for r in recs if r["event"] == "tls" and r["result"] == "failed"]
    assert all(r["level"] == "info" and r["reason"] for r in probes), probes
    # the message's record carries the queue id that queue list shows
    msgs = [r for r in recs if r["event"] == "message"]
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["qid"] == qid and m["result"] == "250" and m["count"] == 2, (m, qid)
    assert m["user"] == ALICE and m["from"] == "<%s>" % ALICE and m["remote"] == 1, m
    assert m["service"] == "submission" and m["sid"] in by_sid, m
    local = [r for r in recs if r["event"] == "delivery" and r["result"] == "local"]
    assert [(r["qid"], r["count"], r["sid"]) for r in local] == [(qid, 1, m["sid"])], local


def test_text_records():
    log, qid = run("text")
    assert "\"event\"" not in log
    assert re.search(r"sid=\w+ pop3 login user=%s ip=127\.0\.0\.1 mech=USER result=ok "
                     r"tls=TLSv1\.\d ms=[\d.]+ messages=1\n" % re.escape(ALICE), log), log
    assert re.search(r"sid=\w+ pop3 login user=%s ip=127\.0\.0\.1 mech=USER result=failed "
                     % re.escape(ALICE), log)
    m = re.search(r"sid=(\w+) submission message qid=%s user=%s ip=127\.0\.0\.1 result=250 "
                  r"reason=queued tls=TLSv1\.\d ms=[\d.]+ bytes=\d+ count=2 from=<%s> "
                  r"to=<far@remote\.test>,\+1 local=1 remote=1\n"
                  % (qid, re.escape(ALICE), re.escape(ALICE)), log)
    assert m, log[-3000:]
    sid = m.group(1)
    assert re.search(r"sid=%s submission connect ip=127\.0\.0\.1 result=accepted\n" % sid, log)
    assert re.search(r"sid=%s submission session user=%s ip=127\.0\.0\.1 reason=quit "
                     r"tls=TLSv1\.\d ms=[\d.]+ bytes=\d+ count=\d+ messages=1 state=READY\n"
                     % (sid, re.escape(ALICE)), log), log[-3000:]
    assert re.search(r"sid=\w+ pop3 command user=%s ip=127\.0\.0\.1 command=RETR result=ok "
                     r"ms=[\d.]+ bytes=\d+ args=\"1\" state=TRANSACTION\n" % re.escape(ALICE), log)
    assert '??\\"q\\\\x\u00e9"' in log  # the text form: \" and \\ in a quoted value
    assert re.search(r"pop3 command ip=127\.0\.0\.1 command=PASS result=(ok|err) ms=[\d.]+ "
                     r"state=AUTHORIZATION\n", log)


run_tests(globals())

# SPDX-License-Identifier: MIT
"""DKIM verification (RFC 6376, RFC 8463) and DMARC (RFC 7489) of mail from
outside on live SMTP (smtp/smtp_checks.c). The keys and the DMARC and SPF
records are served by a real unbound on loopback; the signatures are made by
independent signers: Debian's python3-dkim (RSA-SHA256 and Ed25519-SHA256)
and a private Postfix whose opendkim milter signs what it relays to us.

Cases: good RSA and Ed25519 signatures (dkim=pass, one result each, told
apart by header.s and header.b); an altered body (dkim=fail); a key that is
not published (permerror); no signature (dkim=none); DMARC pass by DKIM
alignment although SPF fails, and by relaxed SPF alignment alone; DMARC
failures under p=reject (refused, 550 5.7.1), p=quarantine (to the
quarantine mailbox with its reason), p=none (delivered), and under the
organisational domain's record; every alignment example of RFC 7489
Appendix A.1, relaxed and strict; the actions changed by the config; keys and
records unanswered within dns_timeout (temperror), and a client that leaves
while they are asked."""
import base64
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, run_tests  # noqa: E402
from postfix import Postfix, need_postfix  # noqa: E402
from test_dns import Unbound  # noqa: E402
from test_smtp_checks import SILENT, authres  # noqa: E402

try:
    import dkim  # python3-dkim
except ImportError:  # pragma: no cover
    dkim = None

TMP = tempfile.mkdtemp(prefix="mailroom-dmarc.")


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True,
                          check=True, timeout=60).stdout


def rsa_key():
    pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")
    der = openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def ed25519_key():
    """python3-dkim takes the 32-octet seed in base64; p= is the raw
    public key (RFC 8463 §4.2)."""
    pem = openssl("genpkey", "-algorithm", "ed25519")
    seed = openssl("pkey", "-outform", "DER", data=pem)[-32:]
    pub = openssl("pkey", "-pubout", "-outform", "DER", data=pem)[-32:]
    return base64.b64encode(seed), "v=DKIM1; k=ed25519; p=" + base64.b64encode(pub).decode()


def txt(text):
    """A TXT record's text as unbound's local-data strings (255 at most)."""
    return " ".join('"%s"' % text[i:i + 250] for i in range(0, len(text), 250))


RSA_PEM, RSA_TXT = rsa_key()
ED_SEED, ED_TXT = ed25519_key()
OPENDKIM = None  # the Postfix signer's opendkim (test_postfix_opendkim)

FAIL_SPF = '"v=spf1 ip4:192.0.2.0/24 -all"'


def zones():
    z = ['  local-zone: "test." static',
         "  local-data: 'rsa._domainkey.signed.test. TXT %s'" % txt(RSA_TXT),
         "  local-data: 'ed._domainkey.signed.test. TXT %s'" % txt(ED_TXT),
         "  local-data: 'signed.test. TXT %s'" % FAIL_SPF,
         "  local-data: '_dmarc.signed.test. TXT \"v=DMARC1; p=reject\"'",
         "  local-data: 'reject.test. TXT %s'" % FAIL_SPF,
         "  local-data: '_dmarc.reject.test. TXT \"v=DMARC1; p=reject; rua=mailto:d@reject.test\"'",
         "  local-data: 'quar.test. TXT %s'" % FAIL_SPF,
         "  local-data: '_dmarc.quar.test. TXT \"v=DMARC1; p=quarantine\"'",
         "  local-data: 'lax.test. TXT %s'" % FAIL_SPF,
         "  local-data: '_dmarc.lax.test. TXT \"v=DMARC1; p=none\"'",
         "  local-data: 'mail.spfok.test. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"'",
         "  local-data: '_dmarc.spfok.test. TXT \"v=DMARC1; p=reject\"'",
         "  local-data: '_dmarc.org.test. TXT \"v=DMARC1; p=reject\"'",
         "  local-data: 'sub.org.test. TXT %s'" % FAIL_SPF,
         "  local-data: 'pf.test. TXT \"v=spf1 -all\"'",
         "  local-data: '_dmarc.pf.test. TXT \"v=DMARC1; p=reject; adkim=s\"'",
         '  local-zone: "slow.test." transparent',
         # RFC 7489 Appendix A.1 (example.com as relaxed.test and strict.test)
         "  local-data: '_dmarc.relaxed.test. TXT \"v=DMARC1; p=reject\"'",
         "  local-data: '_dmarc.strict.test. TXT \"v=DMARC1; p=reject; aspf=s; adkim=s\"'",
         "  local-data: 'nospf.test. TXT %s'" % FAIL_SPF]
    for d in ("relaxed.test", "child.relaxed.test", "strict.test", "child.strict.test",
              "unrelated.test"):
        z.append("  local-data: '%s. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"'" % d)
    for d in ("relaxed.test", "strict.test", "sample.test"):
        z.append("  local-data: 'rsa._domainkey.%s. TXT %s'" % (d, txt(RSA_TXT)))
    z += ["  do-not-query-localhost: no"]
    if OPENDKIM is not None:
        z.append("  local-data: 'pf._domainkey.pf.test. TXT %s'"
                 % txt(OPENDKIM.key_record().decode()))
    return "\n".join(z) + "\n"


DNS = None
SERVERS = {}


def server(**extra):
    """A server that checks SPF, DKIM and DMARC, one per set of extra keys."""
    global DNS
    key = tuple(sorted(extra.items()))
    if key not in SERVERS:
        if DNS is None:
            # slow.test is asked of a server that never answers
            DNS = Unbound(zones=zones(), clauses="forward-zone:\n  name: \"slow.test.\"\n"
                          "  forward-addr: 127.0.0.1@%d\n" % SILENT.getsockname()[1])
        conf = {"filter.spf": "yes", "filter.dkim_verify": "yes", "filter.dmarc": "yes",
                "filter.dns_timeout": "5s", "filter.quarantine": "q@example.test",
                "delivery.resolver": "127.0.0.1:%d" % DNS.port}
        conf.update({"filter." + k: v for k, v in extra.items()})
        s = Server(extra=conf, smtp=True)
        s.add_user("u@example.test")
        s.add_user("q@example.test")
        s.start()
        SERVERS[key] = s
    return SERVERS[key]


def message(frm, subject="hi", body=b"the body\r\n"):
    return (b"From: Someone <%s>\r\nTo: u@example.test\r\nSubject: %s\r\n"
            b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%d@x.test>\r\n\r\n"
            % (frm.encode(), subject.encode(), time.monotonic_ns())) + body


def sign(msg, selector, domain=b"signed.test"):
    if selector == b"ed":
        return dkim.sign(msg, selector, domain, ED_SEED, signature_algorithm=b"ed25519-sha256",
                         canonicalize=(b"relaxed", b"relaxed")) + msg
    return dkim.sign(msg, selector, domain, RSA_PEM,
                     canonicalize=(b"relaxed", b"simple")) + msg


def send(msg, sender, srv=None):
    s = srv or server()
    c = s.smtp(ehlo=False)
    c.ehlo("client.example")
    try:
        c.sendmail(sender, ["u@example.test"], msg)
    finally:
        c.quit()


def last(user="u@example.test", srv=None):
    msgs = (srv or server()).messages(user)
    assert msgs, user
    return msgs[-1]


def results(ar, method):
    """The method's results of one A-R field, in order: [(result, text)]."""
    parts = [p.strip() for p in ar.split(";")[1:]]
    return [(p.split("=", 1)[1].split()[0], p) for p in parts if p.startswith(method + "=")]


def need_dkim():
    if dkim is None:
        print("skip: python3-dkim is not installed")
        sys.exit(77)


def test_rsa_and_ed25519_signatures_pass():
    need_dkim()
    msg = message("a@signed.test")
    signed = sign(sign(msg, b"rsa"), b"ed")
    send(signed, "a@signed.test")
    ar = authres(last())
    assert len(ar) == 1 and ar[0].startswith("mail.example.test;"), ar
    got = results(ar[0], "dkim")
    assert [r for r, _ in got] == ["pass", "pass"], ar
    assert "header.s=ed" in got[0][1] and "header.a=ed25519-sha256" in got[0][1], ar
    assert "header.s=rsa" in got[1][1] and "header.d=signed.test" in got[1][1], ar
    b_values = re.findall(r"header\.b=(\S+)", ar[0])
    assert len(set(b_values)) == 2 and all(len(b) >= 8 for b in b_values), ar
    # SPF fails for signed.test, DKIM aligns: DMARC passes
    assert results(ar[0], "spf")[0][0] == "fail", ar
    assert results(ar[0], "dmarc") == [("pass", results(ar[0], "dmarc")[0][1])], ar
    assert "header.from=signed.test" in ar[0], ar
    log = server().log_text()
    assert "dkim=pass:signed.test/ed,pass:signed.test/rsa dmarc=pass dmarc_domain=signed.test" \
        in log, log[-2000:]


def test_altered_body_fails_and_dmarc_rejects():
    need_dkim()
    signed = sign(message("a@signed.test", subject="altered"), b"rsa")
    tampered = signed.replace(b"the body", b"the b0dy")
    try:
        send(tampered, "a@signed.test")
        raise AssertionError("accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550 and b"5.7.1" in e.smtp_error, e
        assert b"DMARC policy of signed.test" in e.smtp_error, e
    log = server().log_text()
    assert re.search(r"dkim=fail:signed.test/rsa dmarc=fail dmarc_domain=signed.test "
                     r"dmarc_policy=reject .*dmarc_action=reject", log), log[-2000:]
    assert not any(b"altered" in m for m in server().messages("u@example.test"))


def test_missing_key_and_no_signature():
    need_dkim()
    send(sign(message("a@lax.test"), b"gone", domain=b"lax.test"), "a@lax.test")
    ar = authres(last())[0]
    (res, text), = results(ar, "dkim")
    assert res == "permerror" and "header.s=gone" in text, ar
    send(message("a@lax.test", subject="plain"), "a@lax.test")
    ar = authres(last())[0]
    assert [r for r, _ in results(ar, "dkim")] == ["none"], ar
    # p=none: the failure is recorded, the message delivered
    assert results(ar, "dmarc")[0][0] == "fail", ar
    assert "dmarc=fail dmarc_domain=lax.test dmarc_policy=none" in server().log_text()


def test_keys_unanswered_in_time():
    """The key and the DMARC record are asked of a server that never
    answers: after dns_timeout both are temperror, and the message is
    delivered (a temporary error is never acted on)."""
    need_dkim()
    srv = server(dns_timeout="2s")
    t0 = time.monotonic()
    send(sign(message("a@slow.test", subject="slow"), b"rsa", domain=b"slow.test"),
         "a@pass.example", srv=srv)
    took = time.monotonic() - t0
    assert 1.5 < took < 10, took
    ar = authres(last(srv=srv))[0]
    assert [r for r, _ in results(ar, "dkim")] == ["temperror"], ar
    assert results(ar, "dmarc")[0][0] == "temperror", ar
    assert 'dmarc_reason="DNS time limit"' in srv.log_text()
    # a client that leaves while the key is asked: the questions are
    # cancelled with the session, the server goes on (stop() checks it
    # ended cleanly, without a sanitizer report)
    raw = socket.create_connection(("127.0.0.1", srv.smtp_port), timeout=10)
    f = raw.makefile("rb")
    f.readline()
    for line in (b"EHLO c.example", b"MAIL FROM:<a@pass.example>", b"RCPT TO:<u@example.test>",
                 b"DATA"):
        raw.sendall(line + b"\r\n")
        while f.readline()[3:4] == b"-":
            pass
    raw.sendall(sign(message("a@slow.test", subject="gone"), b"rsa", domain=b"slow.test")
                + b".\r\n")
    time.sleep(0.5)
    raw.close()
    time.sleep(2.5)
    c = srv.smtp()
    c.noop()
    c.quit()


def test_spf_alignment_and_organisational_domain():
    # SPF passes for mail.spfok.test, relaxed alignment with spfok.test
    send(message("a@spfok.test"), "bounce@mail.spfok.test")
    ar = authres(last())[0]
    assert results(ar, "spf")[0][0] == "pass" and results(ar, "dmarc")[0][0] == "pass", ar
    # sub.org.test has no record: org.test's p=reject applies
    try:
        send(message("a@sub.org.test"), "a@sub.org.test")
        raise AssertionError("accepted")
    except smtplib.SMTPDataError as e:
        assert e.smtp_code == 550 and b"sub.org.test" in e.smtp_error, e


# RFC 7489 Appendix A.1: (MAIL FROM domain, DKIM d= or None, From domain,
# DMARC result); example.com's record as relaxed.test's (the default,
# relaxed) and strict.test's (aspf=s, adkim=s); SPF passes for every MAIL
# FROM domain but nospf.test
ALIGNMENT = [
    # A.1.1, SPF: the same name; a child of it; another organisation
    ("relaxed.test", None, "relaxed.test", "pass"),
    ("strict.test", None, "strict.test", "pass"),
    ("child.relaxed.test", None, "relaxed.test", "pass"),
    ("child.strict.test", None, "strict.test", "fail"),
    ("unrelated.test", None, "relaxed.test", "fail"),
    # A.1.2, DKIM: d= the same name; the parent of the From domain; another
    ("nospf.test", "strict.test", "strict.test", "pass"),
    ("nospf.test", "relaxed.test", "child.relaxed.test", "pass"),
    ("nospf.test", "strict.test", "child.strict.test", "fail"),
    ("nospf.test", "sample.test", "child.relaxed.test", "fail"),
]


def test_rfc7489_alignment_examples():
    """Every alignment example of RFC 7489 Appendix A.1, relaxed and
    strict: aligned ones pass, the others fail and meet p=reject (550)."""
    need_dkim()
    for mail_from, d, frm, want in ALIGNMENT:
        msg = message("sender@" + frm, subject="align-%s-%s" % (mail_from, d))
        if d is not None:
            msg = sign(msg, b"rsa", domain=d.encode())
        try:
            send(msg, "sender@" + mail_from)
            got = results(authres(last())[0], "dmarc")[0][0]
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 550, e
            got = "fail"
        assert got == want, (mail_from, d, frm, got)


def test_quarantine_policy():
    send(message("a@quar.test", subject="quarantined"), "a@quar.test")
    q = last("q@example.test")
    assert b"X-Quarantine-Reason: DMARC policy of quar.test (quarantine)" in q, q[:600]
    assert b"X-Original-To: <u@example.test>" in q, q[:600]
    assert not any(b"quarantined" in m for m in server().messages("u@example.test"))
    assert "dmarc_action=quarantine" in server().log_text()


def test_actions_from_the_config():
    srv = server(dmarc_reject_action="quarantine", dmarc_quarantine_action="accept")
    send(message("a@reject.test", subject="was-reject"), "a@reject.test", srv=srv)
    q = last("q@example.test", srv=srv)
    assert b"was-reject" in q and b"DMARC policy of reject.test (reject)" in q, q[:600]
    send(message("a@quar.test", subject="was-quar"), "a@quar.test", srv=srv)
    m = last(srv=srv)
    assert b"was-quar" in m and results(authres(m)[0], "dmarc")[0][0] == "fail", m[:600]


POSTFIX_MAIN = """myhostname = mx.pf.test
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = texthash:{pf}/conf/transport
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_milters = inet:127.0.0.1:{milter}
milter_default_action = tempfail
"""


def wait_for(pred, secs, what):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out: " + what)


def test_postfix_opendkim_signatures_verify():
    """Postfix relays to us what its opendkim milter signed for pf.test:
    the signature of an independent MTA + signer passes, and DMARC with
    strict DKIM alignment (adkim=s) passes on it alone."""
    global OPENDKIM, DNS
    import test_milter
    need_postfix()
    if not shutil.which("opendkim"):
        print("skip: opendkim not installed")
        sys.exit(77)
    OPENDKIM = test_milter.OpenDKIM(domain="pf.test", selector="pf", bits=2048).start()
    # the key is known now: this test's own resolver and server
    for s in SERVERS.values():
        s.stop()
        s.cleanup()
    SERVERS.clear()
    if DNS is not None:
        DNS.stop()
    DNS = None
    srv = server()
    port = free_port()
    postfix = Postfix(POSTFIX_MAIN.replace("{milter}", str(OPENDKIM.port)),
                      {"127.0.0.1:%d" % port: ""},
                      files={"transport": "example.test smtp:[127.0.0.1]:%d\n" % srv.smtp_port})
    try:
        postfix.start()
        c = smtplib.SMTP("127.0.0.1", port, timeout=30)
        c.sendmail("a@pf.test", ["u@example.test"], message("a@pf.test", subject="via-postfix"))
        c.quit()

        def arrived():
            return any(b"via-postfix" in m for m in srv.messages("u@example.test"))
        wait_for(arrived, 30, "the relayed message: " + postfix.log() + OPENDKIM.log())
        m = [m for m in srv.messages("u@example.test") if b"via-postfix" in m][0]
        assert b"DKIM-Signature:" in m, m[:1500]
        ar = authres(m)
        assert len(ar) == 1, ar
        got = results(ar[0], "dkim")
        assert [r for r, _ in got] == ["pass"] and "header.d=pf.test" in got[0][1], ar
        assert "header.s=pf" in got[0][1], ar
        assert results(ar[0], "spf")[0][0] == "fail", ar
        assert results(ar[0], "dmarc")[0][0] == "pass", ar
    finally:
        postfix.cleanup()
        OPENDKIM.stop()


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        for s in SERVERS.values():
            s.stop()
            s.cleanup()
        if DNS is not None:
            DNS.stop()
        shutil.rmtree(TMP, ignore_errors=True)

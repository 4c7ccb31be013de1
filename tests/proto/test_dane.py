# SPDX-License-Identifier: MIT
"""DANE (RFC 7672) on outbound delivery, against real pieces on loopback:
Debian's unbound serves zones signed at test time with ldns-signzone
(tests/proto/dnssec.py) holding the MX, A and TLSA records, and an unsigned
zone; aiosmtpd sinks on port 25 of 127.0.214.x are the MX hosts, with
STARTTLS and certificates from a test CA made with the openssl command, or
without STARTTLS. [delivery] dnssec_trust_anchor is the zones' DS lines.
So this test needs root, like test_mta_sts.py.

Each domain is one case: DANE-EE(3) 1 1 matching the host's key
(delivered, logged dane=pass, whatever names the certificate holds), also
for the host of a route (but not over a --tls none route); DANE-TA(2)
0 1 and 2 1 1 naming the test CA with the MX host's name in the
certificate (delivered); DANE-TA with a
certificate for another name (deferred); a first MX whose TLSA records do
not match (deferred there, the second MX with matching ones gets it); an
MX without STARTTLS (deferred); only PKIX-TA(0)/PKIX-EE(1) records
(no usable record: mandatory TLS, not authenticated, delivered); TLSA
records in an unsigned zone (no DANE: delivered as ever); a TLSA record
altered after signing (bogus: deferred "failed validation"), an MX record
likewise; an MTA-STS
policy in enforce mode that lists none of the MX hosts, on a host DANE
authenticates (delivered: DANE decides there, RFC 8461 §2), and one on a
host whose TLSA records do not match (deferred, the deferral naming DANE's
reason, not the policy's); a server whose certificate expired (made with
`openssl ca`, which back-dates): under DANE-EE(3) delivered, under DANE-TA(2)
naming the test CA deferred "certificate has expired". Then
`dane = no`: the mismatching host gets the mail, the MTA-STS domain is
deferred by its policy."""
import hashlib
import os
import re
import shutil
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402
import test_delivery as D  # noqa: E402
import test_dns  # noqa: E402
import test_mta_sts as S  # noqa: E402
from dnssec import auth_zones, sign_zone  # noqa: E402

# this test's ports (21400-21499) and loopback addresses (127.0.214.x)
PORTS = range(21400, 21500)
MX1, MX2, MX_PLAIN = "127.0.214.1", "127.0.214.2", "127.0.214.3"
MX_OLD = "127.0.214.4"  # its certificate expired in 2020
BAD_HEX = "00" * 32
# an MTA-STS policy in enforce mode that lists none of the domain's MX hosts
STS_POLICY = "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n"


def pick_port(taken=()):
    for p in PORTS:
        if p not in taken and S.port_free(p):
            return p
    raise AssertionError("no free port in 21400-21499")


def der(args):
    return subprocess.run(args, check=True, capture_output=True).stdout


def spki_sha256(cert):
    pub = der(["openssl", "x509", "-in", cert, "-noout", "-pubkey"])
    p = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                       check=True, capture_output=True)
    return hashlib.sha256(p.stdout).hexdigest()


def cert_sha256(cert):
    return hashlib.sha256(der(["openssl", "x509", "-in", cert, "-outform", "DER"])).hexdigest()


def issue_expired(ca, name, sans):
    """A certificate of ca valid in January 2020 only: `openssl x509` cannot
    back-date, `openssl ca` can (-startdate, -enddate)."""
    d = ca.path(name + "-ca")
    os.makedirs(os.path.join(d, "new"))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    conf, key, csr, crt = (ca.path(name + s) for s in (".cnf", ".key", ".csr", ".pem"))
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = test\n[test]\ndatabase = {d}/index.txt\n"
                "serial = {d}/serial\nnew_certs_dir = {d}/new\ncertificate = {pem}\n"
                "private_key = {key}\ndefault_md = sha256\npolicy = anything\n"
                "copy_extensions = copy\nunique_subject = no\n"
                "[anything]\ncommonName = supplied\n".format(d=d, pem=ca.pem, key=ca.key))
    der(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
         "-subj", "/CN=" + sans[0],
         "-addext", "subjectAltName = " + ",".join("DNS:" + s for s in sans)])
    der(["openssl", "ca", "-batch", "-config", conf, "-startdate", "20200101000000Z",
         "-enddate", "20200201000000Z", "-notext", "-in", csr, "-out", crt])
    return crt, key


def zone(h):
    """dane.test: one recipient domain per case, h the digests."""
    return """$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. admin.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
mx1 IN A {mx1}
_25._tcp.mx1 IN TLSA 3 1 1 {ee1}
mxee IN A {mx1}
_25._tcp.mxee IN TLSA 3 1 1 {ee1}
mxta0 IN A {mx1}
_25._tcp.mxta0 IN TLSA 2 0 1 {ca_cert}
mxta1 IN A {mx1}
_25._tcp.mxta1 IN TLSA 2 1 1 {ca_spki}
mxtaname IN A {mx1}
_25._tcp.mxtaname IN TLSA 2 0 1 {ca_cert}
mxbad IN A {mx2}
_25._tcp.mxbad IN TLSA 3 1 1 {ee1}
mxplain IN A {plain}
_25._tcp.mxplain IN TLSA 3 1 1 {ee1}
mxoldee IN A {old}
_25._tcp.mxoldee IN TLSA 3 1 1 {old_ee}
mxoldta IN A {old}
_25._tcp.mxoldta IN TLSA 2 0 1 {ca_cert}
mxpkix IN A {mx2}
_25._tcp.mxpkix IN TLSA 1 1 1 {ee2}
_25._tcp.mxpkix IN TLSA 0 0 1 {ca_cert}
ee IN MX 10 mx1.dane.test.
eename IN MX 10 mxee.dane.test.
ta0 IN MX 10 mxta0.dane.test.
ta1 IN MX 10 mxta1.dane.test.
taname IN MX 10 mxtaname.dane.test.
second IN MX 10 mxbad.dane.test.
second IN MX 20 mx1.dane.test.
mismatch IN MX 10 mxbad.dane.test.
plain IN MX 10 mxplain.dane.test.
pkix IN MX 10 mxpkix.dane.test.
oldee IN MX 10 mxoldee.dane.test.
oldta IN MX 10 mxoldta.dane.test.
sts IN MX 10 mx1.dane.test.
_mta-sts.sts IN TXT "v=STSv1; id=1;"
mta-sts.sts IN A 127.0.0.1
stsfail IN MX 10 mxbad.dane.test.
_mta-sts.stsfail IN TXT "v=STSv1; id=1;"
mta-sts.stsfail IN A 127.0.0.1
""".format(mx1=MX1, mx2=MX2, plain=MX_PLAIN, old=MX_OLD, **h)


def bad_zone(h):
    return """$ORIGIN bad.test.
$TTL 300
@ IN SOA ns.bad.test. admin.bad.test. 1 3600 600 86400 300
@ IN NS ns.bad.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.bad.test.
mx IN A {mx1}
_25._tcp.mx IN TLSA 3 1 1 {ee1}
""".format(mx1=MX1, **h)


def bogus_mx_zone(h):
    return bad_zone(h).replace("bad.test", "bogusmx.test")


def tamper_mx(text):  # the MX record changes after signing
    changed = re.sub(r"(\tMX\t)10 ", r"\g<1>20 ", text)
    assert changed != text
    return changed


def unsigned(h):
    # unbound's own "test." zone steps aside for the signed ones
    return ('  local-zone: "dane.test." transparent\n'
            '  local-zone: "bad.test." transparent\n'
            '  local-zone: "bogusmx.test." transparent\n'
            '  local-zone: "open.test." static\n'
            '  local-data: "open.test. MX 10 mx.open.test."\n'
            '  local-data: "mx.open.test. A %s"\n'
            '  local-data: "_25._tcp.mx.open.test. TLSA 3 1 1 %s"\n' % (MX2, BAD_HEX))


def rcpts(sink):
    return sorted(t for m in sink.messages for t in m[1])


def test_dane_enforced_per_host():
    if os.geteuid() != 0:
        print("skipped: needs root for port 25 on 127.0.214.x")
        return
    ca = S.CA()
    stops = []
    srv = None
    try:
        crt1, key1 = ca.issue("mx1", ["mx1.dane.test", "mxta0.dane.test", "mxta1.dane.test",
                                      "mx.bad.test"])
        crt2, key2 = ca.issue("mx2", ["mx2.dane.test"])
        chain1 = ca.path("mx1-chain.pem")  # DANE-TA: the server sends its CA too
        with open(chain1, "w") as f:
            f.write(open(crt1).read() + open(ca.pem).read())
        crt_old, key_old = issue_expired(ca, "old", ["mxoldta.dane.test"])
        chain_old = ca.path("old-chain.pem")
        with open(chain_old, "w") as f:
            f.write(open(crt_old).read() + open(ca.pem).read())
        h = {"ee1": spki_sha256(crt1), "ee2": spki_sha256(crt2), "old_ee": spki_sha256(crt_old),
             "ca_cert": cert_sha256(ca.pem), "ca_spki": spki_sha256(ca.pem)}

        def tamper(text):  # the TLSA record changes after signing
            assert h["ee1"] in text.lower()
            return re.sub(h["ee1"], BAD_HEX, text, flags=re.I)

        def prepare(d):
            with open(os.path.join(d, "trust-anchor"), "w") as f:
                f.write(sign_zone(d, "dane.test", zone(h)))
                f.write(sign_zone(d, "bad.test", bad_zone(h), tamper=tamper))
                f.write(sign_zone(d, "bogusmx.test", bogus_mx_zone(h), tamper=tamper_mx))
            return auth_zones(d, ("dane.test", "bad.test", "bogusmx.test"))

        dns_port = pick_port()
        test_dns.free_port = lambda: dns_port  # unbound on this test's port
        dns = test_dns.Unbound(zones=unsigned(h), prepare=prepare)
        ta = os.path.join(dns.dir, "trust-anchor")
        os.chmod(dns.dir, 0o755)
        stops.append(dns.stop)
        ctx1 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx1.load_cert_chain(chain1, key1)
        ctx2 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx2.load_cert_chain(crt2, key2)
        c1, sink1 = S.sink_on(MX1, ctx1)
        stops.append(c1.stop)
        c2, sink2 = S.sink_on(MX2, ctx2)
        stops.append(c2.stop)
        c3, sink3 = S.sink_on(MX_PLAIN)
        stops.append(c3.stop)
        ctx4 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx4.load_cert_chain(chain_old, key_old)
        c4, sink4 = S.sink_on(MX_OLD, ctx4)
        stops.append(c4.stop)
        https_port = pick_port((dns_port,))
        web = S.PolicyServer(https_port, ca.context("policy", ["mta-sts.sts.dane.test",
                                                            "mta-sts.stsfail.dane.test"]))
        web.policies = {"sts.dane.test": STS_POLICY, "stsfail.dane.test": STS_POLICY}
        stops.append(web.stop)
        conf = {"delivery.resolver": "127.0.0.1:%d" % dns.port,
                "delivery.dnssec_trust_anchor": ta, "delivery.retry_min": "1m",
                "delivery.ca_file": ca.pem, "delivery.mta_sts_port": str(https_port)}
        srv = D.server(conf)
        # routes: a host named by a route is DANE's too, but not over --tls none
        srv.cli("route", "add", "routed.test", "mx1.dane.test", "--tls", "may")
        srv.cli("route", "add", "nodane.test", "mxbad.dane.test", "--tls", "none")
        srv.start()
        s = srv.submission(D.ALICE)
        cases = ("routed.test", "nodane.test", "ee.dane.test", "eename.dane.test",
                 "ta0.dane.test", "ta1.dane.test", "taname.dane.test",
                 "second.dane.test", "mismatch.dane.test", "plain.dane.test",
                 "pkix.dane.test", "sts.dane.test", "stsfail.dane.test", "oldee.dane.test",
                 "oldta.dane.test", "open.test", "bad.test", "bogusmx.test")
        for d in cases:
            s.sendmail(D.ALICE, ["a@" + d], b"Subject: %s\r\n\r\nx\r\n" % d.encode())
        s.quit()

        def sent(d, relay, fields):
            assert srv.wait_log(r"result=sent ms=\S+ to=<a@%s> relay=%s starttls=yes%s "
                                % (re.escape(d), relay, fields)), srv.log_text()

        def deferred(d, reply):
            assert srv.wait_log(r"result=deferred ms=\S+ to=<a@%s> .*reply=\"4\.7\.5 DANE: %s"
                                % (re.escape(d), reply)), srv.log_text()

        # DANE-EE(3): the key of the host's certificate
        D.wait(lambda: "a@ee.dane.test" in rcpts(sink1), what="ee.dane.test")
        sent("ee.dane.test", r"mx1.dane.test\[%s\]:25" % MX1, " dane=pass dane-usage=3")
        # ... which does not look at names: the certificate names not mxee
        D.wait(lambda: "a@eename.dane.test" in rcpts(sink1), what="eename.dane.test")
        sent("eename.dane.test", r"mxee.dane.test\[%s\]:25" % MX1, " dane=pass dane-usage=3")
        D.wait(lambda: "a@routed.test" in rcpts(sink1), what="routed.test")
        sent("routed.test", r"mx1.dane.test\[%s\]:25" % MX1, " dane=pass dane-usage=3")
        D.wait(lambda: "a@nodane.test" in rcpts(sink2), what="nodane.test")
        assert srv.wait_log(r"result=sent ms=\S+ to=<a@nodane.test> relay=mxbad.dane.test"
                            r"\[%s\]:25 starttls=no status=" % MX2), srv.log_text()
        # DANE-TA(2): the CA's certificate, the CA's key; the MX host's name
        for d, mx in (("ta0.dane.test", "mxta0"), ("ta1.dane.test", "mxta1")):
            D.wait(lambda: "a@" + d in rcpts(sink1), what=d)
            sent(d, r"%s.dane.test\[%s\]:25" % (mx, MX1), " dane=pass dane-usage=2")
        # DANE-TA(2) with a certificate for neither the host nor the domain
        deferred("taname.dane.test", "TLS handshake with mxtaname.dane.test failed")
        # the first MX does not match, the second does
        D.wait(lambda: "a@second.dane.test" in rcpts(sink1), what="second.dane.test")
        assert srv.wait_log(r"result=deferred ms=\S+ to=<a@second.dane.test> "
                            r"relay=mxbad.dane.test\[%s\]:25 starttls=no dane=fail "
                            r"dane-reason=\"TLS handshake with mxbad.dane.test failed: "
                            r"[Nn]o matching DANE TLSA records\"" % MX2), srv.log_text()
        sent("second.dane.test", r"mx1.dane.test\[%s\]:25" % MX1, " dane=pass dane-usage=3")
        deferred("mismatch.dane.test",
                 "TLS handshake with mxbad.dane.test failed: [Nn]o matching DANE TLSA records")
        # no STARTTLS where TLSA records say TLS
        deferred("plain.dane.test", "mxplain.dane.test does not offer STARTTLS")
        # PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP: TLS without authentication
        D.wait(lambda: "a@pkix.dane.test" in rcpts(sink2), what="pkix.dane.test")
        sent("pkix.dane.test", r"mxpkix.dane.test\[%s\]:25" % MX2, " dane=unusable")
        # DANE decides where it applies, not the domain's MTA-STS policy
        D.wait(lambda: "a@sts.dane.test" in rcpts(sink1), what="sts.dane.test")
        sent("sts.dane.test", r"mx1.dane.test\[%s\]:25" % MX1, " dane=pass dane-usage=3")
        assert srv.wait_log(r"mta-sts domain=sts.dane.test id=1: policy fetched: mode=enforce"), \
            srv.log_text()
        # ... and when DANE fails there, the deferral names DANE's reason, not the policy
        assert srv.wait_log(r"result=deferred ms=\S+ to=<a@stsfail.dane.test> relay=none "
                            r"dane=fail dane-reason=\"TLS handshake with mxbad.dane.test "
                            r"failed: [Nn]o matching DANE TLSA records\" status=4.7.5 "
                            r"reply=\"4.7.5 DANE: TLS handshake"), srv.log_text()
        assert not re.search(r"to=<a@stsfail.dane.test> relay=none mta-sts", srv.log_text())
        # an expired certificate: DANE-EE(3) looks at no dates (RFC 7672 §3.1.1) ...
        D.wait(lambda: "a@oldee.dane.test" in rcpts(sink4), what="oldee.dane.test")
        sent("oldee.dane.test", r"mxoldee.dane.test\[%s\]:25" % MX_OLD, " dane=pass dane-usage=3")
        # ... DANE-TA(2) checks the chain, dates included
        deferred("oldta.dane.test", "TLS handshake with mxoldta.dane.test failed: "
                 "certificate has expired")
        # an unsigned zone: its TLSA records are not looked at
        D.wait(lambda: "a@open.test" in rcpts(sink2), what="open.test")
        assert srv.wait_log(r"result=sent ms=\S+ to=<a@open.test> relay=mx.open.test\[%s\]:25 "
                            r"starttls=yes status=" % MX2), srv.log_text()
        # a TLSA record altered after signing: bogus
        deferred("bad.test", r"TLSA lookup for _25\._tcp\.mx\.bad\.test failed validation")
        assert srv.wait_log(r"to=<a@bad.test> relay=none dane=fail dane-reason=\"TLSA lookup"), \
            srv.log_text()
        deferred("bogusmx.test", r"MX lookup for bogusmx\.test failed validation")
        for sink in (sink1, sink2, sink3, sink4):
            assert not [t for t in rcpts(sink) if t.split("@")[1] in
                        ("taname.dane.test", "mismatch.dane.test", "plain.dane.test",
                         "stsfail.dane.test", "oldta.dane.test", "bad.test",
                         "bogusmx.test")], rcpts(sink)

        # dane = no: the mismatching host gets its mail, by opportunistic TLS
        srv.stop()
        text = open(srv.conf).read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("[delivery]\n", "[delivery]\ndane = no\n", 1))
        srv.start()
        # ... and without DANE the policy rules that domain's MX host out
        s = srv.submission(D.ALICE)
        s.sendmail(D.ALICE, ["b@sts.dane.test"], b"Subject: sts\r\n\r\nx\r\n")
        s.quit()
        assert srv.wait_log(r"result=deferred ms=\S+ to=<b@sts.dane.test> relay=none "
                            r"mta-sts=enforce mta-sts-id=1 status=4.7.5 reply=\"4.7.5 MTA-STS: "
                            r"MX host mx1.dane.test does not match the policy\""), srv.log_text()
        D.wait(lambda: "a@mismatch.dane.test" in rcpts(sink2), what="mismatch with dane = no",
               timeout=90)
        assert srv.wait_log(r"result=sent ms=\S+ to=<a@mismatch.dane.test> "
                            r"relay=mxbad.dane.test\[%s\]:25 starttls=yes status=" % MX2), \
            srv.log_text()
    finally:
        if srv is not None:
            if os.environ.get("DANE_LOG"):
                with open(os.environ["DANE_LOG"], "w") as f:
                    f.write(srv.log_text())
            srv.stop()
            srv.cleanup()
        for f in reversed(stops):
            f()
        shutil.rmtree(ca.dir, True)


if __name__ == "__main__":
    if shutil.which("ldns-signzone") is None or shutil.which("unbound") is None:
        print("skipped: needs unbound and ldnsutils (scripts/deps.sh test)")
        sys.exit(77)
    run_tests(globals())

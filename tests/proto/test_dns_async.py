# SPDX-License-Identifier: MIT
"""The asynchronous resolver (dns/dns_async.h, libunbound) against a real
unbound on loopback: plain records of every type the server asks for, a
zone signed at test time with ldns-signzone (DNSSEC: secure answers, secure
denials, a zone whose data no longer matches its signatures answered as no
answer at all), many questions at once, and a resolver that never answers
(the time limit holds). tests/tools/dns_probe runs the loop."""
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402
from test_dns import Unbound  # noqa: E402
from dnssec import auth_zones, sign_zone  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "dns_probe")

ZONE = """$ORIGIN {name}.
$TTL 300
@ IN SOA ns.{name}. admin.{name}. 1 3600 600 86400 300
@ IN NS ns.{name}.
ns IN A 127.0.0.1
@ IN A 192.0.2.10
@ IN MX 10 mx.{name}.
mx IN A 127.0.0.1
_25._tcp.mx IN TLSA 3 1 1 0a0b0c
@ IN TXT "v=spf1 -all"
"""

ZONES = """
  local-zone: "sec.test." transparent
  local-zone: "bad.test." transparent
  local-zone: "plain.test." static
  local-data: "plain.test. A 192.0.2.1"
  local-data: "plain.test. AAAA 2001:db8::1"
  local-data: "plain.test. MX 10 mx.plain.test."
  local-data: "mx.plain.test. A 192.0.2.2"
  local-data: 'plain.test. TXT "v=spf1 " "ip4:192.0.2.0/24 -all"'
  local-data: "_25._tcp.mx.plain.test. TLSA 3 1 1 0102030405"
  local-data: "1.2.0.192.in-addr.arpa. PTR plain.test."
"""


def tampered(text):
    """The data changes after signing: its RRSIG no longer fits."""
    return text.replace("192.0.2.10", "192.0.2.66")


def signed_zones(d):
    """Signs sec.test and bad.test in d, writes their trust anchor there,
    and returns the auth-zone clauses that serve them."""
    with open(os.path.join(d, "trust-anchor"), "w") as f:
        f.write(sign_zone(d, "sec.test", ZONE.format(name="sec.test")))
        f.write(sign_zone(d, "bad.test", ZONE.format(name="bad.test"), tamper=tampered))
    return auth_zones(d, ("sec.test", "bad.test"))


def resolver(u):
    return "127.0.0.1:%d" % u.port


def probe(resolver, *questions, ta=None, timeout=5, sync=False):
    args = [PROBE, "--timeout", str(timeout)] + (["--sync"] if sync else [])
    if ta:
        args += ["--ta", ta]
    p = subprocess.run(args + [resolver] + list(questions), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        name, qtype, rest = line.split(" ", 2)
        out[(name, qtype)] = rest
    return out


DNS = None


class Dns:
    def __init__(self):
        self.u = Unbound(zones=ZONES, prepare=signed_zones)
        self.ta = os.path.join(self.u.dir, "trust-anchor")

    def resolver(self):
        return resolver(self.u)


def dns():
    global DNS
    if DNS is None:
        DNS = Dns()
    return DNS


def test_plain_records_of_every_type():
    r = probe(dns().resolver(), "a", "plain.test", "aaaa", "plain.test", "mx", "plain.test",
              "txt", "plain.test", "tlsa", "_25._tcp.mx.plain.test",
              "ptr", "1.2.0.192.in-addr.arpa", "a", "nx.plain.test", "mx", "mx.plain.test")
    assert r[("plain.test", "a")] == "result=ok secure=no 192.0.2.1", r
    assert r[("plain.test", "aaaa")] == "result=ok secure=no 2001:db8::1", r
    assert r[("plain.test", "mx")] == "result=ok secure=no 10:mx.plain.test", r
    # the character-strings of a TXT record are joined (RFC 7208 §3.3)
    assert r[("plain.test", "txt")] == \
        'result=ok secure=no "v=spf1 ip4:192.0.2.0/24 -all"', r
    assert r[("_25._tcp.mx.plain.test", "tlsa")] == "result=ok secure=no 3/1/1:0102030405", r
    assert r[("1.2.0.192.in-addr.arpa", "ptr")] == "result=ok secure=no 0:plain.test", r
    assert r[("nx.plain.test", "a")] == "result=nxdomain secure=no", r
    assert r[("mx.plain.test", "mx")] == "result=nodata secure=no", r


def test_dnssec_secure_insecure_and_bogus():
    d = dns()
    r = probe(d.resolver(), "a", "sec.test", "mx", "sec.test", "txt", "sec.test",
              "tlsa", "_25._tcp.mx.sec.test", "aaaa", "sec.test", "a", "nx.sec.test",
              "a", "bad.test", "a", "plain.test", ta=d.ta)
    assert r[("sec.test", "a")] == "result=ok secure=yes 192.0.2.10", r
    assert r[("sec.test", "mx")] == "result=ok secure=yes 10:mx.sec.test", r
    assert r[("sec.test", "txt")] == 'result=ok secure=yes "v=spf1 -all"', r
    assert r[("_25._tcp.mx.sec.test", "tlsa")] == "result=ok secure=yes 3/1/1:0a0b0c", r
    # denials are validated too (NSEC)
    assert r[("sec.test", "aaaa")] == "result=nodata secure=yes", r
    assert r[("nx.sec.test", "a")] == "result=nxdomain secure=yes", r
    # signatures that do not fit the data: bogus, which is no answer at all
    assert r[("bad.test", "a")] == "result=temp secure=no", r
    # a zone outside the trust anchor's reach is insecure, not bogus
    assert r[("plain.test", "a")] == "result=ok secure=no 192.0.2.1", r
    # without a trust anchor nothing is validated, and nothing is secure
    r = probe(d.resolver(), "a", "sec.test", "a", "bad.test")
    assert r[("sec.test", "a")] == "result=ok secure=no 192.0.2.10", r
    assert r[("bad.test", "a")] == "result=ok secure=no 192.0.2.66", r


def test_lab_zones_under_the_root_anchor():
    """With a resolver of its own and the root's key (Debian's default trust
    anchor), test. is insecure, not bogus (the root denies it), while a zone
    inside it with a trust anchor of its own stays secure."""
    root = "/usr/share/dns/root.key"
    if not os.path.exists(root):
        print("skipped: no %s (dns-root-data)" % root)
        return
    d = dns()
    both = os.path.join(d.u.dir, "root-and-sec")
    with open(both, "w") as f:
        f.write(open(root).read() + "\n" + open(d.ta).read())
    r = probe(d.resolver(), "a", "plain.test", "a", "sec.test", "a", "bad.test", ta=both)
    assert r[("plain.test", "a")] == "result=ok secure=no 192.0.2.1", r
    assert r[("sec.test", "a")] == "result=ok secure=yes 192.0.2.10", r
    assert r[("bad.test", "a")] == "result=temp secure=no", r
    r = probe(d.resolver(), "a", "plain.test", "ptr", "1.2.0.192.in-addr.arpa", ta=root)
    assert r[("plain.test", "a")] == "result=ok secure=no 192.0.2.1", r
    assert r[("1.2.0.192.in-addr.arpa", "ptr")] == "result=ok secure=no 0:plain.test", r


def test_blocking_resolver_of_the_delivery_threads():
    """dns/dns_sync.h: the same answers one by one, secure, insecure and
    bogus alike, and its time limit holds."""
    d = dns()
    r = probe(d.resolver(), "mx", "sec.test", "tlsa", "_25._tcp.mx.sec.test", "aaaa", "sec.test",
              "a", "bad.test", "a", "plain.test", "a", "nx.plain.test", ta=d.ta, sync=True)
    assert r[("sec.test", "mx")] == "result=ok secure=yes 10:mx.sec.test", r
    assert r[("_25._tcp.mx.sec.test", "tlsa")] == "result=ok secure=yes 3/1/1:0a0b0c", r
    assert r[("sec.test", "aaaa")] == "result=nodata secure=yes", r
    assert r[("bad.test", "a")] == "result=temp secure=no", r
    assert r[("plain.test", "a")] == "result=ok secure=no 192.0.2.1", r
    assert r[("nx.plain.test", "a")] == "result=nxdomain secure=no", r
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        r = probe("127.0.0.1:%d" % s.getsockname()[1], "a", "plain.test", "mx", "x.test",
                  timeout=2, sync=True)
        took = time.monotonic() - t0
        assert r[("plain.test", "a")] == "result=temp secure=no", r
        assert r[("x.test", "mx")] == "result=temp secure=no", r
        assert 3 < took < 12, took  # two questions, one after the other
    finally:
        s.close()


def test_many_questions_at_once():
    qs = []
    for i in range(300):
        qs += ["a", "n%d.plain.test" % i]
    qs += ["a", "plain.test", "txt", "plain.test"]
    t0 = time.monotonic()
    r = probe(dns().resolver(), *qs)
    assert len(r) == 302, len(r)
    assert all(r[("n%d.plain.test" % i, "a")] == "result=nxdomain secure=no"
               for i in range(300))
    assert r[("plain.test", "a")].startswith("result=ok"), r[("plain.test", "a")]
    assert time.monotonic() - t0 < 30


def test_silent_resolver_times_out():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        t0 = time.monotonic()
        r = probe("127.0.0.1:%d" % s.getsockname()[1], "a", "plain.test", "txt", "x.test",
                  timeout=2)
        took = time.monotonic() - t0
        assert r[("plain.test", "a")] == "result=temp secure=no", r
        assert r[("x.test", "txt")] == "result=temp secure=no", r
        assert 1.5 < took < 10, took
    finally:
        s.close()


def test_bad_setup_is_refused():
    p = subprocess.run([PROBE, "not-an-address", "a", "plain.test"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and "resolver" in p.stderr, (p.returncode, p.stderr)
    p = subprocess.run([PROBE, "--ta", "/nonexistent/ta", "127.0.0.1:53", "a", "plain.test"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "resolver" in p.stderr, (p.returncode, p.stderr)


if __name__ == "__main__":
    if shutil.which("ldns-signzone") is None or shutil.which("unbound") is None:
        print("skipped: needs unbound and ldnsutils (scripts/deps.sh test)")
        sys.exit(77)
    try:
        run_tests(globals())
    finally:
        if DNS is not None:
            DNS.u.stop()

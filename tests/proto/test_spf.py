# SPDX-License-Identifier: MIT
"""filter/spf.h against an independent implementation, pyspf (Debian's
python3-spf): the same DNS table is given to both (to pyspf through its
DNSLookup hook, to mailroom through tests/tools/spf_probe), and each
(record, ip, sender) gets the same result from both, except where we
follow RFC 7208's text and pyspf does not (KNOWN). The table holds
RFC 7208 Appendix A's zone and its examples, include, redirect, loops, the
lookup and void-lookup limits, temperror, syntax errors and record
selection. The expected result is checked too, so a change that moves
both sides the same way is still seen."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402

try:
    import spf
except ImportError:
    print("skip: python3-spf (pyspf) is not installed")
    sys.exit(77)

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "spf_probe")

base = [
    ('example.com', 'A', '192.0.2.10'),
    ('example.com', 'A', '192.0.2.11'),
    ('amy.example.com', 'A', '192.0.2.65'),
    ('bob.example.com', 'A', '192.0.2.66'),
    ('mail-a.example.com', 'A', '192.0.2.129'),
    ('mail-b.example.com', 'A', '192.0.2.130'),
    ('www.example.com', 'A', '192.0.2.10'),
    ('www.example.com', 'A', '192.0.2.11'),
    ('mail-c.example.org', 'A', '192.0.2.140'),
    ('example.com', 'MX', (10, 'mail-a.example.com')),
    ('example.com', 'MX', (20, 'mail-b.example.com')),
    ('example.org', 'MX', (10, 'mail-c.example.org')),
    ('10.2.0.192.in-addr.arpa', 'PTR', 'example.com'),
    ('11.2.0.192.in-addr.arpa', 'PTR', 'example.com'),
    ('65.2.0.192.in-addr.arpa', 'PTR', 'amy.example.com'),
    ('66.2.0.192.in-addr.arpa', 'PTR', 'bob.example.com'),
    ('129.2.0.192.in-addr.arpa', 'PTR', 'mail-a.example.com'),
    ('130.2.0.192.in-addr.arpa', 'PTR', 'mail-b.example.com'),
    ('140.2.0.192.in-addr.arpa', 'PTR', 'mail-c.example.org'),
    ('10.0.0.10.in-addr.arpa', 'PTR', 'bob.example.com'),
]

# where the RFC's text and pyspf part: (record or sender) -> (ours, pyspf)
KNOWN = {
    # §7.3: "If a DIGIT is specified, the value MUST be nonzero"
    "v=spf1 +all exists:%{d0}.example.com": ("permerror", "pass"),
    # §5.5: a DNS error on the PTR look-up makes ptr not match
    "u@t5.example": ("neutral", "temperror"),
}

Z = []


def lookup(name, qtype, strict=True, timeout=None, **kw):
    name = name.rstrip(".").lower()
    out = []
    for n, t, v in Z:
        if n.lower() == name and t == qtype:
            if v == "TEMP":
                raise spf.TempError("temp")
            out.append(((name, t), [v.encode()] if t == "TXT" else v))
    return out


spf.DNSLookup = lookup


def ours(zone, checks):
    """spf_probe on the zone: one result per (ip, sender)"""
    with tempfile.NamedTemporaryFile("w", suffix=".zone", delete=False) as f:
        for n, t, v in zone:
            if t == "MX":
                v = "%d %s" % v
            f.write("%s\t%s\t%s\n" % (n, t, v))
        path = f.name
    try:
        inp = "".join("%s\t%s\thelo.example.net\n" % (ip, s) for ip, s in checks)
        out = subprocess.run([PROBE, path], input=inp, capture_output=True, text=True,
                             timeout=30, check=True).stdout.split()
    finally:
        os.unlink(path)
    assert len(out) == len(checks), out
    return out


def theirs(zone, ip, sender):
    global Z
    Z = zone
    return spf.check2(i=ip, s=sender, h="helo.example.net")[0]


def compare(key, got, pyspf, expected):
    if key in KNOWN:
        assert (got, pyspf) == KNOWN[key], (key, got, pyspf)
    else:
        assert got == pyspf, (key, "mailroom", got, "pyspf", pyspf)
    assert got == expected, (key, got, expected)


A1 = [
    ('v=spf1 +all', '198.51.100.1', 'pass'),
    ('v=spf1 a -all', '192.0.2.10', 'pass'),
    ('v=spf1 a -all', '192.0.2.12', 'fail'),
    ('v=spf1 a:example.org -all', '192.0.2.10', 'fail'),
    ('v=spf1 mx -all', '192.0.2.129', 'pass'),
    ('v=spf1 mx -all', '192.0.2.140', 'fail'),
    ('v=spf1 mx:example.org -all', '192.0.2.140', 'pass'),
    ('v=spf1 mx/30 mx:example.org/30 -all', '192.0.2.131', 'pass'),
    ('v=spf1 mx/30 mx:example.org/30 -all', '192.0.2.143', 'pass'),
    ('v=spf1 mx/30 mx:example.org/30 -all', '192.0.2.132', 'fail'),
    ('v=spf1 ptr -all', '192.0.2.10', 'pass'),
    ('v=spf1 ptr -all', '192.0.2.65', 'pass'),
    ('v=spf1 ptr -all', '192.0.2.140', 'fail'),
    ('v=spf1 ptr -all', '10.0.0.10', 'fail'),
    ('v=spf1 ip4:192.0.2.128/28 -all', '192.0.2.143', 'pass'),
    ('v=spf1 ip4:192.0.2.128/28 -all', '192.0.2.65', 'fail'),
    ('v=spf1 a/24 -all', '192.0.2.200', 'pass'),
    ('v=spf1 a:www.example.com//64 -all', '192.0.2.11', 'pass'),
    ('v=spf1 ip4:192.0.2.99', '192.0.2.1', 'neutral'),
    ('v=spf1 +all foo', '192.0.2.1', 'permerror'),
    ('v=spf1 +all ip4:192.0.2.1/024', '192.0.2.1', 'permerror'),
    ('v=spf1 +all a:foo.123', '192.0.2.1', 'permerror'),
    ('v=spf1 +all exists:%{d0}.example.com', '192.0.2.1', 'permerror'),
    ('v=spf1 +all redirect=a.example redirect=b.example', '192.0.2.1', 'permerror'),
    ('v=spf1 +all a:%{c}.example.com', '192.0.2.1', 'permerror'),
]


def test_appendix_a():
    for rec, ip, exp in A1:
        zone = base + [("example.com", "TXT", rec)]
        (got,) = ours(zone, [(ip, "user@example.com")])
        compare(rec, got, theirs(zone, ip, "user@example.com"), exp)


ext = [
    ('example.org', 'TXT', 'v=spf1 include:example.com include:example.net -all'),
    ('la.example.org', 'TXT', 'v=spf1 redirect=example.org'),
    ('example.net', 'TXT', 'v=spf1 ip4:192.0.2.64/27 -all'),
    ('softer.example', 'TXT', 'v=spf1 include:soft.example ~all'),
    ('soft.example', 'TXT', 'v=spf1 ~all'),
    ('incnone.example', 'TXT', 'v=spf1 include:nothing.example +all'),
    ('rdnone.example', 'TXT', 'v=spf1 redirect=nothing.example'),
    ('rdall.example', 'TXT', 'v=spf1 -all redirect=example.net'),
    ('loop.example', 'TXT', 'v=spf1 include:loop.example -all'),
    ('ten.example', 'TXT', 'v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all'),
    ('ten.example', 'A', '198.51.100.1'),
    ('eleven.example', 'TXT', 'v=spf1 a a a a a a a a a a a ip4:192.0.2.1 -all'),
    ('eleven.example', 'A', '198.51.100.1'),
    ('void2.example', 'TXT', 'v=spf1 a:n1.example a:n2.example -all'),
    ('void3.example', 'TXT', 'v=spf1 a:n1.example a:n2.example exists:n3.example -all'),
    ('t2.example', 'TXT', 'v=spf1 a:tmp.example +all'),
    ('tmp.example', 'A', 'TEMP'),
    ('t5.example', 'TXT', 'v=spf1 ptr ?all'),
    ('1.2.0.192.in-addr.arpa', 'PTR', 'TEMP'),
    ('two.example', 'TXT', 'v=spf1 +all'),
    ('two.example', 'TXT', 'v=spf1 -all'),
    ('mixed.example', 'TXT', 'spf2.0/pra +all'),
    ('mixed.example', 'TXT', 'v=spf1 -all'),
]
cases = [
    ('192.0.2.129', 'u@example.org', 'pass'),
    ('192.0.2.70', 'u@example.org', 'pass'),
    ('192.0.2.10', 'u@example.org', 'fail'),
    ('192.0.2.129', 'u@la.example.org', 'pass'),
    ('192.0.2.10', 'u@softer.example', 'softfail'),
    ('192.0.2.10', 'u@incnone.example', 'permerror'),
    ('192.0.2.10', 'u@rdnone.example', 'permerror'),
    ('192.0.2.70', 'u@rdall.example', 'fail'),
    ('192.0.2.70', 'u@loop.example', 'permerror'),
    ('192.0.2.1', 'u@ten.example', 'pass'),
    ('192.0.2.1', 'u@eleven.example', 'permerror'),
    ('192.0.2.1', 'u@void2.example', 'fail'),
    ('192.0.2.1', 'u@void3.example', 'permerror'),
    ('192.0.2.1', 'u@t2.example', 'temperror'),
    ('192.0.2.1', 'u@t5.example', 'neutral'),
    ('192.0.2.1', 'a@two.example', 'permerror'),
    ('192.0.2.1', 'a@mixed.example', 'fail'),
    ('192.0.2.1', 'a@nowhere.example', 'none'),
    ('192.0.2.1', 'u@localhost', 'none'),
]


def test_include_redirect_limits():
    zone = base + [("example.com", "TXT", "v=spf1 mx -all")] + ext
    got = ours(zone, [(ip, s) for ip, s, _ in cases])
    for (ip, s, exp), g in zip(cases, got):
        compare(s, g, theirs(zone, ip, s), exp)


if __name__ == "__main__":
    run_tests(globals())

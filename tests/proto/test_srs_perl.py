# SPDX-License-Identifier: MIT
"""test_srs_perl.py - our SRS addresses against an independent implementation.

Perl's Mail::SRS (Debian's libmail-srs-perl; Mail::SRS->new gives its
Guarded flavour, SRS0 and SRS1 as libsrs2 writes them) and delivery/srs.h
(through tests/tools/srs_probe) get the same secret: Mail::SRS takes its
Secret as a Perl string, which holds any octets, so the 32 octets of an
srs.key are handed to it as they are (pack "H*"). Its HashLength is 4 and
its MaxAge 21 days, as ours. Its clock is the test's: time() is replaced
before the module is compiled, so both sides see the same day.

Checked: both make the same address, octet for octet, from the same sender
(plain, SRS0 of another forwarder, SRS1), each reverses what the other made,
both refuse the same forgeries and accept the same case-smashed addresses,
and they agree on the age limit, the 1024-day wrap included.

Where they differ on purpose (tested as differences): Mail::SRS accepts a
hash longer than HashLength when its prefix matches (HashMin); we take
exactly 4 characters. Mail::SRS dies on the null sender; we leave it null.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "srs_probe")
KEY = bytes((i * 37 + 11) & 0xFF for i in range(32)).hex()
OTHER_KEY = bytes((i * 53 + 5) & 0xFF for i in range(32)).hex()
DAY = 86400
T0 = 1700000000          # day 19675, "G3"
TURN_END = (19 * 1024 + 1020) * DAY + 7200   # 4 days before the wrap

PERL = r'''
use strict;
use warnings;
BEGIN { *CORE::GLOBAL::time = sub { $main::NOW } }
use Mail::SRS;
our $NOW = 0;
$| = 1;
$SIG{__WARN__} = sub { };    # its note on case-insensitive matches
my $srs = Mail::SRS->new(Secret => pack("H*", $ARGV[0]),
                         HashLength => $ARGV[1], HashMin => $ARGV[1], MaxAge => 21);
while (my $line = <STDIN>) {
    chomp $line;
    my ($cmd, @a) = split /\t/, $line, -1;
    my $r = eval {
        if ($cmd eq "forward") { $NOW = $a[2]; $srs->forward($a[0], $a[1]) }
        else { $NOW = $a[1]; $srs->reverse($a[0]) }
    };
    if (defined $r) { print "OK\t$r\n" }
    else { (my $e = $@) =~ s/\s+/ /g; print "ERR\t$e\n" }
}
'''


class Side:
    """One line-per-request process: srs_probe or the Perl above."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def ask(self, *fields):
        self.proc.stdin.write("\t".join(str(f) for f in fields) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line.endswith("\n"), "no answer to %r" % (fields,)
        code, _, text = line.rstrip("\n").partition("\t")
        return code, text


class Ours(Side):
    def __init__(self, key=KEY):
        super().__init__([PROBE, key])

    def forward(self, sender, domain, now):
        code, text = self.ask("forward", sender, domain, now)
        assert code in ("0", "1"), (sender, code)
        return text

    def reverse(self, address, now):
        """The reversed address, or None when refused (or no SRS)."""
        code, text = self.ask("reverse", address, now)
        return text if code == "1" else None


class Perl(Side):
    def __init__(self, key=KEY, hash_len=4):
        super().__init__(["perl", "-e", PERL, key, str(hash_len)])

    def forward(self, sender, domain, now):
        code, text = self.ask("forward", sender, domain, now)
        assert code == "OK", (sender, text)
        return text

    def reverse(self, address, now):
        code, text = self.ask("reverse", address, now)
        return text if code == "OK" else None


SENDERS = ["alice@orig.example", "Bob.Smith@Sub.Example.COM", "a=b=c@x.example",
           "+tag-me@x.example", "user@[192.0.2.1]", "x@y.z"]
TIMES = [T0, T0 + 3 * DAY + 5, TURN_END, TURN_END + 5 * DAY, 86399, 86400 * 1023]


def srs_senders():
    """SRS0 and SRS1 addresses of another forwarder (hop.test), as senders."""
    hop = Ours(OTHER_KEY)
    s0 = [hop.forward(s, "hop.test", T0) for s in SENDERS[:3]]
    s1 = [hop.forward(s, "hop2.test", T0) for s in s0]
    assert all(a.startswith("SRS0=") for a in s0) and all(a.startswith("SRS1=") for a in s1)
    return s0 + s1


def test_same_addresses():
    ours, perl = Ours(), Perl()
    n = 0
    for now in TIMES:
        for sender in SENDERS + srs_senders():
            a, b = ours.forward(sender, "fwd.test", now), perl.forward(sender, "fwd.test", now)
            assert a == b, (sender, now, a, b)
            n += 1
    # a sender of the forwarder's own domain is left as it is by both
    assert ours.forward("me@Fwd.Test", "fwd.test", T0) == "me@Fwd.Test"
    assert perl.forward("me@Fwd.Test", "fwd.test", T0) == "me@Fwd.Test"
    assert n == len(TIMES) * (len(SENDERS) + 6)


def test_each_reverses_the_other():
    ours, perl = Ours(), Perl()
    for now in TIMES:
        for sender in SENDERS + srs_senders():
            for maker, taker in ((ours, perl), (perl, ours)):
                address = maker.forward(sender, "fwd.test", now)
                back = taker.reverse(address, now + 2 * DAY)
                if sender.startswith("SRS1="):
                    # to the first hop: the SRS0 address it made
                    first = sender.split("=", 3)
                    assert back is not None and back.startswith("SRS0=")
                    assert back.endswith("@" + first[2]), (sender, back)
                else:
                    assert back == sender, (sender, address, back)
    # an SRS1 chain back to its start: fwd.test (KEY), then hop.test (OTHER_KEY)
    hop_ours, hop_perl = Ours(OTHER_KEY), Perl(OTHER_KEY)
    s0 = hop_perl.forward("carol@orig.example", "hop.test", T0)
    s1 = ours.forward(s0, "fwd.test", T0)
    assert perl.reverse(s1, T0) == s0 and ours.reverse(s1, T0) == s0
    assert hop_ours.reverse(s0, T0) == "carol@orig.example"


def test_same_forgeries_refused():
    ours, perl = Ours(), Perl()
    other_ours, other_perl = Ours(OTHER_KEY), Perl(OTHER_KEY)
    for sender in SENDERS[:3]:
        good = ours.forward(sender, "fwd.test", T0)
        local, _, domain = good.rpartition("@")
        tag, h, stamp, host, user = local.split("=", 4)
        forged = []
        for i in range(4):
            c = "q" if h[i].lower() != "q" else "z"
            forged.append("=".join([tag, h[:i] + c + h[i + 1:], stamp, host, user]))
        forged.append("=".join([tag, h, stamp, "evil.example", user]))
        forged.append("=".join([tag, h, stamp, host, user + "x"]))
        forged.append("=".join([tag, h, "A" if stamp[1] != "A" else "B", host, user]))
        forged.append("=".join([tag, h, stamp[0] + ("A" if stamp[1] != "A" else "B"), host,
                                user]))
        for f in forged:
            address = f + "@" + domain
            assert ours.reverse(address, T0) is None, address
            assert perl.reverse(address, T0) is None, address
        # another secret
        assert other_ours.reverse(good, T0) is None and other_perl.reverse(good, T0) is None
        # the case of the local part smashed: both still take it
        for smashed in (local.upper(), local.lower()):
            address = smashed + "@" + domain
            assert ours.reverse(address, T0) is not None, address
            assert perl.reverse(address, T0) is not None, address
            assert ours.reverse(address, T0).lower() == sender.lower()
            assert perl.reverse(address, T0).lower() == sender.lower()


def test_same_age_limit():
    ours, perl = Ours(), Perl()
    ages = [0, 1, 20, 21, 22, 30, 500, 1000, 1023, 1024, 1025, 1045, 1046]
    for made in (T0, TURN_END, TURN_END + 4 * DAY - 1, 7 * DAY):
        address = ours.forward("dave@orig.example", "fwd.test", made)
        for age in ages:
            now = made + age * DAY
            a, b = ours.reverse(address, now), perl.reverse(address, now)
            assert (a is None) == (b is None), (made, age, a, b)
            # 21 days, and again a whole turn of 1024 days later
            assert (a is not None) == (age % 1024 <= 21), (made, age, a)
        # a day "from the future" is 1023 days old to both
        assert ours.reverse(address, made - DAY) is None
        assert perl.reverse(address, made - DAY) is None


def test_where_they_differ():
    ours, perl = Ours(), Perl()
    # a hash longer than 4 whose first 4 match: Mail::SRS takes it, we do not
    perl5 = Perl(hash_len=5)
    long_hash = perl5.forward("erin@orig.example", "fwd.test", T0)
    assert len(long_hash.split("=")[1]) == 5
    assert perl.reverse(long_hash, T0) == "erin@orig.example"
    assert ours.reverse(long_hash, T0) is None
    short = long_hash[:9] + long_hash[10:]
    assert short == ours.forward("erin@orig.example", "fwd.test", T0)
    assert ours.reverse(short, T0) == "erin@orig.example"
    # the null sender: we keep it null, Mail::SRS has no answer for it
    assert ours.ask("forward", "", "fwd.test", T0) == ("1", "")
    assert perl.ask("forward", "", "fwd.test", T0)[0] == "ERR"


if __name__ == "__main__":
    if subprocess.run(["perl", "-MMail::SRS", "-e", "1"], capture_output=True).returncode:
        print("skip: Perl's Mail::SRS is not installed (libmail-srs-perl)")
        sys.exit(77)
    if not os.access(PROBE, os.X_OK):
        print("skip: %s was not built" % PROBE)
        sys.exit(77)
    run_tests(globals())

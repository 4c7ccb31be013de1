# SPDX-License-Identifier: MIT
"""The sender checks of mail from outside (smtp/smtp_checks.c) on live SMTP:
SPF of the MAIL FROM domain (and of the HELO name for the null sender)
against zones served by a real unbound on loopback, asked through the
server's asynchronous resolver; the result in an Authentication-Results
field on top of the stored message (RFC 8601), fields forged in our name
removed, foreign ones kept; a resolver that does not answer in time is a
temperror; submission is not checked; every example of RFC 7208 Appendix
A.1 from each of its hosts; a resolver without DNSSEC records
turns validation off rather than every answer into a failure."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402
from test_dns import Unbound  # noqa: E402

SILENT = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
SILENT.bind(("127.0.0.1", 0))

ZONES = """
  local-zone: "test." static
  local-data: 'pass.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"'
  local-data: 'fail.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"'
  local-data: 'soft.test. TXT "v=spf1 ~all"'
  local-data: 'neutral.test. TXT "v=spf1 ?all"'
  local-data: 'two.test. TXT "v=spf1 -all"'
  local-data: 'two.test. TXT "v=spf1 +all"'
  local-data: 'inc.test. TXT "v=spf1 include:pass.test -all"'
  local-data: 'mxed.test. TXT "v=spf1 mx -all"'
  local-data: "mxed.test. MX 10 mx.mxed.test."
  local-data: "mx.mxed.test. A 127.0.0.1"
  local-data: 'helo.test. TXT "v=spf1 a -all"'
  local-data: "helo.test. A 127.0.0.1"
  local-data: "none.test. A 192.0.2.9"
  local-zone: "slow.test." transparent
"""
# slow.test is asked of a server that never answers
CLAUSES = ("forward-zone:\n  name: \"slow.test.\"\n  forward-addr: 127.0.0.1@%d\n"
           % SILENT.getsockname()[1])

MSG = b"From: a@remote.test\r\nTo: u@example.test\r\nSubject: hi\r\n\r\nbody\r\n"

DNS = None
SERVER = None


def server():
    global DNS, SERVER
    if SERVER is None:
        DNS = Unbound(zones=ZONES, clauses=CLAUSES)
        SERVER = Server(extra={"filter.spf": "yes", "filter.dns_timeout": "3s",
                               "delivery.resolver": "127.0.0.1:%d" % DNS.port}, smtp=True)
        SERVER.add_user("u@example.test")
        SERVER.start()
    return SERVER


def send(sender, msg=MSG, helo="client.example"):
    s = server()
    c = s.smtp(ehlo=False)
    c.ehlo(helo)
    c.sendmail(sender, ["u@example.test"], msg)
    c.quit()


def last_message():
    msgs = server().messages("u@example.test")
    assert msgs
    return msgs[-1]


def header(msg):
    return msg.split(b"\r\n\r\n", 1)[0].decode()


def authres(msg):
    """The Authentication-Results fields of a message, unfolded."""
    out = []
    for f in header(msg).replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n"):
        if f.lower().startswith("authentication-results:"):
            out.append(f.split(":", 1)[1].strip())
    return out


def spf_of(sender, helo="client.example"):
    send(sender, helo=helo)
    ar = authres(last_message())
    assert len(ar) == 1, ar
    assert ar[0].startswith("mail.example.test;"), ar
    return ar[0]


def test_pass_fail_softfail_neutral_none():
    ar = spf_of("a@pass.test")
    assert "spf=pass" in ar and "smtp.mailfrom=a@pass.test" in ar, ar
    assert "spf=fail" in spf_of("a@fail.test")
    assert "spf=softfail" in spf_of("a@soft.test")
    assert "spf=neutral" in spf_of("a@neutral.test")
    assert "spf=none" in spf_of("a@none.test")
    assert "spf=none" in spf_of("a@nxdomain.test")
    assert "spf=pass" in spf_of("a@inc.test")
    assert "spf=pass" in spf_of("a@mxed.test")


def test_permerror_two_records():
    assert "spf=permerror" in spf_of("a@two.test")


def test_null_sender_checks_helo():
    ar = spf_of("", helo="helo.test")
    assert "spf=pass" in ar and "smtp.helo=helo.test" in ar, ar


def message_unanswered(s):
    """A raw connection that sent a whole message and waits for no reply."""
    raw = socket.create_connection(("127.0.0.1", s.smtp_port), timeout=10)
    f = raw.makefile("rb")
    f.readline()
    for line in (b"EHLO c.example", b"MAIL FROM:<a@pass.test>",
                 b"RCPT TO:<u@example.test>", b"DATA"):
        raw.sendall(line + b"\r\n")
        while f.readline()[3:4] == b"-":
            pass
    raw.sendall(MSG + b".\r\n")
    return raw


def test_resolver_slower_than_the_time_limit():
    """A resolver that never answers: after [filter] dns_timeout the
    message goes on with spf=temperror. A client that leaves meanwhile
    (after its final dot) may find it stored, as after any end of DATA
    whose reply it did not wait for (RFC 1047); never twice, and the
    server goes on."""
    s = Server(extra={"filter.spf": "yes", "filter.dns_timeout": "2s",
                      "delivery.resolver": "127.0.0.1:%d" % SILENT.getsockname()[1]},
               smtp=True)
    try:
        s.add_user("u@example.test")
        s.start()
        c = s.smtp()
        t0 = time.monotonic()
        c.sendmail("a@pass.test", ["u@example.test"], MSG)
        took = time.monotonic() - t0
        c.quit()
        assert 1.5 < took < 10, took
        msgs = s.messages("u@example.test")
        assert len(msgs) == 1 and "spf=temperror" in authres(msgs[0])[0], msgs
        assert 'spf_reason="DNS time limit"' in s.log_text()
        raw = message_unanswered(s)
        time.sleep(0.5)
        raw.close()
        time.sleep(2.5)  # past the time limit
        n = len(s.messages("u@example.test"))
        assert n in (1, 2), n
        print("client gone mid-checks: %s" % ("stored" if n == 2 else "not stored"))
        c = s.smtp()
        c.noop()
        c.quit()
        # the server stopped while a message waits for its answers: the
        # questions are cancelled, the server ends cleanly (stop() checks)
        raw = message_unanswered(s)
        time.sleep(0.3)
    finally:
        s.stop()
        s.cleanup()


def test_forged_fields_removed_foreign_kept():
    forged = (b"Authentication-Results: mail.example.test; spf=pass smtp.mailfrom=x@fail.test\r\n"
              b"Authentication-Results: (comment) MAIL.Example.Test ;\r\n\tdkim=pass\r\n"
              b"Authentication-Results: other.example; spf=pass smtp.mailfrom=x@y\r\n")
    send("a@fail.test", msg=forged + MSG)
    ar = authres(last_message())
    assert len(ar) == 2, ar
    assert ar[0].startswith("mail.example.test;") and "spf=fail" in ar[0], ar
    assert ar[1].startswith("other.example;"), ar
    log = server().log_text()
    assert "checks spf=fail spf_domain=fail.test" in log and "forged_authres=2" in log, log[-2000:]


def test_resolver_without_dnssec():
    """System resolvers that pass no DNSSEC records (here an unbound that
    serves an unsigned root of its own, the one nameserver of the server's
    /etc/resolv.conf, bind-mounted in a mount namespace of its own) fail the
    root's trust anchor: found at start, said in the log, and validation is
    turned off, so answers still come (without the check every answer would
    be bogus: spf=temperror)."""
    if not os.path.exists("/usr/share/dns/root.key"):
        print("skip: no /usr/share/dns/root.key (dns-root-data)")
        return
    if os.geteuid() != 0:
        print("skip: needs root for port 53 and a mount namespace")
        return
    dns = Unbound(zones='  local-zone: "." static\n'
                        "  local-data: 'spf.example.net. TXT \"v=spf1 ip4:127.0.0.0/8 -all\"'\n",
                  addr="127.0.216.53", port=53)
    s = Server(extra={"filter.spf": "yes", "filter.dns_timeout": "3s"}, smtp=True)
    resolv = os.path.join(s.dir, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.216.53\n")
    s.command_prefix = ["unshare", "-m", "sh", "-c",
                        'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
    try:
        s.add_user("u@example.test")
        s.start()
        c = s.smtp()
        c.sendmail("a@spf.example.net", ["u@example.test"], MSG)
        c.quit()
        ar = authres(s.messages("u@example.test")[-1])
        assert "spf=pass" in ar[0], ar
        log = s.log_text()
        assert "the resolvers of /etc/resolv.conf" in log and "DNSSEC validation is off" in log, \
            log[-2000:]
    finally:
        s.stop()
        s.cleanup()
        dns.stop()

# RFC 7208 Appendix A: its zone, with 192.0.2.N as 198.18.0.N (RFC 2544's
# range, which no other test uses; libunbound serves TEST-NET-1's reverse
# zone itself), the clients on loopback aliases of those addresses; every
# example of A.1 on its own name eN.example.com (the ptr one on example.com
# itself, as the RFC has it)
RFC_NET = "198.18.0."
RFC_HOSTS = (10, 11, 65, 66, 129, 130, 140)
RFC_EXAMPLES = [  # (domain, record, the hosts that pass; the others fail)
    ("e1.example.com", "v=spf1 +all", RFC_HOSTS),
    ("e2.example.com", "v=spf1 a -all", (10, 11)),
    ("e3.example.com", "v=spf1 a:example.org -all", ()),
    ("e4.example.com", "v=spf1 mx -all", (129, 130)),
    ("e5.example.com", "v=spf1 mx:example.org -all", (140,)),
    ("e6.example.com", "v=spf1 mx mx:example.org -all", (129, 130, 140)),
    ("e7.example.com", "v=spf1 mx/30 mx:example.org/30 -all", (129, 130, 140)),
    ("example.com", "v=spf1 ptr -all", (10, 11, 65, 66, 129, 130)),
    ("e9.example.com", "v=spf1 ip4:%s128/28 -all" % RFC_NET, (129, 130, 140)),
]


def rfc7208_zones():
    z = ['  local-zone: "example.com." static', '  local-zone: "example.org." static',
         '  local-zone: "0.18.198.in-addr.arpa." static']
    for name, record, _ in RFC_EXAMPLES:
        z += ["  local-data: '%s. TXT \"%s\"'" % (name, record),
              '  local-data: "%s. MX 10 mail-a.example.com."' % name,
              '  local-data: "%s. MX 20 mail-b.example.com."' % name,
              '  local-data: "%s. A %s10"' % (name, RFC_NET),
              '  local-data: "%s. A %s11"' % (name, RFC_NET)]
    for host, n in (("amy.example.com", 65), ("bob.example.com", 66),
                    ("mail-a.example.com", 129), ("mail-b.example.com", 130),
                    ("mail-c.example.org", 140)):
        z.append('  local-data: "%s. A %s%d"' % (host, RFC_NET, n))
    z.append('  local-data: "example.org. MX 10 mail-c.example.org."')
    for n, host in ((10, "example.com"), (11, "example.com"), (65, "amy.example.com"),
                    (66, "bob.example.com"), (129, "mail-a.example.com"),
                    (130, "mail-b.example.com"), (140, "mail-c.example.org")):
        z.append('  local-data: "%d.0.18.198.in-addr.arpa. PTR %s."' % (n, host))
    return "\n".join(z) + "\n"


def test_rfc7208_appendix_a_examples():
    """Each example of RFC 7208 Appendix A.1, from each of its hosts: the
    hosts it names pass, the others fail (-all)."""
    if os.geteuid() != 0:
        print("skip: needs root for loopback aliases")
        return
    import re
    import smtplib
    import subprocess
    dns = Unbound(zones=rfc7208_zones())
    s = Server(extra={"filter.spf": "yes", "filter.dns_timeout": "5s",
                      "delivery.dnssec_trust_anchor": "none",
                      "delivery.resolver": "127.0.0.1:%d" % dns.port}, smtp=True)
    added = []
    try:
        for n in RFC_HOSTS:
            subprocess.run(["ip", "addr", "add", "%s%d/32" % (RFC_NET, n), "dev", "lo"],
                           check=True, capture_output=True)
            added.append(n)
        s.add_user("u@example.test")
        s.start()
        want, qids = {}, {}
        for name, _, passing in RFC_EXAMPLES:
            for n in RFC_HOSTS:
                c = smtplib.SMTP("127.0.0.1", s.smtp_port, timeout=30,
                                 source_address=("%s%d" % (RFC_NET, n), 0))
                c.ehlo("client.example")
                c.mail("sender@" + name)
                c.rcpt("u@example.test")
                code, reply = c.data(MSG)
                c.quit()
                assert code == 250, (code, reply)
                qid = reply.decode().split()[-1]
                qids[qid] = (name, n)
                want[(name, n)] = "pass" if n in passing else "fail"
        log = s.log_text()
        got = {qids[q]: r for q, r in re.findall(r"qid=(\S+) checks spf=(\S+)", log)
               if q in qids}
        assert len(got) == len(want) == len(RFC_EXAMPLES) * len(RFC_HOSTS), (len(got), len(want))
        wrong = {k: (got.get(k), w) for k, w in want.items() if got.get(k) != w}
        assert not wrong, wrong
    finally:
        for n in added:
            subprocess.run(["ip", "addr", "del", "%s%d/32" % (RFC_NET, n), "dev", "lo"],
                           capture_output=True)
        s.stop()
        s.cleanup()
        dns.stop()


def test_submission_is_not_checked():
    s = server()
    c = s.submission("u@example.test")
    c.sendmail("u@example.test", ["u@example.test"], MSG)
    c.quit()
    assert authres(last_message()) == []


if __name__ == "__main__":
    try:
        run_tests(globals())
    finally:
        if SERVER is not None:
            SERVER.stop()
            SERVER.cleanup()
        if DNS is not None:
            DNS.stop()

# SPDX-License-Identifier: MIT
"""Coexistence with a second mail system (here a second mailroom on loopback):
one SMTP domain shared by both (internal relay: each delivers its own users
and forwards the others), separate domains routed to each other, and a
message that would loop between the two being stopped."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_delivery as D  # noqa: E402


def two_systems(a_type, b_type):
    a = D.server()  # has alice@example.test (authoritative by default)
    b = D.server()
    b.cli("user", "remove", D.ALICE)
    b.cli("domain", "remove", "example.test")  # A's own domain
    for srv, typ in ((a, a_type), (b, b_type)):
        srv.cli("domain", "add", "shared.test", "--type", typ)
    a.cli("user", "add", "ann@shared.test", "--password-stdin", stdin=b"pw-ann\n")
    b.cli("domain", "add", "other.test")
    b.cli("user", "add", "bob@shared.test", "--password-stdin", stdin=b"pw-bob\n")
    b.cli("user", "add", "olga@other.test", "--password-stdin", stdin=b"pw-olga\n")
    a.start()
    b.start()
    return a, b


def count(srv, user, pw):
    c = srv.poplib_stls(user, pw)
    n = c.stat()[0]
    c.quit()
    return n


def test_shared_domain_and_routed_domains():
    a, b = two_systems("internal-relay", "authoritative")
    try:
        a.cli("route", "add", "shared.test", "127.0.0.1:%d" % b.smtp_port, "--tls", "none")
        a.cli("route", "add", "other.test", "127.0.0.1:%d" % b.smtp_port, "--tls", "none")
        b.cli("route", "add", "example.test", "127.0.0.1:%d" % a.smtp_port, "--tls", "none")
        s = a.smtp()
        # ann lives on A, bob on B: one domain, two systems
        s.sendmail("x@remote.test", ["ann@shared.test", "bob@shared.test"],
                   b"Subject: shared\r\n\r\nx\r\n")
        s.quit()
        assert count(a, "ann@shared.test", "pw-ann") == 1
        D.wait(lambda: count(b, "bob@shared.test", "pw-bob") == 1, what="bob on B")
        # separate domains routed to each other, in both directions
        s = a.submission(D.ALICE)
        s.sendmail(D.ALICE, ["olga@other.test"], b"Subject: to B\r\n\r\nx\r\n")
        # unknown on both systems: B refuses, A reports to the sender
        s.sendmail(D.ALICE, ["nobody@shared.test"], b"Subject: lost\r\n\r\nx\r\n")
        s.quit()
        D.wait(lambda: count(b, "olga@other.test", "pw-olga") == 1, what="olga on B")
        c = b.submission("olga@other.test", "pw-olga")
        c.sendmail("olga@other.test", [D.ALICE], b"Subject: reply\r\n\r\nx\r\n")
        c.quit()
        D.wait(lambda: any(b"Subject: reply" in m for m in a.messages(D.ALICE)),
               what="reply on A")
        rep = D.wait(lambda: D.reports(a), what="report for nobody")[0]
        f = [x for x in D.status_fields(rep) if x.get("Final-Recipient")][0]
        assert f["Final-Recipient"] == "rfc822; nobody@shared.test" and f["Status"] == "5.1.1"
        assert D.queue(a) == [] and D.queue(b) == []
    finally:
        for srv in (a, b):
            srv.stop()
            srv.cleanup()


def test_loop_between_systems_is_stopped():
    # both think the other one has the unknown recipients: the message goes
    # back and forth until the Received: count stops it (554 5.4.6)
    a, b = two_systems("internal-relay", "internal-relay")
    try:
        a.cli("route", "add", "shared.test", "127.0.0.1:%d" % b.smtp_port, "--tls", "none")
        b.cli("route", "add", "shared.test", "127.0.0.1:%d" % a.smtp_port, "--tls", "none")
        b.cli("route", "add", "example.test", "127.0.0.1:%d" % a.smtp_port, "--tls", "none")
        s = a.submission(D.ALICE)
        s.sendmail(D.ALICE, ["ghost@shared.test"], b"Subject: loop\r\n\r\nx\r\n")
        s.quit()
        rep = D.wait(lambda: D.reports(a), timeout=90, what="loop report")[0]
        f = [x for x in D.status_fields(rep) if x.get("Final-Recipient")][0]
        assert f["Status"] == "5.4.6", f["Status"]
        D.wait(lambda: D.queue(a) == [] and D.queue(b) == [], what="queues empty")
        assert len(D.reports(a)) == 1
    finally:
        for srv in (a, b):
            srv.stop()
            srv.cleanup()


if __name__ == "__main__":
    D.run_tests(globals())

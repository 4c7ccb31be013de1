# SPDX-License-Identifier: MIT
"""Quota levels and sending limits from the admin CLI: `user set` and
`domain set` with one option per limit, `default` for the domain's value, the
order quota-warn <= quota-send <= quota, and what `user list` and `domain
list` show of them in text and JSON. Every refusal is checked by its exact
text and sysexits(3) code, with nothing changed."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
LIMITS = ("quota-warn", "quota-send", "quota", "max-message-size", "max-recipients",
          "messages-per-hour", "messages-per-day", "recipients-per-hour", "recipients-per-day")
K, M = 1024, 1024 * 1024


def users(srv):
    return {u["address"]: u for u in json.loads(srv.cli("user", "list", "--json").stdout)}


def domains(srv):
    return {d["name"]: d for d in json.loads(srv.cli("domain", "list", "--json").stdout)}


def text_rows(srv, *args):
    """The text listing as lists of words, by its first word."""
    lines = srv.cli(*args).stdout.decode().splitlines()
    return lines[0].split(), {ln.split()[0]: ln.split() for ln in lines[1:]}


def refused(srv, args, code, text):
    before = (users(srv), domains(srv))
    p = srv.cli(*args, check=False)
    assert (p.returncode, p.stderr, p.stdout) == (code, ("mailroom: %s\n" % text).encode(),
                                                  b""), (args, p.returncode, p.stderr)
    assert (users(srv), domains(srv)) == before, args  # nothing changed


def setup(srv):
    srv.add_user(ALICE)
    srv.add_user(BOB)


def test_user_set_every_limit_and_back_to_default():
    with Server() as srv:
        setup(srv)
        u = users(srv)[ALICE]
        assert u["own"] == {n: None for n in LIMITS}, u
        assert u["effective"] == {n: 0 for n in LIMITS}, u
        srv.cli("user", "set", ALICE, "--quota-warn", "8M", "--quota-send", "9M", "--quota",
                "10M", "--max-message-size", "2M", "--max-recipients", "50",
                "--messages-per-hour", "100", "--messages-per-day", "500",
                "--recipients-per-hour", "200", "--recipients-per-day", "1000")
        want = {"quota-warn": 8 * M, "quota-send": 9 * M, "quota": 10 * M,
                "max-message-size": 2 * M, "max-recipients": 50, "messages-per-hour": 100,
                "messages-per-day": 500, "recipients-per-hour": 200,
                "recipients-per-day": 1000}
        u = users(srv)[ALICE]
        assert u["own"] == want and u["effective"] == want, u
        assert u["quota"] == 10 * M  # the key of old: the effective receive quota
        assert users(srv)[BOB]["effective"] == {n: 0 for n in LIMITS}  # bob untouched
        # 0 is none of its own; default is the domain's (none here)
        srv.cli("user", "set", ALICE, "--max-recipients", "0", "--quota-warn", "default")
        u = users(srv)[ALICE]
        assert u["own"]["max-recipients"] == 0 and u["effective"]["max-recipients"] == 0
        assert u["own"]["quota-warn"] is None and u["effective"]["quota-warn"] == 0
        assert u["own"]["quota-send"] == 9 * M  # the rest as it was


def test_domain_defaults_inherited_and_overridden():
    with Server() as srv:
        setup(srv)
        srv.cli("domain", "add", "other.test")
        p = srv.cli("domain", "set", "example.test", "--quota-warn", "800K", "--quota", "1M",
                    "--max-recipients", "20", "--messages-per-day", "300")
        assert p.stdout == b"domain example.test updated\n", p.stdout
        d = domains(srv)
        assert d["example.test"]["defaults"] == dict(
            {n: 0 for n in LIMITS}, **{"quota-warn": 800 * K, "quota": M,
                                      "max-recipients": 20, "messages-per-day": 300}), d
        assert d["other.test"]["defaults"] == {n: 0 for n in LIMITS}, d
        head, rows = text_rows(srv, "domain", "list")
        assert head == ["DOMAIN", "TYPE", "MAILBOXES", "ALIAS-OF", "DEFAULTS"], head
        assert rows["example.test"] == ["example.test", "authoritative", "2", "-",
                                        "quota-warn=800K", "quota=1M", "max-recipients=20",
                                        "messages-per-day=300"], rows
        assert rows["other.test"][-1] == "-", rows
        # both mailboxes inherit; bob's own values win over the domain's
        srv.cli("user", "set", BOB, "--quota", "2M", "--max-recipients", "0")
        u = users(srv)
        assert u[ALICE]["effective"]["quota"] == M and u[ALICE]["quota"] == M, u[ALICE]
        assert u[ALICE]["own"]["quota"] is None
        assert u[BOB]["effective"]["quota"] == 2 * M and u[BOB]["quota"] == 2 * M
        assert u[BOB]["effective"]["max-recipients"] == 0  # own "none" beats 20
        assert u[BOB]["effective"]["quota-warn"] == 800 * K  # not set: the domain's
        # the domain's quota is the one `deliver` holds alice to
        srv.cli("domain", "set", "example.test", "--quota", "1K", "--quota-warn", "0")
        p = srv.cli("deliver", ALICE, stdin=b"Subject: big\n\n" + b"x" * 2000, check=False)
        assert p.returncode == 75, (p.returncode, p.stderr)  # over quota: retry later
        assert srv.deliver(BOB, "Subject: big\n\n" + "x" * 2000).returncode == 0
        # a domain default back to none
        srv.cli("domain", "set", "example.test", "--quota", "0")
        assert srv.deliver(ALICE, "Subject: big\n\n" + "x" * 2000).returncode == 0
        assert users(srv)[ALICE]["quota"] == 0
        # a new mailbox takes the domain's values
        srv.cli("domain", "set", "example.test", "--messages-per-hour", "7")
        srv.add_user("carol@example.test")
        assert users(srv)["carol@example.test"]["effective"]["messages-per-hour"] == 7


def test_user_list_shows_use_against_each_level():
    with Server() as srv:
        setup(srv)
        srv.cli("domain", "set", "example.test", "--quota", "10K")
        srv.cli("user", "set", ALICE, "--quota-warn", "2K", "--quota-send", "4K")
        body = b"Subject: x\n\n" + b"y" * (1024 - len(b"Subject: x\r\n\r\n") - 2) + b"\n"
        srv.cli("deliver", ALICE, stdin=body)  # 1024 octets in wire form
        u = users(srv)[ALICE]
        assert u["bytes"] == 1024 and u["messages"] == 1, u
        head, rows = text_rows(srv, "user", "list")
        assert head == ["ADDRESS", "MESSAGES", "BYTES", "QUOTA-WARN", "QUOTA-SEND", "QUOTA",
                        "FLAGS"], head
        # own levels: size and share; the domain's: marked default
        assert rows[ALICE] == [ALICE, "1", "1024", "2K", "50%", "4K", "25%", "10K", "10%",
                               "default", "pop3", "submission"], rows[ALICE]
        assert rows[BOB] == [BOB, "0", "0", "-", "-", "10K", "0%", "default", "pop3",
                             "submission"], rows[BOB]
        # past a level the share goes past 100%
        srv.cli("user", "set", ALICE, "--quota-warn", "512", "--quota-send", "1000")
        _, rows = text_rows(srv, "user", "list", "example.test")
        assert rows[ALICE][3:7] == ["512", "200%", "1000", "102%"], rows[ALICE]


def test_order_of_the_levels():
    with Server() as srv:
        setup(srv)
        srv.cli("user", "set", ALICE, "--quota-warn", "8M", "--quota-send", "9M", "--quota",
                "10M")
        order = "the levels go quota-warn <= quota-send <= quota"
        refused(srv, ["user", "set", ALICE, "--quota-warn", "12M"], 65,
                "user set: %s would have quota-warn 12M above quota-send 9M: %s" % (ALICE,
                                                                                   order))
        refused(srv, ["user", "set", ALICE, "--quota", "5M"], 65,
                "user set: %s would have quota-warn 8M above quota 5M: %s" % (ALICE, order))
        refused(srv, ["user", "set", ALICE, "--quota-send", "11M"], 65,
                "user set: %s would have quota-send 11M above quota 10M: %s" % (ALICE, order))
        # equal levels are in order; moving all three at once is checked as a whole
        srv.cli("user", "set", ALICE, "--quota-warn", "20M", "--quota-send", "20M", "--quota",
                "20M")
        # a level that is not set takes no part
        srv.cli("user", "set", ALICE, "--quota-send", "0", "--quota", "0")
        srv.cli("user", "set", ALICE, "--quota-warn", "1G")
        # the effective values count: a domain's quota under the mailbox's warning
        srv.cli("user", "set", ALICE, "--quota-warn", "default", "--quota", "default")
        srv.cli("user", "set", BOB, "--quota-warn", "3M")
        refused(srv, ["domain", "set", "example.test", "--quota-warn", "2M", "--quota", "1M"],
                65, "domain set: example.test would have quota-warn 2M above quota 1M: %s"
                % order)
        srv.cli("domain", "set", "example.test", "--quota", "2M")
        refused(srv, ["user", "set", ALICE, "--quota-warn", "3M"], 65,
                "user set: %s would have quota-warn 3M above quota 2M (the domain's): %s"
                % (ALICE, order))
        refused(srv, ["user", "set", ALICE, "--quota-send", "default", "--quota-warn",
                      "3M"], 65,
                "user set: %s would have quota-warn 3M above quota 2M (the domain's): %s"
                % (ALICE, order))
        # a sending limit alone is set even where the domain's levels disagree
        # with the mailbox's own (bob: warn 3M, the domain's quota 2M)
        srv.cli("user", "set", BOB, "--max-recipients", "5")
        assert users(srv)[BOB]["effective"]["max-recipients"] == 5


def test_refusals():
    with Server() as srv:
        setup(srv)
        srv.cli("alias", "add", "sales@example.test", ALICE)
        srv.cli("domain", "add", "example.net", "--alias-of", "example.test")
        size = ("is not a size from 0 (none) to 1048576G: give bytes, or a number with K, M "
                "or G")
        for args, code, text in [
            (["user", "set", ALICE, "--quota-warn", "lots"], 64,
             "user set: --quota-warn 'lots' %s, or default (the domain's)" % size),
            (["user", "set", ALICE, "--quota-send", "-1"], 64,
             "user set: --quota-send '-1' %s, or default (the domain's)" % size),
            (["user", "set", ALICE, "--max-message-size", "2000000G"], 64,
             "user set: --max-message-size '2000000G' %s, or default (the domain's)" % size),
            (["user", "set", ALICE, "--max-recipients", "5K"], 64,
             "user set: --max-recipients '5K' is not a number from 0 (none) to 1000000000, "
             "or default (the domain's)"),
            (["user", "set", ALICE, "--messages-per-hour", ""], 64,
             "user set: --messages-per-hour '' is not a number from 0 (none) to 1000000000, "
             "or default (the domain's)"),
            (["user", "set", ALICE, "--recipients-per-day", "1000000001"], 64,
             "user set: --recipients-per-day '1000000001' is not a number from 0 (none) to "
             "1000000000, or default (the domain's)"),
            (["user", "set", ALICE, "--messages-per-day"], 64,
             "user: option --messages-per-day needs a value"),
            (["user", "set", "nobody@example.test", "--quota", "1M"], 67,
             "mailbox nobody@example.test does not exist"),
            (["user", "set", "sales@example.test", "--quota-warn", "1M"], 67,
             "mailbox sales@example.test does not exist"),
            (["user", "add", "x@example.test", "--quota-warn", "1M", "--password-stdin"], 64,
             "user add does not take --quota-warn (see mailroom user --help)"),
            (["user", "list", "--quota", "1M"], 64,
             "user list does not take --quota (see mailroom user --help)"),
            (["domain", "set", "example.test", "--quota", "default"], 64,
             "domain set: --quota 'default' %s" % size),
            (["domain", "set", "example.test", "--recipients-per-hour", "x"], 64,
             "domain set: --recipients-per-hour 'x' is not a number from 0 (none) to "
             "1000000000"),
            (["domain", "set", "example.test"], 64,
             "domain set: nothing to change: give a quota level (--quota-warn, --quota-send, "
             "--quota) or a sending limit (see mailroom domain --help)"),
            (["domain", "set"], 64,
             "domain set: NAME is missing, as in: domain set example.org"),
            (["domain", "set", "nowhere.test", "--quota", "1M"], 67,
             "domain nowhere.test does not exist"),
            (["domain", "set", "example.net", "--quota", "1M"], 65,
             "domain example.net is an alias of example.test: its mailboxes have the "
             "defaults of example.test"),
            (["domain", "add", "new.test", "--quota", "1M"], 64,
             "domain add: the quota levels and sending limits go with domain set"),
            (["domain", "list", "--max-recipients", "1"], 64,
             "domain list: the quota levels and sending limits go with domain set"),
        ]:
            refused(srv, args, code, text)


def test_help_names_every_option():
    with Server() as srv:
        for verb in ("user", "domain"):
            out = srv.cli(verb, "--help").stdout.decode()
            for name in LIMITS:
                assert "--%s" % name in out, (verb, name)
        assert "domain set NAME" in srv.cli("domain", "--help").stdout.decode()
        assert "default" in srv.cli("user", "--help").stdout.decode()


def test_postmaster_and_domain_alias_rows():
    with Server() as srv:
        setup(srv)
        srv.cli("domain", "add", "example.net", "--alias-of", "example.test")
        srv.cli("domain", "set", "example.test", "--quota", "5M")
        # the built-in postmaster has no domain: only its own values count
        u = users(srv)["postmaster"]
        assert u["effective"]["quota"] == 0 and u["own"]["quota"] is None, u
        srv.cli("user", "set", "postmaster", "--quota-warn", "1M", "--quota", "2M")
        u = users(srv)["postmaster"]
        assert u["effective"]["quota-warn"] == M and u["quota"] == 2 * M, u
        # a domain alias lists no defaults: its mailboxes are the target's
        d = domains(srv)
        assert d["example.net"]["defaults"] is None, d
        _, rows = text_rows(srv, "domain", "list")
        assert rows["example.net"] == ["example.net", "authoritative", "-", "example.test",
                                       "-"], rows


if __name__ == "__main__":
    sys.exit(run_tests(globals()))

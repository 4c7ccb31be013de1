# SPDX-License-Identifier: MIT
"""test_forward_cli.py - `mailroom user set ADDRESS --forward ...|--no-forward
[--keep-copy yes|no]` (SPEC §6): what it stores, what it refuses and with
which exit code (sysexits: 64 usage, 65 data, 67 no such user/target).

The stored forward (comma-separated normalised targets, NULL for none) and
keep_copy are read from the store's tables (Server.db_query, on SQLite or
PostgreSQL), and `user list` shows them (--json: "forward" and "keep_copy").
The delivery of forwarded mail is test_forward.py's.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

EX_USAGE, EX_DATAERR, EX_NOUSER = 64, 65, 67


def row(srv, address):
    rows = srv.db_query("SELECT forward, keep_copy FROM mailboxes WHERE address = ?",
                        (address,))
    return (rows[0][0], bool(rows[0][1])) if rows else None


def setup():
    srv = Server()
    srv.add_user("alice@a.test")
    srv.add_user("bob@a.test")
    srv.cli("domain", "add", "relay.test", "--type", "internal-relay")
    srv.cli("alias", "add", "al@a.test", "alice@a.test")
    return srv


def fails(srv, want_rc, *args, text=None):
    p = srv.cli("user", "set", *args, check=False)
    err = p.stderr.decode()
    assert p.returncode == want_rc, (args, p.returncode, err)
    assert err.startswith("mailroom: ") or err.startswith("mailroom "), err
    if text is not None:
        assert text in err, (args, err)
    return err


def test_forward_set_and_clear():
    with setup() as srv:
        assert row(srv, "alice@a.test") == (None, True)
        p = srv.cli("user", "set", "alice@a.test", "--forward",
                    "Bob@A.Test, carol@Elsewhere.Example,bob@a.test")
        assert b"alice@a.test" in p.stdout
        assert row(srv, "alice@a.test") == ("bob@a.test,carol@elsewhere.example", True)
        srv.cli("user", "set", "alice@a.test", "--keep-copy", "no")
        assert row(srv, "alice@a.test") == ("bob@a.test,carol@elsewhere.example", False)
        # a new list of targets keeps the keep-copy setting
        srv.cli("user", "set", "alice@a.test", "--forward", "dave@relay.test")
        assert row(srv, "alice@a.test") == ("dave@relay.test", False)
        srv.cli("user", "set", "alice@a.test", "--forward", "bob@a.test", "--keep-copy", "yes")
        assert row(srv, "alice@a.test") == ("bob@a.test", True)
        srv.cli("user", "set", "alice@a.test", "--no-forward")
        assert row(srv, "alice@a.test")[0] is None
        # the next forward keeps a copy unless told
        srv.cli("user", "set", "alice@a.test", "--keep-copy", "no", "--forward",
                "x@elsewhere.example")
        assert row(srv, "alice@a.test") == ("x@elsewhere.example", False)
        srv.cli("user", "set", "alice@a.test", "--no-forward")
        srv.cli("user", "set", "alice@a.test", "--forward", "x@elsewhere.example")
        assert row(srv, "alice@a.test") == ("x@elsewhere.example", True)
        # with other settings in one go
        srv.cli("user", "set", "bob@a.test", "--pop3", "no", "--forward", "alice@a.test")
        assert row(srv, "bob@a.test") == ("alice@a.test", True)
        # 32 targets are fine
        many = ",".join("u%d@elsewhere.example" % i for i in range(32))
        srv.cli("user", "set", "bob@a.test", "--forward", many)
        assert row(srv, "bob@a.test")[0] == many


def test_forward_refused():
    with setup() as srv:
        srv.cli("user", "set", "alice@a.test", "--forward", "bob@a.test", "--keep-copy", "no")
        before = row(srv, "alice@a.test")
        # usage: conflicting or empty options, bad yes/no, too many targets
        fails(srv, EX_USAGE, "alice@a.test", "--forward", "bob@a.test", "--no-forward")
        fails(srv, EX_USAGE, "alice@a.test", "--no-forward", "--keep-copy", "yes")
        fails(srv, EX_USAGE, "alice@a.test", "--forward", "", text="--forward")
        fails(srv, EX_USAGE, "alice@a.test", "--forward", " , ,")
        fails(srv, EX_USAGE, "alice@a.test", "--keep-copy", "maybe", text="yes or no")
        fails(srv, EX_USAGE, "alice@a.test", "--forward",
              ",".join("u%d@elsewhere.example" % i for i in range(33)), text="32")
        fails(srv, EX_USAGE, "alice@a.test", "--forward")
        # data: bad addresses, the mailbox itself by any name
        fails(srv, EX_DATAERR, "alice@a.test", "--forward", "not-an-address",
              text="not-an-address")
        fails(srv, EX_DATAERR, "alice@a.test", "--forward", "bob@a.test,<x@y.example>")
        for me in ("alice@a.test", "ALICE@a.test", "al@a.test"):
            fails(srv, EX_DATAERR, "alice@a.test", "--forward", me, text="alice@a.test")
        # no such target in an authoritative domain, no such mailbox
        fails(srv, EX_NOUSER, "alice@a.test", "--forward", "nobody@a.test",
              text="nobody@a.test")
        fails(srv, EX_NOUSER, "nobody@a.test", "--forward", "bob@a.test",
              text="nobody@a.test")
        fails(srv, EX_NOUSER, "nobody@a.test", "--no-forward")
        assert row(srv, "alice@a.test") == before
        # --keep-copy alone needs a forward to keep a copy of
        fails(srv, EX_DATAERR, "bob@a.test", "--keep-copy", "no", text="forwards nowhere")
        assert row(srv, "bob@a.test") == (None, True)


def test_forward_listed():
    with setup() as srv:
        srv.cli("user", "set", "alice@a.test", "--forward", "bob@a.test,Carol@Elsewhere.Example")
        srv.cli("user", "set", "bob@a.test", "--forward", "alice@a.test", "--keep-copy", "no")
        users = {u["address"]: u for u in json.loads(
            srv.cli("user", "list", "a.test", "--json").stdout)}
        assert users["alice@a.test"]["forward"] == ["bob@a.test", "carol@elsewhere.example"]
        assert users["alice@a.test"]["keep_copy"] is True
        assert users["bob@a.test"]["forward"] == ["alice@a.test"]
        assert users["bob@a.test"]["keep_copy"] is False
        srv.cli("user", "set", "bob@a.test", "--no-forward")
        users = {u["address"]: u for u in json.loads(
            srv.cli("user", "list", "--json").stdout)}
        assert users["bob@a.test"]["forward"] == []
        assert users["postmaster"]["forward"] == []
        text = srv.cli("user", "list", "a.test").stdout.decode().splitlines()
        line = {ln.split()[0]: ln for ln in text[1:]}
        assert " forward" in line["alice@a.test"] and "forward-only" not in line["alice@a.test"]
        assert "forward" not in line["bob@a.test"]
        srv.cli("user", "set", "alice@a.test", "--keep-copy", "no")
        text = srv.cli("user", "list", "a.test").stdout.decode()
        assert "forward-only" in text


def test_forward_help():
    with Server() as srv:
        out = srv.cli("user", "--help").stdout.decode()
        assert "--forward ADDR[,ADDR...] | --no-forward" in out
        assert "--keep-copy yes|no" in out
        # `user add` does not take them
        p = srv.cli("user", "add", "x@a.test", "--forward", "y@b.test", check=False)
        assert p.returncode == EX_USAGE and b"--forward" in p.stderr


if __name__ == "__main__":
    run_tests(globals())

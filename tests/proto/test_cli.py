# SPDX-License-Identifier: MIT
"""The admin CLI (SPEC §6) and the config contract (SPEC §7): verbs, --help,
--json, exit codes, clear errors, and working while `serve` runs.

Every error a user can get is checked by its exact text: one line on stderr
that names the thing and says what to do, nothing on stdout, and its
sysexits(3) code (cli.h lists them)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, PASSWORD, PG, Server, check_sanitizer, run_tests,  # noqa: E402
                     unprivileged_user)


LIMITS = ("quota-warn", "quota-send", "quota", "max-message-size", "max-recipients",
          "messages-per-hour", "messages-per-day", "recipients-per-hour", "recipients-per-day")


def limits(own=False, **values):
    """A mailbox's own (None: the domain's) or effective levels and limits,
    as `user list --json` gives them; values by option name with _ for -."""
    v = {n: None if own else 0 for n in LIMITS}
    v.update({k.replace("_", "-"): x for k, x in values.items()})
    return v


POSTMASTER_ENTRY = {"address": "postmaster", "messages": 0, "bytes": 0, "quota": 0,
                    "pop3": True, "submission": True, "enabled": True, "apop": False,
                    "directory": "builtin", "own": limits(own=True), "effective": limits(),
                    "forward": [], "keep_copy": True}


def mr(*args, stdin=None, cwd=None):
    p = subprocess.run([BIN] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, cwd=cwd)
    check_sanitizer(p.stderr.decode(errors="replace"), "mailroom " + " ".join(args))
    return p


def test_help_and_version():
    p = mr("--help")
    assert p.returncode == 0 and b"usage: mailroom" in p.stdout
    assert mr("--version").stdout.startswith(b"mailroom ")
    for verb in ("init", "serve", "domain", "user", "alias", "deliver"):
        p = mr(verb, "--help")
        assert p.returncode == 0 and p.stdout.startswith(b"usage: mailroom"), verb
    p = mr("frobnicate")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: unknown verb 'frobnicate' (see mailroom --help)\n", p.stderr
    p = mr()
    assert p.returncode == 64 and p.stderr.startswith(b"usage: mailroom")
    p = mr("--frob", "init")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: unknown option '--frob' (see mailroom --help)\n", p.stderr
    p = mr("-c")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: -c needs a file name: mailroom -c FILE VERB\n", p.stderr


def test_defaults_without_config():
    with tempfile.TemporaryDirectory() as d:
        p = mr("domain", "list", cwd=d)
        assert p.returncode == 78 and p.stderr == (  # points at init
            b"mailroom: no mail store in %s/mailroom-data: run 'mailroom init' first\n"
            % os.path.realpath(d).encode()), p.stderr
        p = mr("init", cwd=d)
        assert p.returncode == 0
        assert b"postmaster: mail to postmaster lands in the built-in mailbox 'postmaster'; " \
            b"to read it over POP3, run: mailroom user passwd postmaster\n" in p.stdout, p.stdout
        assert os.path.exists(os.path.join(d, "mailroom-data", "mailroom.db"))
        assert os.path.exists(os.path.join(d, "mailroom-data", "tls", "cert.pem"))
        st = os.stat(os.path.join(d, "mailroom-data"))
        assert st.st_mode & 0o077 == 0, oct(st.st_mode)
        key = os.stat(os.path.join(d, "mailroom-data", "tls", "key.pem"))
        assert key.st_mode & 0o077 == 0, oct(key.st_mode)
        cert = open(os.path.join(d, "mailroom-data", "tls", "cert.pem"), "rb").read()
        p = mr("init", cwd=d)  # idempotent: the certificate stays
        assert p.returncode == 0 and b"existing" in p.stdout
        assert open(os.path.join(d, "mailroom-data", "tls", "cert.pem"), "rb").read() == cert


def test_config_errors_have_file_and_line():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "bad.conf")
        cases = [
            ("[server]\nhostname = a\n[nope]\n", ":3:"),
            ("[server]\nhostnme = a\n", ":2:"),
            ("[limits]\n\nidle_timeout = soon\n", ":3:"),
            ("[listen]\npop3 = 127.0.0.1\n", ":2:"),
            ("[server]\nworkers = 0\n", ":2:"),
            ("[server]\nno equals sign\n", ":2:"),
            ("[pop3]\nplaintext_auth = maybe\n", ":2:"),
        ]
        for text, where in cases:
            with open(conf, "w") as f:
                f.write(text)
            p = mr("-c", conf, "domain", "list")
            err = p.stderr.decode()
            assert p.returncode == 78 and (conf + where) in err, (text, err)
        p = mr("-c", os.path.join(d, "missing.conf"), "init")
        assert p.returncode == 78 and b"missing.conf" in p.stderr
        # the key is named, and a range says its ends
        for text, msg in [
            ("[server]\nhostname = a.test\nhostname = b.test\n",
             ":3: duplicate key 'hostname' in [server]: it is set above already; keep one"),
            ("[server]\nworkers = 0\n", ":2: expected a number from 1 to 256"),
            ("[smtp]\nmax_received_headers = 2\n", ":2: expected a number from 5 to 1000"),
            ("[limits]\nidle_timeout = 0\n",
             ":2: expected a duration of 1s or more, such as 30s, 10m or 1h"),
        ]:
            with open(conf, "w") as f:
                f.write(text)
            p = mr("-c", conf, "domain", "list")
            assert p.returncode == 78 and p.stderr == (
                "mailroom: %s%s\n" % (conf, msg)).encode(), p.stderr


def test_domain_user_alias_lifecycle():
    with Server() as srv:
        assert srv.cli("domain", "add", "Example.TEST").returncode == 0
        p = srv.cli("domain", "add", "example.test", check=False)
        assert p.returncode == 65 and b"exist" in p.stderr, p.stderr
        p = srv.cli("domain", "add", "bad..domain", check=False)
        assert p.returncode == 65, p.stderr
        p = srv.cli("domain", "add", "x.test", "--type", "sideways", check=False)
        assert p.returncode == 64
        srv.cli("domain", "add", "relay.test", "--type", "internal-relay")
        doms = json.loads(srv.cli("domain", "list", "--json").stdout)
        assert {d["name"]: d["type"] for d in doms} == {
            "example.test": "authoritative", "relay.test": "internal-relay"}, doms

        srv.cli("user", "add", "alice@example.test", "--password-stdin", "--quota", "10M",
                stdin=b"pw\n")
        p = srv.cli("user", "add", "alice@example.test", "--password-stdin", stdin=b"pw\n",
                    check=False)
        assert p.returncode == 65 and b"in use" in p.stderr
        p = srv.cli("user", "add", "bob@nowhere.test", "--password-stdin", stdin=b"pw\n",
                    check=False)
        assert p.returncode == 67 and b"nowhere.test" in p.stderr
        p = srv.cli("user", "add", "carol@example.test", check=False, stdin=b"")
        assert p.returncode == 64 and b"--password-stdin" in p.stderr
        p = srv.cli("user", "add", "carol@example.test", "--password-stdin", stdin=b"",
                    check=False)
        assert p.returncode == 66
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        assert users == [{"address": "alice@example.test", "messages": 0, "bytes": 0,
                          "quota": 10 * 1024 * 1024, "pop3": True, "submission": True,
                          "enabled": True, "apop": False, "directory": "builtin",
                          "own": limits(own=True, quota=10 * 1024 * 1024),
                          "effective": limits(quota=10 * 1024 * 1024),
                          "forward": [], "keep_copy": True},
                         POSTMASTER_ENTRY], users

        srv.cli("alias", "add", "sales@example.test", "alice@example.test")
        p = srv.cli("alias", "add", "alice@example.test", "x@example.test", check=False)
        assert p.returncode == 65
        aliases = json.loads(srv.cli("alias", "list", "--json").stdout)
        assert aliases == [{"address": "sales@example.test",
                            "target": "alice@example.test"}], aliases
        p = srv.cli("domain", "remove", "example.test", check=False)
        assert p.returncode == 65, "domain removed while in use"
        assert p.stderr == b"mailroom: domain example.test is in use by 1 mailbox, 1 alias: " \
            b"remove them first (user list, alias list shows them)\n", p.stderr
        srv.cli("alias", "remove", "sales@example.test")
        srv.cli("user", "remove", "alice@example.test")
        srv.cli("domain", "remove", "example.test")
        p = srv.cli("user", "remove", "alice@example.test", check=False)
        assert p.returncode == 67
        assert json.loads(srv.cli("user", "list", "--json").stdout) == [POSTMASTER_ENTRY]


def test_deliver_exit_codes():
    with Server() as srv:
        srv.add_user("alice@example.test")
        assert srv.deliver("alice@example.test", "Subject: a\n\nbare LF\n").returncode == 0
        p = srv.cli("deliver", "nobody@example.test", stdin=b"x\n", check=False)
        assert p.returncode == 67, p.returncode
        p = srv.cli("deliver", "alice@example.test", stdin=b"", check=False)
        assert p.returncode == 65
        srv.cli("user", "set", "alice@example.test", "--quota", "100")
        p = srv.cli("deliver", "alice@example.test", stdin=b"Subject: b\n\n" + b"x" * 200,
                    check=False)
        assert p.returncode == 75, p.returncode  # over quota: the MTA retries later
        srv.cli("alias", "add", "team@example.test", "alice@example.test")
        srv.add_user("bob@example.test")
        srv.cli("alias", "add", "team@example.test", "bob@example.test")
        srv.cli("user", "set", "alice@example.test", "--quota", "0")
        assert srv.deliver("team@example.test", "Subject: team\n\nhi\n").returncode == 0
        users = {u["address"]: u for u in json.loads(srv.cli("user", "list",
                                                              "--json").stdout)}
        assert users["alice@example.test"]["messages"] == 2
        assert users["bob@example.test"]["messages"] == 1
        # stored in wire form: bare LF became CRLF
        srv.start()
        c = srv.poplib_stls("alice@example.test")
        assert c.list(1).split()[2] == str(len(b"Subject: a\r\n\r\nbare LF\r\n")).encode()
        c.quit()


def test_deliver_forwards_and_partial_quota():
    with Server() as srv:
        srv.add_user("alice@example.test")
        srv.add_user("bob@example.test")
        srv.cli("alias", "add", "team@example.test", "alice@example.test")
        srv.cli("alias", "add", "team@example.test", "bob@example.test")
        srv.cli("alias", "add", "team@example.test", "far@remote.test")
        srv.cli("user", "set", "bob@example.test", "--quota", "10")  # bob is full
        p = srv.cli("deliver", "team@example.test", "--sender", "boss@remote.test",
                    stdin=b"Subject: team\n\nx\n", check=False)
        assert p.returncode == 0 and b"now over quota" in p.stderr, p.stderr
        users = {u["address"]: u for u in json.loads(srv.cli("user", "list", "--json").stdout)}
        # nothing dropped: bob gets it too, a little past his quota
        assert users["alice@example.test"]["messages"] == 1
        assert users["bob@example.test"]["messages"] == 1
        q = json.loads(srv.cli("queue", "list", "--json").stdout)
        assert [(e["sender"], e["recipients"]) for e in q] == [
            ("boss@remote.test", ["far@remote.test"])], q
        p = srv.cli("deliver", "team@example.test", "--uidl", "X1", stdin=b"x\n", check=False)
        assert p.returncode == 65, p.returncode


def test_cli_while_serving_and_sigterm():
    with Server() as srv:
        srv.add_user("alice@example.test")
        srv.start()
        c = srv.poplib_stls("alice@example.test")
        for i in range(5):  # the CLI writes while a session is open
            srv.deliver("alice@example.test", "Subject: %d\n\nx\n" % i)
            srv.cli("user", "list")
        c.quit()
        c = srv.poplib_stls("alice@example.test")
        assert c.stat()[0] == 5
        c.dele(1)
        srv.proc.send_signal(signal.SIGTERM)
        # the session gets a last line, nothing is deleted, exit code 0
        try:
            last = c._getline()[0]
            assert last.startswith(b"-ERR") or last == b"", last
        except Exception:
            pass
        assert srv.proc.wait(timeout=10) == 0
        srv.start()
        c = srv.poplib_stls("alice@example.test")
        assert c.stat()[0] == 5
        c.quit()


def test_serve_refuses_without_init_and_busy_port():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "m.conf")
        with open(conf, "w") as f:
            f.write("[server]\ndata_dir = data\n[listen]\nsmtp = off\nsubmission = off\n"
                    "submissions = off\npop3 = 127.0.0.1:1\npop3s = off\nimap = off\n"
                    "imaps = off\n")
        p = mr("-c", conf, "serve")
        assert p.returncode != 0 and b"init" in p.stderr, p.stderr
        assert mr("-c", conf, "init").returncode == 0
        if os.geteuid() != 0:
            return
    with Server() as srv:
        srv.start()
        other = mr("-c", srv.conf, "serve")
        assert other.returncode != 0 and b"cannot listen" in other.stderr, other.stderr


def test_passwd_from_terminal_is_refused_without_tty():
    with Server() as srv:
        srv.add_user("alice@example.test")
        p = srv.cli("user", "passwd", "alice@example.test", stdin=b"x\n", check=False)
        assert p.returncode == 64 and b"--password-stdin" in p.stderr
        srv.cli("user", "passwd", "alice@example.test", "--password-stdin", "--apop",
                stdin=b"apop-secret\n")
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        assert users[0]["apop"] is True
        srv.cli("user", "set", "alice@example.test", "--no-apop")
        assert json.loads(srv.cli("user", "list", "--json").stdout)[0]["apop"] is False
        assert PASSWORD  # the harness default stays untouched


# (arguments, stdin, exit code, the whole of stderr after "mailroom: ")
MESSAGES = [
    # domain
    (["domain"], None, 64,
     "domain: give an action: add, remove, set or list (see mailroom domain --help)"),
    (["domain", "rename", "x.test"], None, 64,
     "domain: unknown action 'rename': use add, remove, set or list"),
    (["domain", "add"], None, 64, "domain add: NAME is missing, as in: domain add example.org"),
    (["domain", "list", "x.test"], None, 64, "domain list takes no NAME: it lists every domain"),
    (["domain", "remove", "x.test", "--type", "internal-relay"], None, 64,
     "domain remove: --type and --alias-of go with domain add"),
    (["domain", "add", "x.test", "--type", "internal-relay", "--alias-of", "example.test"],
     None, 64, "domain add: a domain alias takes the type of its target: give --type or "
     "--alias-of, not both"),
    (["domain", "add", "x.test", "--json"], None, 64, "domain add: --json goes with domain list"),
    (["domain", "add", "x.test", "--type", "sideways"], None, 64,
     "domain add: unknown type 'sideways': use authoritative, internal-relay or external-relay"),
    (["domain", "add", "x.test", "--frob"], None, 64,
     "domain: unknown option '--frob' (see mailroom domain --help)"),
    (["domain", "add", "x.test", "--type"], None, 64, "domain: option --type needs a value"),
    (["domain", "list", "--json=yes"], None, 64, "domain: option --json takes no value"),
    (["domain", "add", "x.test", "y.test"], None, 64,
     "domain: unexpected argument 'y.test' (see mailroom domain --help)"),
    (["domain", "add", "example"], None, 65,
     "'example' has no dot: a hosted domain is a full name such as example.org"),
    (["domain", "add", "10.0.0.1"], None, 65,
     "'10.0.0.1' ends in a number: an IP address is not a domain name"),
    (["domain", "add", "bad..domain"], None, 65,
     "'bad..domain' is not a valid domain name (letters, digits, '-', labels separated by "
     "dots, as in example.org)"),
    (["domain", "add", "EXAMPLE.test"], None, 65, "domain example.test exists already"),
    (["domain", "add", "x.test", "--alias-of", "nowhere.test"], None, 67,
     "domain nowhere.test does not exist"),
    (["domain", "add", "x.test", "--alias-of", "x.test"], None, 65,
     "a domain cannot be an alias of itself"),
    (["domain", "add", "x.test", "--alias-of", "example.net"], None, 65,
     "domain example.net is an alias itself; point at the domain it stands for"),
    (["domain", "remove", "nowhere.test"], None, 67, "domain nowhere.test does not exist"),
    (["domain", "remove", "example.test"], None, 65,
     "domain example.test is in use by 1 mailbox, 2 aliases, 1 domain alias: remove them "
     "first (user list, alias list, domain list shows them)"),
    # user
    (["user"], None, 64, "user: give an action: add, remove, list, passwd, set or import (see "
     "mailroom user --help)"),
    (["user", "move", "a@example.test"], None, 64,
     "user: unknown action 'move': use add, remove, list, passwd, set or import"),
    (["user", "add"], None, 64, "user add: ADDRESS is missing, as in: user add alice@example.org"),
    (["user", "add", "x@example.test", "--pop3", "no"], None, 64,
     "user add does not take --pop3 (see mailroom user --help)"),
    (["user", "add", "not-an-address", "--password-stdin"], b"pw\n", 65,
     "'not-an-address' is not a valid address"),
    (["user", "add", "x@nowhere.test", "--password-stdin"], b"pw\n", 67,
     "domain nowhere.test does not exist"),
    (["user", "add", "ALICE@example.test", "--password-stdin"], b"pw\n", 65,
     "address alice@example.test is in use already (user list, alias list "
     "alice@example.test)"),
    (["user", "add", "sales@example.test", "--password-stdin"], b"pw\n", 65,
     "address sales@example.test is in use already (user list, alias list "
     "sales@example.test)"),
    (["user", "add", "Postmaster", "--password-stdin"], b"pw\n", 65,
     "postmaster is the built-in mailbox and exists already; give it a password with: "
     "user passwd postmaster"),
    (["user", "add", "x@example.net", "--password-stdin"], b"pw\n", 65,
     "domain example.net is an alias of example.test: add the address in example.test"),
    (["user", "add", "x@example.test", "--quota", "lots", "--password-stdin"], b"pw\n", 64,
     "user add: --quota 'lots' is not a size from 0 (none) to 1048576G: give bytes, or "
     "a number with K, M or G"),
    (["user", "set", "alice@example.test", "--quota", "2000000G"], None, 64,
     "user set: --quota '2000000G' is not a size from 0 (none) to 1048576G: give bytes, "
     "or a number with K, M or G, or default (the domain's)"),
    (["user", "add", "x@example.test"], b"pw\n", 64,
     "stdin is not a terminal: pass the password on stdin with --password-stdin"),
    (["user", "add", "x@example.test", "--password-stdin"], b"", 66,
     "no password on stdin: give it as the first line"),
    (["user", "add", "x@example.test", "--password-stdin"], b"\n", 65,
     "an empty password is refused: give one of 1 to 511 bytes"),
    (["user", "add", "x@example.test", "--password-stdin"], b"p" * 512 + b"\n", 65,
     "the password is longer than 511 bytes: give one of 1 to 511 bytes"),
    (["user", "set", "alice@example.test"], None, 64,
     "user set: nothing to change: give --pop3, --submission, --enabled, --no-apop, a quota "
     "level (--quota-warn, --quota-send, --quota) or a sending limit (see mailroom user "
     "--help)"),
    (["user", "set", "alice@example.test", "--pop3", "maybe"], None, 64,
     "user set: --pop3 wants yes or no, not 'maybe'"),
    (["user", "set", "nobody@example.test", "--pop3", "no"], None, 67,
     "mailbox nobody@example.test does not exist"),
    (["user", "remove", "nobody@example.test"], None, 67,
     "mailbox nobody@example.test does not exist"),
    (["user", "remove", "POSTMASTER"], None, 65,
     "postmaster is the built-in mailbox (RFC 5321 postmaster mail) and cannot be removed; "
     "to have that mail elsewhere, set [smtp] postmaster"),
    (["user", "passwd", "sales@example.test", "--password-stdin"], b"pw\n", 65,
     "user passwd: sales@example.test is an alias of alice@example.test: give the mailbox's "
     "address"),
    (["user", "passwd", "nobody@example.test", "--password-stdin"], b"pw\n", 67,
     "user passwd: no mailbox nobody@example.test (user list shows them)"),
    (["user", "list", "nosuch.test"], None, 67, "domain nosuch.test does not exist"),
    (["user", "list", "example.net"], None, 65,
     "domain example.net is an alias of example.test: its mailboxes are listed under "
     "example.test"),
    # alias
    (["alias"], None, 64, "alias: give an action: add, remove or list (see mailroom alias "
     "--help)"),
    (["alias", "move", "a@example.test"], None, 64,
     "alias: unknown action 'move': use add, remove or list"),
    (["alias", "add", "x@example.test"], None, 64,
     "alias add takes ADDRESS and TARGET, as in: alias add sales@example.org alice@example.org"),
    (["alias", "remove"], None, 64,
     "alias remove takes ADDRESS and, to remove one target only, TARGET"),
    (["alias", "list", "a@example.test", "b@example.test"], None, 64,
     "alias list takes one ADDRESS at most"),
    (["alias", "add", "x@example.test", "a@example.test", "--json"], None, 64,
     "alias add: --json goes with alias list"),
    (["alias", "add", "x@example.test", "nosuch@example.test"], None, 67,
     "alias target nosuch@example.test does not exist: add that mailbox or alias first "
     "(user add, alias add)"),
    (["alias", "add", "x@example.test", "nosuch@example.net"], None, 67,
     "alias target nosuch@example.net does not exist: add that mailbox or alias first "
     "(user add, alias add)"),
    (["alias", "add", "x@example.test", "not an address"], None, 65,
     "'not an address' is not a valid target address"),
    (["alias", "add", "x@nowhere.test", "alice@example.test"], None, 67,
     "domain nowhere.test does not exist"),
    (["alias", "add", "alice@example.test", "bob@remote.test"], None, 65,
     "alice@example.test is a mailbox, it cannot be an alias"),
    (["alias", "add", "x@example.test", "X@example.test"], None, 65,
     "an alias cannot point at itself"),
    (["alias", "add", "sales@example.test", "alice@example.test"], None, 65,
     "alias sales@example.test -> alice@example.test exists already"),
    (["alias", "remove", "none@example.test"], None, 67, "no such alias: none@example.test"),
    (["alias", "remove", "sales@example.test", "bob@example.test"], None, 67,
     "no such alias: sales@example.test -> bob@example.test"),
    (["alias", "list", "none@example.test"], None, 67,
     "no alias none@example.test (alias list shows them all)"),
    # deliver
    (["deliver"], None, 64, "deliver: ADDRESS is missing, as in: deliver alice@example.org "
     "(see mailroom deliver --help)"),
    (["deliver", "nobody@example.test"], b"x\n", 67, "deliver: no mailbox for "
     "nobody@example.test"),
    (["deliver", "no address"], b"x\n", 67, "deliver: 'no address' is not a valid address"),
    (["deliver", "alice@example.test"], b"", 65,
     "deliver: the message on stdin is empty: nothing delivered"),
    (["deliver", "fwd@example.test", "--uidl", "U1"], b"x\n", 65,
     "deliver: --uidl needs local mailboxes with room: fwd@example.test also forwards "
     "elsewhere"),
    (["deliver", "alice@example.test", "--uidl", "two words"], b"x\n", 65,
     "UIDL must be 1-70 printable characters, and not 16 lower-case hex digits (the form of "
     "generated ones)"),
    # queue
    (["queue"], None, 64, "queue: give an action: list, show, flush, hold, release or remove "
     "(see mailroom queue --help)"),
    (["queue", "purge"], None, 64,
     "queue: unknown action 'purge': use list, show, flush, hold, release or remove"),
    (["queue", "list", "Q1"], None, 64, "queue list takes no ID: it lists the whole queue"),
    (["queue", "show"], None, 64, "queue show: ID is missing: give a queue id from queue list"),
    (["queue", "hold", "Q1", "--json"], None, 64, "queue hold: --json goes with queue list"),
]
for verb in ("show", "hold", "release", "remove", "flush"):
    MESSAGES.append((["queue", verb, "NOSUCHID"], None, 67,
                     "no queued message NOSUCHID: it was delivered or removed, or the id is "
                     "mistyped (queue list shows the queue)"))
MESSAGES += [
    # route
    (["route"], None, 64, "route: give an action: add, remove or list (see mailroom route "
     "--help)"),
    (["route", "move"], None, 64, "route: unknown action 'move': use add, remove or list"),
    (["route", "add", "x.test"], None, 64, "route add takes ADDRESS-SPACE and NEXT-HOP, as in: "
     "route add example.org smtp.example.org:587"),
    (["route", "remove"], None, 64, "route remove takes one ADDRESS-SPACE (route list shows "
     "them)"),
    (["route", "list", "x.test"], None, 64, "route list takes no argument"),
    (["route", "remove", "x.test", "--tls", "none"], None, 64,
     "route remove: --tls, --auth-user and --password-stdin go with route add"),
    (["route", "add", "x.test", "mx", "--tls", "always"], None, 64,
     "route add: --tls 'always' is unknown: use none, may, encrypt or verify"),
    (["route", "add", "x.test", "mx", "--auth-user", "u"], None, 64,
     "route add: --auth-user and --password-stdin go together (the password is the first "
     "line of stdin)"),
    (["route", "add", "x..test", "mx"], None, 65,
     "'x..test' is not an address space: give a domain, *.domain (its subdomains) or * (the "
     "default route)"),
    (["route", "add", "x.test", "smtp.x.test:0"], None, 65,
     "'smtp.x.test:0' is not a next hop: give host[:port], [ip][:port] or mx, with a port "
     "from 1 to 65535"),
    (["route", "add", "x.test", "smtp.x.test:70000"], None, 65,
     "'smtp.x.test:70000' is not a next hop: give host[:port], [ip][:port] or mx, with a port "
     "from 1 to 65535"),
    (["route", "remove", "x.test"], None, 67, "no route for x.test (route list shows them)"),
    # config, init, serve
    (["config"], None, 64, "config: give an action: check or show (see mailroom config --help)"),
    (["config", "edit"], None, 64, "config: unknown action 'edit': use check or show"),
    (["init", "now"], None, 64, "init: unexpected argument 'now' (see mailroom init --help)"),
    (["serve", "--daemon"], None, 64, "serve: unknown option '--daemon' (see mailroom serve "
     "--help)"),
]


def test_every_error_message():
    with Server() as srv:
        srv.add_user("alice@example.test")
        srv.cli("alias", "add", "sales@example.test", "alice@example.test")
        srv.cli("alias", "add", "fwd@example.test", "alice@example.test")
        srv.cli("alias", "add", "fwd@example.test", "far@remote.test")
        srv.cli("domain", "add", "example.net", "--alias-of", "example.test")
        wrong = []
        for args, stdin, code, text in MESSAGES:
            p = srv.cli(*args, stdin=stdin, check=False)
            want = ("mailroom: %s\n" % text).encode()
            if p.returncode != code or p.stderr != want or p.stdout != b"":
                wrong.append("%s: exit %d, stderr %r, stdout %r\n  want exit %d, %r" % (
                    " ".join(args), p.returncode, p.stderr, p.stdout[:200], code, want))
        assert not wrong, "\n".join(wrong)
        # nothing of the refused commands was done
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        assert [u["address"] for u in users] == ["alice@example.test", "postmaster"], users
        assert [a["address"] for a in json.loads(srv.cli("alias", "list", "--json").stdout)] \
            == ["fwd@example.test", "fwd@example.test", "sales@example.test"]
        assert json.loads(srv.cli("route", "list", "--json").stdout) == []


def test_deliver_over_quota_and_serve_without_store_messages():
    with Server() as srv:
        srv.add_user("alice@example.test")
        srv.cli("user", "set", "alice@example.test", "--quota", "10")
        p = srv.cli("deliver", "alice@example.test", stdin=b"Subject: big\n\n" + b"x" * 100,
                    check=False)
        assert p.returncode == 75 and p.stderr == (
            b"mailroom: deliver: the mailbox of alice@example.test is over its quota: try "
            b"later, or raise it with user set --quota\n"), p.stderr
        p = srv.cli("config", "check", check=False)
        assert p.returncode == 0 and b"postmaster: mail to postmaster goes to postmaster\n" \
            in p.stdout, p.stdout
    with Server({"smtp.postmaster": "admin@example.test"}) as srv:
        p = srv.cli("config", "check", check=False)
        assert p.returncode == 78 and p.stderr == (
            b"mailroom: [smtp] postmaster = admin@example.test is no local mailbox or alias: "
            b"postmaster mail goes to the built-in mailbox 'postmaster' instead; add it, or "
            b"remove the key\n"), p.stderr
        srv.add_user("admin@example.test")
        assert srv.cli("config", "check").returncode == 0


def test_store_that_cannot_be_made_or_is_too_new():
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "m.conf")
        with open(conf, "w") as f:
            f.write("[server]\ndata_dir = %s/no/such/parent\n" % d)
        p = mr("-c", conf, "init")
        # as root without [server] user, init also notes that serve will refuse
        p.stderr = b"".join(l for l in p.stderr.splitlines(True)
                            if not l.startswith(b"mailroom: note: [server] user"))
        assert p.returncode == 73 and p.stderr == (
            "mailroom: cannot create the mail store: cannot make the folder "
            "%s/no/such/parent: No such file or directory\n" % d).encode(), p.stderr
        with open(conf, "w") as f:
            f.write("[server]\ndata_dir = %s/data\n" % d)
        assert mr("-c", conf, "init").returncode == 0
    # a store that a newer mailroom made (on the test's engine)
    with Server() as srv:
        [(current,)] = srv.db_query("SELECT version FROM schema_version")
        srv.db_exec("UPDATE schema_version SET version = 999")
        p = srv.cli("user", "list", check=False)
        assert p.returncode == 74 and p.stderr == (
            "mailroom: cannot open the mail store in %s/data: the store has schema version "
            "999, newer than this mailroom (%d): run the mailroom that made it\n"
            % (srv.dir, current)).encode(), \
            p.stderr


def test_busy_store_says_try_again():
    with Server() as srv:
        data = os.path.join(srv.dir, "data")
        with srv.hold_store_lock():  # another writer, for longer than the CLI waits
            p = srv.cli("domain", "add", "busy.test", check=False)
        where = "PostgreSQL store" if PG else "store in %s" % data
        assert p.returncode == 75 and p.stderr == (
            "mailroom: the %s is busy (another writer holds its lock); try again\n"
            % where).encode(), (p.returncode, p.stderr)
        assert srv.cli("domain", "add", "busy.test").returncode == 0


def test_password_prompt_on_a_terminal():
    import pty
    with Server() as srv:
        srv.add_user("alice@example.test")
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BIN, [BIN, "-c", srv.conf, "user", "passwd", "alice@example.test"])
        import termios
        out = b""
        for answer in (b"first-pw\n", b"second-pw\n"):
            while not out.rstrip().endswith(b":"):
                out += os.read(fd, 1024)
            # answer once echo is off: the prompt flushes what came before it
            deadline = time.monotonic() + 10
            while termios.tcgetattr(fd)[3] & termios.ECHO and time.monotonic() < deadline:
                time.sleep(0.01)
            os.write(fd, answer)
            out += os.read(fd, 1024)
        try:
            while True:
                chunk = os.read(fd, 1024)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 65, (status, out)
        assert b"Password: " in out and b"Again: " in out, out
        assert b"first-pw" not in out and b"second-pw" not in out, out  # no echo
        assert out.rstrip().endswith(
            b"mailroom: the two passwords do not match: nothing changed, try again"), out


def test_listings_have_headers_and_json_keeps_its_shape():
    with Server(smtp=True) as srv:
        out = srv.cli("domain", "list").stdout.decode()
        assert out == "no domains yet: add one with 'domain add NAME'\n", out
        assert srv.cli("domain", "list", "--json").stdout == b"[]\n"
        assert srv.cli("alias", "list", "--json").stdout == b"[]\n"
        assert srv.cli("alias", "list").stdout == b"no aliases\n"
        assert srv.cli("queue", "list", "--json").stdout == b"[]\n"
        assert srv.cli("queue", "list").stdout == b"queue is empty\n"
        assert srv.cli("route", "list", "--json").stdout == b"[]\n"
        srv.add_user("alice@example.test")
        srv.cli("domain", "add", "relay.test", "--type", "internal-relay")
        srv.cli("domain", "add", "example.net", "--alias-of", "example.test")
        srv.cli("alias", "add", "sales@example.test", "alice@example.test")
        srv.cli("route", "add", "far.test", "smtp.far.test:587", "--tls", "encrypt")
        lines = srv.cli("domain", "list").stdout.decode().splitlines()
        assert lines[0].split() == ["DOMAIN", "TYPE", "MAILBOXES", "ALIAS-OF",
                                    "DEFAULTS"], lines
        assert lines[1].split() == ["example.net", "authoritative", "-", "example.test",
                                    "-"], lines
        assert lines[2].split() == ["example.test", "authoritative", "1", "-", "-"], lines
        assert lines[3].split() == ["relay.test", "internal-relay", "0", "-", "-"], lines
        lines = srv.cli("user", "list").stdout.decode().splitlines()
        assert lines[0].split() == ["ADDRESS", "MESSAGES", "BYTES", "QUOTA-WARN", "QUOTA-SEND",
                                    "QUOTA", "FLAGS"], lines
        assert lines[1].split() == ["alice@example.test", "0", "0", "-", "-", "-", "pop3",
                                    "submission"], lines
        assert lines[2].split() == ["postmaster", "0", "0", "-", "-", "-", "pop3",
                                    "submission", "no-password"], lines
        lines = srv.cli("alias", "list").stdout.decode().splitlines()
        assert lines[0].split() == ["ADDRESS", "TARGET"], lines
        assert lines[1].split() == ["sales@example.test", "->", "alice@example.test"], lines
        lines = srv.cli("route", "list").stdout.decode().splitlines()
        assert lines[0].split() == ["ADDRESS-SPACE", "NEXT-HOP", "TLS", "AUTH-USER"], lines
        assert lines[1].split() == ["far.test", "smtp.far.test:587", "encrypt", "-"], lines
        # the JSON forms are what they were: arrays of the same objects, with
        # the domain defaults (none for a domain alias) added
        doms = json.loads(srv.cli("domain", "list", "--json").stdout)
        assert doms[0] == {"name": "example.net", "type": "authoritative", "mailboxes": 0,
                           "alias_of": "example.test", "defaults": None}, doms
        assert doms[1]["defaults"] == limits(), doms
        assert json.loads(srv.cli("route", "list", "--json").stdout) == [
            {"space": "far.test", "hop": "smtp.far.test:587", "tls": "encrypt",
             "auth_user": None}]
        srv.start()
        s = srv.submission("alice@example.test")
        s.sendmail("alice@example.test", ["bob@far.test"], b"Subject: q\r\n\r\nx\r\n")
        s.quit()
        lines = srv.cli("queue", "list").stdout.decode().splitlines()
        assert lines[0].split() == ["ID", "SIZE", "CREATED", "SENDER"], lines
        assert lines[1].split()[-1] == "<alice@example.test>", lines
        assert lines[2].split() == ["->", "<bob@far.test>"], lines
        q = json.loads(srv.cli("queue", "list", "--json").stdout)
        assert sorted(q[0]) == ["attempts", "created", "held", "id", "recipients", "sender",
                                "size"], q


def test_postmaster_mailbox_from_the_cli():
    with Server() as srv:
        srv.add_user("alice@example.test")
        assert srv.deliver("postmaster", "Subject: one\n\nx\n").returncode == 0
        # postmaster@ a hosted domain without its own mailbox: the built-in one
        assert srv.deliver("Postmaster@example.test", "Subject: two\n\nx\n").returncode == 0
        users = {u["address"]: u for u in json.loads(srv.cli("user", "list",
                                                              "--json").stdout)}
        assert users["postmaster"]["messages"] == 2, users
        srv.cli("user", "passwd", "postmaster", "--password-stdin", stdin=b"pm-pw\n")
        assert "no-password" not in srv.cli("user", "list").stdout.decode()
        srv.start()
        got = srv.messages("postmaster", "pm-pw")
        assert [m.split(b"\r\n")[0] for m in got] == [b"Subject: one", b"Subject: two"], got
        # an alias postmaster@ of the domain wins over the built-in mailbox
        srv.cli("alias", "add", "postmaster@example.test", "alice@example.test")
        assert srv.deliver("postmaster@example.test", "Subject: three\n\nx\n").returncode == 0
        assert len(srv.messages("alice@example.test")) == 1
        assert len(srv.messages("postmaster", "pm-pw")) == 2


def test_disk_full_at_start():
    """A store on a tiny tmpfs that is full: the CLI and serve say so, and where."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        print("skipped: needs root to mount a tmpfs")
        return
    top = tempfile.mkdtemp(prefix="mailroom-full.")
    mnt = os.path.join(top, "mnt")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                      capture_output=True).returncode != 0:
        os.rmdir(mnt)
        os.rmdir(top)
        print("skipped: cannot mount a tmpfs here")
        return
    try:
        conf = os.path.join(top, "m.conf")
        data = os.path.join(mnt, "data")
        user = ""
        if os.geteuid() == 0:  # serve refuses root without [server] user
            user = "user = %s\n" % unprivileged_user()
            os.chmod(top, 0o711)
        with open(conf, "w") as f:
            f.write("[server]\ndata_dir = %s\n%s[listen]\nsmtp = off\nsubmission = off\n"
                    "submissions = off\npop3 = off\npop3s = off\n" % (data, user))
        assert mr("-c", conf, "init").returncode == 0
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # take every block left
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        full = ("the disk is full: no space left for the store in %s; free some space, "
                "then try again" % data)
        p = mr("-c", conf, "user", "list")
        assert p.returncode == 75 and p.stderr == (
            "mailroom: cannot open the mail store: %s\n" % full).encode(), p.stderr
        p = mr("-c", conf, "serve")
        assert p.returncode != 0 and full.encode() in p.stderr, p.stderr
        assert b"disk I/O error" not in p.stderr
        os.unlink(os.path.join(mnt, "filler"))
        assert mr("-c", conf, "user", "list").returncode == 0  # space again: it works
    finally:
        subprocess.run(["umount", mnt])
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())

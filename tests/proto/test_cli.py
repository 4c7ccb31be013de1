# SPDX-License-Identifier: MIT
"""The admin CLI (SPEC §6) and the config contract (SPEC §7): verbs, --help,
--json, exit codes, clear errors, and working while `serve` runs."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, PASSWORD, Server, check_sanitizer, run_tests  # noqa: E402


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
    assert p.returncode == 2 and b"unknown verb" in p.stderr
    p = mr()
    assert p.returncode == 2


def test_defaults_without_config():
    with tempfile.TemporaryDirectory() as d:
        p = mr("domain", "list", cwd=d)
        assert p.returncode == 1 and b"init" in p.stderr, p.stderr  # points at init
        assert mr("init", cwd=d).returncode == 0
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
            assert p.returncode != 0 and (conf + where) in err, (text, err)
        p = mr("-c", os.path.join(d, "missing.conf"), "init")
        assert p.returncode != 0 and b"missing.conf" in p.stderr


def test_domain_user_alias_lifecycle():
    with Server() as srv:
        assert srv.cli("domain", "add", "Example.TEST").returncode == 0
        p = srv.cli("domain", "add", "example.test", check=False)
        assert p.returncode == 1 and b"exist" in p.stderr, p.stderr
        p = srv.cli("domain", "add", "bad..domain", check=False)
        assert p.returncode == 1, p.stderr
        p = srv.cli("domain", "add", "x.test", "--type", "sideways", check=False)
        assert p.returncode == 2
        srv.cli("domain", "add", "relay.test", "--type", "internal-relay")
        doms = json.loads(srv.cli("domain", "list", "--json").stdout)
        assert {d["name"]: d["type"] for d in doms} == {
            "example.test": "authoritative", "relay.test": "internal-relay"}, doms

        srv.cli("user", "add", "alice@example.test", "--password-stdin", "--quota", "10M",
                stdin=b"pw\n")
        p = srv.cli("user", "add", "alice@example.test", "--password-stdin", stdin=b"pw\n",
                    check=False)
        assert p.returncode == 1 and b"in use" in p.stderr
        p = srv.cli("user", "add", "bob@nowhere.test", "--password-stdin", stdin=b"pw\n",
                    check=False)
        assert p.returncode == 1 and b"nowhere.test" in p.stderr
        p = srv.cli("user", "add", "carol@example.test", check=False, stdin=b"")
        assert p.returncode == 2 and b"--password-stdin" in p.stderr
        p = srv.cli("user", "add", "carol@example.test", "--password-stdin", stdin=b"",
                    check=False)
        assert p.returncode == 1
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        assert users == [{"address": "alice@example.test", "messages": 0, "bytes": 0,
                          "quota": 10 * 1024 * 1024, "pop3": True, "submission": True,
                          "enabled": True, "apop": False}], users

        srv.cli("alias", "add", "sales@example.test", "alice@example.test")
        p = srv.cli("alias", "add", "alice@example.test", "x@example.test", check=False)
        assert p.returncode == 1
        aliases = json.loads(srv.cli("alias", "list", "--json").stdout)
        assert aliases == [{"address": "sales@example.test",
                            "target": "alice@example.test"}], aliases
        p = srv.cli("domain", "remove", "example.test", check=False)
        assert p.returncode == 1, "domain removed while in use"
        srv.cli("alias", "remove", "sales@example.test")
        srv.cli("user", "remove", "alice@example.test")
        srv.cli("domain", "remove", "example.test")
        p = srv.cli("user", "remove", "alice@example.test", check=False)
        assert p.returncode == 1
        assert json.loads(srv.cli("user", "list", "--json").stdout) == []


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
                    "submissions = off\npop3 = 127.0.0.1:1\npop3s = off\n")
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
        assert p.returncode == 2 and b"--password-stdin" in p.stderr
        srv.cli("user", "passwd", "alice@example.test", "--password-stdin", "--apop",
                stdin=b"apop-secret\n")
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        assert users[0]["apop"] is True
        srv.cli("user", "set", "alice@example.test", "--no-apop")
        assert json.loads(srv.cli("user", "list", "--json").stdout)[0]["apop"] is False
        assert PASSWORD  # the harness default stays untouched


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""test_config_check.py - `mailroom config check` reaches the directory
backends: a real slapd (slapd.py) for ldap, a PAM service file in [pam]
confdir, a passwd-file.

ldap: slapd up gives one "ok: ldap URI bind as DN and base BASE found (N ms)"
line and exit 0 (plain and with StartTLS); a wrong service password is a
config problem (78) whose message names the bind; a base that is not there
too; slapd stopped, or a port that accepts but never answers, is EX_UNAVAILABLE
(69) within [ldap] timeout.
"""
import grp
import os
import re
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, run_tests  # noqa: E402
from slapd import BASE, SERVICE_DN, SERVICE_PW, Slapd  # noqa: E402

slapd = None
TIMEOUT = 2  # [ldap] timeout of these tests, seconds


def ldap_server(keys=None, secret=SERVICE_PW):
    extra = {"directory.backend": "builtin, ldap", "ldap.uri": slapd.uri, "ldap.base": BASE,
             "ldap.bind_dn": SERVICE_DN, "ldap.bind_password_file": "ldap.secret",
             "ldap.timeout": "%ds" % TIMEOUT}
    for k, v in (keys or {}).items():
        extra["ldap." + k] = v
    srv = Server(extra=extra)
    path = os.path.join(srv.dir, "data", "ldap.secret")
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o640)
    if os.geteuid() == 0:  # the check reads it as [server] user
        os.chown(path, 0, grp.getgrnam("mailroom-test").gr_gid)
    return srv


def check(srv):
    t0 = time.monotonic()
    p = srv.cli("config", "check", check=False)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.monotonic() - t0


def test_ldap_up_is_ok():
    with ldap_server() as srv:
        rc, out, err, _ = check(srv)
        assert rc == 0, (rc, out, err)
        assert re.search(r"^ok: ldap %s bind as %s and base %s found \(\d+ ms\)$"
                         % (re.escape(slapd.uri), re.escape(SERVICE_DN), re.escape(BASE)),
                         out, re.M), out
        assert "directory: builtin, ldap: ok" in out, out
        assert "postmaster: " in out, out  # the checks after it still run


def test_ldap_starttls_is_ok():
    with ldap_server({"starttls": "yes", "ca_file": slapd.ca_crt}) as srv:
        rc, out, err, _ = check(srv)
        assert rc == 0, (rc, out, err)
        assert "ok: ldap %s StartTLS, bind as %s and base %s found (" \
            % (slapd.uri, SERVICE_DN, BASE) in out, out


def test_ldap_starttls_with_an_unknown_ca_fails():
    # the system's CAs do not know the test CA: the TLS handshake fails
    with ldap_server({"starttls": "yes"}) as srv:
        rc, out, err, _ = check(srv)
        assert rc != 0 and "StartTLS at %s failed" % slapd.uri in err, (rc, err)
        assert "ok: ldap" not in out, out


def test_wrong_bind_password_names_the_bind():
    with ldap_server(secret="not-the-password") as srv:
        rc, out, err, _ = check(srv)
        assert rc == 78, (rc, out, err)
        assert ("mailroom: ldap: bind as %s at %s failed: Invalid credentials"
                % (SERVICE_DN, slapd.uri)) in err, err
        assert "ok: ldap" not in out and "postmaster:" not in out, out


def test_missing_base_is_a_config_problem():
    base = "ou=nowhere," + BASE
    with ldap_server({"base": base}) as srv:
        rc, _, err, _ = check(srv)
        assert rc == 78, (rc, err)
        assert "base %s does not exist, or %s may not read it" % (base, SERVICE_DN) in err, err


def test_anonymous_bind_cannot_read_the_base():
    # slapd.py's ACLs let anonymous only bind: the base is hidden
    with ldap_server({"bind_dn": None, "bind_password_file": None}) as srv:
        rc, _, err, _ = check(srv)
        assert rc == 78 and "search of base at %s failed: Insufficient access" % slapd.uri \
            in err, (rc, err)


def test_slapd_stopped_is_unavailable_within_the_timeout():
    with ldap_server() as srv:
        slapd.stop()
        try:
            rc, out, err, took = check(srv)
        finally:
            slapd.start()
        assert rc == 69, (rc, out, err)
        assert "mailroom: ldap: connect at %s failed: Can't contact LDAP server" \
            % slapd.uri in err, err
        assert took < TIMEOUT + 3, took
        assert check(srv)[0] == 0  # and back


def test_server_that_never_answers_is_unavailable_within_the_timeout():
    # a listening socket nobody reads from: the connection is made, the bind
    # never gets a reply
    silent = socket.socket()
    port = free_port()
    silent.bind(("127.0.0.1", port))
    silent.listen(8)
    try:
        with ldap_server({"uri": "ldap://127.0.0.1:%d" % port}) as srv:
            rc, out, err, took = check(srv)
            assert rc == 69, (rc, out, err)
            assert "mailroom: ldap: bind as %s at ldap://127.0.0.1:%d failed: Timed out" \
                % (SERVICE_DN, port) in err, err
            assert TIMEOUT - 0.5 < took < TIMEOUT + 3, took
    finally:
        silent.close()


def test_pam_service_file():
    with Server(extra={"directory.backend": "builtin, pam", "pam.domain": "example.test",
                       "pam.confdir": "pam.d", "pam.service": "mailroom"}) as srv:
        confdir = os.path.join(srv.dir, "data", "pam.d")
        os.makedirs(confdir)
        os.chmod(confdir, 0o755)
        with open(os.path.join(confdir, "mailroom"), "w") as f:
            f.write("auth required pam_unix.so\naccount required pam_unix.so\n")
        rc, out, err, _ = check(srv)
        assert rc == 0, (rc, out, err)
        assert re.search(r"^ok: pam service mailroom: %s/mailroom found, accounts from uid "
                         r"1000 as NAME@example.test \(\d+ ms\)$" % re.escape(confdir),
                         out, re.M), out
        os.unlink(os.path.join(confdir, "mailroom"))
        rc, _, err, _ = check(srv)
        assert rc == 78 and "%s/mailroom does not exist" % confdir in err, (rc, err)


def test_passwd_file_parses():
    with Server(extra={"directory.backend": "builtin, passwd-file",
                       "passwd-file.path": "users.passwd",
                       "passwd-file.domain": "example.org"}) as srv:
        path = os.path.join(srv.dir, "data", "users.passwd")
        with open(path, "w") as f:
            f.write("alice:{PLAIN}a\nbob@example.org:{PLAIN}b\n")
        os.chmod(path, 0o644)
        rc, out, err, _ = check(srv)
        assert rc == 0, (rc, out, err)
        assert re.search(r"^ok: passwd-file %s: 2 users \(\d+ ms\)$" % re.escape(path),
                         out, re.M), out
        with open(path, "a") as f:
            f.write("two@at@example.org:{PLAIN}x\n")
        rc, _, err, _ = check(srv)
        assert rc == 78 and "users.passwd:3:" in err, (rc, err)


def test_builtin_alone_probes_nothing():
    with Server() as srv:
        rc, out, err, _ = check(srv)
        assert rc == 0 and "directory: builtin: ok" in out and "ok: " not in out, (out, err)


if __name__ == "__main__":
    for need in ("/usr/sbin/slapd", shutil.which("ldapadd")):
        if need is None or not os.path.exists(need):
            print("skipped: needs slapd and ldap-utils (scripts/deps.sh test)")
            sys.exit(77)
    try:
        slapd = Slapd()
        slapd.start()
        slapd.add_base()
        run_tests(globals())
    finally:
        if slapd is not None:
            slapd.cleanup()

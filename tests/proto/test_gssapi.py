# SPDX-License-Identifier: MIT
"""SASL GSSAPI (RFC 4752) with a private MIT KDC (krb5kdc.py) on loopback:
the in-process exchanges of the unit test test_sasl_gssapi against real
tickets, then real clients - curl for POP3 (RFC 5034) and SMTP submission
(RFC 4954), fetchmail for POP3, msmtp for submission - logging in to `mailroom serve` with a
ticket from kinit. Negative cases: another realm, a principal without a
mailbox, garbage tokens, a server without a keytab (no GSSAPI offered).
The server needs only its keytab: the KDC is stopped before some logins.
"""
import base64
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, run_tests  # noqa: E402
from krb5kdc import REALM, Kdc  # noqa: E402

DOMAIN = "example.test"
ALICE = "alice@" + DOMAIN
ALICE_PW = "alice-krb-pw-1"
HOST = "localhost"


class Realm:
    """A started KDC with alice, carol (no mailbox), the service keys in a
    keytab, and alice's ticket in the default cache."""

    def __init__(self):
        self.kdc = Kdc()
        try:
            self.kdc.start()
            self.kdc.add_user("alice", ALICE_PW)
            self.kdc.add_user("carol", "carol-krb-pw-1")
            self.kdc.add_service("pop/" + HOST, "smtp/" + HOST)
            self.keytab = self.kdc.keytab(os.path.join(self.kdc.dir, "mail.keytab"),
                                          "pop/" + HOST, "smtp/" + HOST)
            self.env = self.kdc.kinit("alice", ALICE_PW)
        except BaseException:
            self.kdc.cleanup()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kdc.cleanup()


def gss_server(realm, extra=None, krb5_conf=None):
    conf = {"server.hostname": HOST, "gssapi.keytab": realm.keytab,
            "gssapi.realm": REALM, "gssapi.domain": DOMAIN}
    conf.update(extra or {})
    # the server's GSS library reads the realm's krb5.conf, as on a host
    # joined to the realm (it needs none: test_kdc_not_needed_at_login)
    os.environ["KRB5_CONFIG"] = krb5_conf or realm.kdc.krb5_conf
    srv = Server(extra=conf, smtp=True)
    srv.add_user(ALICE)
    srv.deliver(ALICE, b"From: bob@example.test\r\nSubject: hello\r\n\r\nKerberos mail.\r\n")
    return srv.start()


def run(args, env, timeout=60, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          timeout=timeout, **kw)


def curl_pop3(srv, env, *args):
    return run(["curl", "-sS", "--max-time", "20", "-u", "alice@%s:" % REALM,
                "--login-options", "AUTH=GSSAPI",
                "--resolve", "%s:%d:127.0.0.1" % (HOST, srv.pop3_port),
                "pop3://%s:%d/%s" % (HOST, srv.pop3_port, "".join(args))], env)


def test_unit_exchanges_with_kdc():
    with Realm() as r:
        unit = os.path.join(os.path.dirname(os.path.abspath(BIN)), "test_sasl_gssapi")
        env = dict(r.env, MAILROOM_GSS_KEYTAB=r.keytab)
        p = run([unit], env, timeout=120)
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0, out + p.stderr.decode(errors="replace")
        assert "skipped" not in out, out
        assert "0 failed" in out, out


def test_curl_pop3_gssapi():
    with Realm() as r, gss_server(r) as srv:
        # CAPA lists GSSAPI among the SASL mechanisms, before STLS too
        c = srv.raw()
        c.line()
        c.cmd("CAPA")
        capa = c.multiline()
        assert any(l.startswith(b"SASL ") and b"GSSAPI" in l.split() for l in capa), capa
        c.close()
        p = curl_pop3(srv, r.env, "1")
        assert p.returncode == 0, p.stderr
        assert b"Kerberos mail." in p.stdout, p.stdout
        # serve said at its start which keys it has
        srv.wait_log(r"gssapi: keytab .*mail\.keytab: pop/localhost@TEST\.REALM, "
                     r"smtp/localhost@TEST\.REALM")
        srv.wait_log(r"pop3s? login user=alice@example\.test .*mech=GSSAPI result=ok")


def test_kdc_not_needed_at_login():
    with Realm() as r, gss_server(r, krb5_conf="/nonexistent/krb5.conf") as srv:
        # a service ticket in the cache, then no KDC: the acceptor needs
        # only its keytab, not even a krb5.conf
        assert run(["kvno", "pop/" + HOST], r.env).returncode == 0
        r.kdc.stop()
        p = curl_pop3(srv, r.env)
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(b"1 "), p.stdout


def test_curl_smtp_gssapi():
    with Realm() as r, gss_server(r) as srv:
        body = os.path.join(r.kdc.dir, "msg.txt")
        with open(body, "wb") as f:
            f.write(b"From: alice@example.test\r\nTo: alice@example.test\r\n"
                    b"Subject: via gssapi\r\n\r\nsent with a ticket\r\n")
        p = curl_smtp(srv, r.env, body)
        assert p.returncode == 0, p.stderr
        srv.wait_log(r"(smtp|submissions?) login user=alice@example\.test .*mech=GSSAPI "
                     r"result=ok")


def curl_smtp(srv, env, body):
    return run(["curl", "-sS", "--max-time", "20", "-k", "--ssl-reqd",
                "-u", "alice@%s:" % REALM, "--login-options", "AUTH=GSSAPI",
                "--resolve", "%s:%d:127.0.0.1" % (HOST, srv.submission_port),
                "--mail-from", ALICE, "--mail-rcpt", ALICE, "-T", body,
                "smtp://%s:%d" % (HOST, srv.submission_port)], env)


def test_parallel_logins():
    # exchanges on both worker threads at once share no GSS state
    import concurrent.futures
    with Realm() as r, gss_server(r) as srv:
        body = os.path.join(r.kdc.dir, "msg.txt")
        with open(body, "wb") as f:
            f.write(b"Subject: parallel\r\n\r\nhi\r\n")
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: curl_smtp(srv, r.env, body), range(16)))
        for p in results:
            assert p.returncode == 0, p.stderr
        assert srv.log_text().count("mech=GSSAPI") == 16


def test_msmtp_gssapi():
    # Debian's msmtp does GSSAPI through GNU SASL
    with Realm() as r, gss_server(r) as srv:
        p = run(["msmtp", "--host=" + HOST, "--port=%d" % srv.submission_port, "--tls=on",
                 "--tls-starttls=on", "--tls-certcheck=off", "--auth=gssapi",
                 "--user=" + ALICE, "--from=" + ALICE, ALICE], r.env,
                input=b"Subject: msmtp and kerberos\r\n\r\nhi\r\n")
        assert p.returncode == 0, p.stderr
        srv.wait_log(r"(smtp|submissions?) login user=alice@example\.test .*mech=GSSAPI "
                     r"result=ok")
        srv.wait_log(r"(smtp|submissions?) message .*user=alice@example\.test")


def test_fetchmail_gssapi():
    with Realm() as r, gss_server(r) as srv:
        home = r.kdc.dir
        rc = os.path.join(home, "fetchmailrc")
        out = os.path.join(home, "out")
        with open(rc, "w") as f:
            f.write('poll %s service %d protocol pop3 auth gssapi\n'
                    '  user "%s" is root here keep sslproto ""\n'
                    '  mda "/bin/sh -c \'cat >> %s\'"\n' % (HOST, srv.pop3_port, ALICE, out))
        os.chmod(rc, 0o600)
        env = dict(r.env, HOME=home)
        p = run(["fetchmail", "-f", rc, "--idfile", os.path.join(home, "ids"),
                 "--pidfile", os.path.join(home, "pid"), "--nosyslog", "-t", "20"], env,
                timeout=90)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        with open(out, "rb") as f:
            assert b"Kerberos mail." in f.read()


def test_relative_keytab_and_config_check():
    with Realm() as r:
        os.environ["KRB5_CONFIG"] = r.kdc.krb5_conf
        srv = Server(extra={"server.hostname": HOST, "gssapi.keytab": "mail.keytab",
                            "gssapi.realm": REALM, "gssapi.domain": DOMAIN})
        with srv:
            data = os.path.join(srv.dir, "data")
            # relative to data_dir, like the TLS files
            r.kdc.keytab(os.path.join(data, "mail.keytab"), "pop/" + HOST, "smtp/" + HOST)
            out = srv.cli("config", "check").stdout.decode()
            assert ("gssapi: %s/mail.keytab: pop/localhost@%s, smtp/localhost@%s: ok"
                    % (data, REALM, REALM)) in out, out
            srv.add_user(ALICE)
            srv.start()
            assert curl_pop3(srv, r.env).returncode == 0
            srv.stop()
            # a keytab without the smtp key: config check says so, and
            # serve warns at its start (and serves POP3 logins)
            os.unlink(os.path.join(data, "mail.keytab"))
            r.kdc.keytab(os.path.join(data, "mail.keytab"), "pop/" + HOST)
            p = srv.cli("config", "check", check=False)
            err = p.stderr.decode()
            assert p.returncode != 0 and "no key for smtp/localhost" in err, err
            srv.start()
            srv.wait_log(r"warn gssapi: .*no key for smtp/localhost")
            assert curl_pop3(srv, r.env).returncode == 0
            srv.stop()
            os.unlink(os.path.join(data, "mail.keytab"))
            p = srv.cli("config", "check", check=False)
            assert p.returncode != 0 and "mail.keytab" in p.stderr.decode(), p.stderr


def test_login_brake():
    # failed GSSAPI logins count like wrong passwords: later attempts from
    # the address wait before their token is checked, a genuine one too
    import time
    with Realm() as r, gss_server(r, {"limits.auth_fail_delay": "200ms",
                                      "limits.auth_fail_delay_max": "1s"}) as srv:
        c = srv.raw()
        c.line()
        for _ in range(3):
            c.send(b"AUTH GSSAPI\r\n")
            assert c.line() == b"+ "
            c.send(base64.b64encode(b"\x60garbage") + b"\r\n")
            assert c.line().startswith(b"-ERR [AUTH]")
        c.close()
        t0 = time.monotonic()
        p = curl_pop3(srv, r.env)
        waited = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        assert waited >= 0.75, waited  # 200 ms << 2 after three failures
        # a token that fails names nobody: the address alone was braked
        assert len(re.findall(r"pop3s? login ip=127\.0\.0\.1 mech=GSSAPI result=failed",
                              srv.log_text())) == 3


def test_domain_defaults_to_realm():
    with Realm() as r, gss_server(r, {"gssapi.domain": None}) as srv:
        srv.add_user("alice@test.realm")
        p = curl_pop3(srv, r.env)
        assert p.returncode == 0, p.stderr
        srv.wait_log(r"pop3s? login user=alice@test\.realm .*mech=GSSAPI result=ok")


def gss_refused(srv, env, service="pop"):
    """curl's login fails; the server answers, logs why, and keeps serving."""
    p = curl_pop3(srv, env)
    assert p.returncode != 0, p.stdout
    return p


def test_principal_without_mailbox_refused():
    with Realm() as r, gss_server(r) as srv:
        env = r.kdc.kinit("carol", "carol-krb-pw-1",
                          ccache=os.path.join(r.kdc.dir, "carol.cc"))
        gss_refused(srv, env)
        srv.wait_log(r"pop3s? login user=carol@TEST\.REALM .*mech=GSSAPI result=failed")
        # alice still gets in
        assert curl_pop3(srv, r.env).returncode == 0


def test_other_realm_refused():
    with Realm() as r, gss_server(r, {"gssapi.realm": "OTHER.REALM"}) as srv:
        gss_refused(srv, r.env)
        srv.wait_log(r"gssapi refused principal=alice@TEST\.REALM: not a user of realm")


def test_garbage_tokens_clean_failure():
    with Realm() as r, gss_server(r) as srv:
        c = srv.raw()
        c.line()
        for tok in (b"\x60\x82\x01\x00\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02junk",
                    os.urandom(1500), b"hello"):
            c.send(b"AUTH GSSAPI\r\n")
            assert c.line() == b"+ "
            c.send(base64.b64encode(tok) + b"\r\n")
            assert c.line().startswith(b"-ERR [AUTH]")
        c.close()
        # a token larger than other mechanisms' messages (an AD ticket's
        # size) still reaches the acceptor: a failure, not a syntax error
        c = srv.raw()
        c.line()
        c.send(b"AUTH GSSAPI\r\n")
        assert c.line() == b"+ "
        c.send(base64.b64encode(b"\x60" + os.urandom(2800)) + b"\r\n")
        assert c.line().startswith(b"-ERR [AUTH]")
        c.close()
        s = srv.submission()
        code, _ = s.docmd("AUTH", "GSSAPI " + base64.b64encode(b"garbage").decode())
        assert code == 535, code
        code, _ = s.docmd("AUTH", "GSSAPI " + base64.b64encode(os.urandom(9000)).decode())
        assert code == 535, code
        s.quit()
        assert curl_pop3(srv, r.env).returncode == 0


def test_not_offered_without_keytab():
    with Realm() as r:
        os.environ["KRB5_CONFIG"] = r.kdc.krb5_conf
        with Server(smtp=True) as srv:
            srv.start()
            c = srv.raw()
            c.line()
            c.cmd("CAPA")
            capa = c.multiline()
            assert not any(b"GSSAPI" in l for l in capa), capa
            c.send(b"AUTH GSSAPI\r\n")
            assert c.line().startswith(b"-ERR"), "GSSAPI accepted without a keytab"
            c.close()
            s = srv.submission()
            assert "GSSAPI" not in s.esmtp_features.get("auth", ""), s.esmtp_features
            code, _ = s.docmd("AUTH", "GSSAPI")
            assert code == 504, code
            s.quit()


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""TLS client certificates and SASL EXTERNAL (RFC 4422 appendix A) over POP3
(pop3s and STLS) and SMTP submission (STARTTLS and 465), with python's ssl,
poplib and smtplib and with curl and msmtp.

A test CA is made here with openssl: alice's certificate (SAN e-mail), bob's
with only a CN, one from another CA, an expired one and a revoked one (with
a CRL). The server asks for certificates only with [tls] client_ca; EXTERNAL
is offered only to a connection whose certificate verified and names an
address, and the account the directory finds for that address is the one
logged in. Password logins keep working with and without a certificate."""
import base64
import os
import poplib
import shutil
import signal
import smtplib
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
PKI = tempfile.mkdtemp(prefix="mailroom-pki.")
CA_CNF = """[ca]
default_ca = testca
[testca]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
certificate = {d}/{ca}.pem
private_key = {d}/{ca}.key
default_md = sha256
default_crl_days = 30
policy = anything
email_in_dn = yes
unique_subject = no
[anything]
commonName = supplied
emailAddress = optional
[user]
basicConstraints = CA:FALSE
keyUsage = digitalSignature
extendedKeyUsage = clientAuth
"""


def openssl(*args):
    p = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60, cwd=PKI)
    assert p.returncode == 0, (args, p.stderr.decode(errors="replace"))


def make_ca(name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "30",
            "-subj", "/CN=%s" % name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    with open(os.path.join(PKI, name + ".cnf"), "w") as f:
        f.write(CA_CNF.format(d=PKI, ca=name))
    open(os.path.join(PKI, "index.txt"), "a").close()
    with open(os.path.join(PKI, "serial"), "w") as f:
        f.write("1000\n")


def make_user(name, ca, subj, san=None, start=None, end=None):
    """name.pem/name.key signed by ca with `openssl ca` (which can backdate)."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj)
    ext = os.path.join(PKI, name + ".ext")
    with open(ext, "w") as f:
        f.write("basicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n"
                "extendedKeyUsage = clientAuth\n")
        if san:
            f.write("subjectAltName = %s\n" % san)
    dates = (["-startdate", start, "-enddate", end] if start else ["-days", "10"])
    openssl("ca", "-batch", "-config", ca + ".cnf", "-in", name + ".csr", "-out",
            name + ".pem", "-notext", "-extfile", ext, *dates)


def pki():
    make_ca("ca")
    make_user("alice", "ca", "/CN=Alice", san="email:alice@example.test")
    make_user("bob", "ca", "/CN=bob")
    make_user("expired", "ca", "/CN=Alice", san="email:alice@example.test",
              start="20200101000000Z", end="20200201000000Z")
    make_user("revoked", "ca", "/CN=Alice", san="email:alice@example.test")
    openssl("ca", "-config", "ca.cnf", "-revoke", "revoked.pem")
    openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")
    # another CA's certificate naming alice too: never trusted
    os.rename(os.path.join(PKI, "index.txt"), os.path.join(PKI, "index.ca.txt"))
    make_ca("other")
    make_user("foreign", "other", "/CN=Alice", san="email:alice@example.test")
    os.chmod(PKI, 0o755)
    for f in os.listdir(PKI):
        os.chmod(os.path.join(PKI, f), 0o644)  # serve reads the CA as its user


def pem(name):
    return os.path.join(PKI, name + ".pem")


def ctx(cert=None):
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    if cert:
        c.load_cert_chain(pem(cert), os.path.join(PKI, cert + ".key"))
    return c


def msg(to, n):
    return ("From: carol@example.test\r\nTo: %s\r\nSubject: for %s %d\r\n\r\n"
            "Hello %s.\r\n" % (to, to, n, to)).encode()


def server(extra=None, client_ca=True):
    conf = {"tls.client_ca": pem("ca") if client_ca else None}
    conf.update(extra or {})
    srv = Server(conf, smtp=True)
    srv.add_user(ALICE)
    srv.add_user(BOB)
    srv.deliver(ALICE, msg(ALICE, 1))
    srv.deliver(BOB, msg(BOB, 1))
    return srv.start()


def b64(s):
    return base64.b64encode(s.encode()).decode() if s else "="


# --- POP3 ---------------------------------------------------------------------

def pop3s(srv, cert=None):
    return poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, timeout=10, context=ctx(cert))


def pop3_stls(srv, cert=None):
    c = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=10)
    c.stls(ctx(cert))
    return c


def sasl_mechs(c):
    return c.capa().get("SASL", [])


def auth_external(c, authzid=""):
    """The server's answer to AUTH EXTERNAL with an initial response."""
    try:
        return c._shortcmd("AUTH EXTERNAL " + b64(authzid))
    except poplib.error_proto as e:
        return e.args[0]


def retr_subject(c):
    lines = c.retr(1)[1]
    return [ln for ln in lines if ln.startswith(b"Subject:")][0].decode()


def test_pop3s_external_logs_into_the_certificates_mailbox():
    with server() as srv:
        c = pop3s(srv, "alice")
        assert "EXTERNAL" in sasl_mechs(c), c.capa()
        assert auth_external(c).startswith(b"+OK"), "empty authzid"
        assert retr_subject(c) == "Subject: for %s 1" % ALICE
        c.quit()
        # the authzid may name the certificate's address (domain in any case)
        c = pop3s(srv, "alice")
        assert auth_external(c, "alice@EXAMPLE.Test").startswith(b"+OK")
        c.quit()
        srv.wait_log(r"pop3s? login user=alice@example.test .*mech=EXTERNAL result=ok")


def test_pop3_stls_external_and_the_two_step_exchange():
    with server() as srv:
        c = pop3_stls(srv, "alice")
        assert "EXTERNAL" in sasl_mechs(c)
        # no initial response: an empty challenge, then the (empty) authzid
        assert c._shortcmd("AUTH EXTERNAL") in (b"+ ", b"+")
        resp = c._shortcmd("=")
        assert resp.startswith(b"+OK"), resp
        assert retr_subject(c) == "Subject: for %s 1" % ALICE
        c.quit()


def test_authzid_of_someone_else_is_refused():
    with server() as srv:
        c = pop3s(srv, "alice")
        assert auth_external(c, BOB).startswith(b"-ERR [AUTH]")
        assert auth_external(c, "Alice@example.test").startswith(b"-ERR [AUTH]")
        # the session stays usable: the right authzid still works
        assert auth_external(c, ALICE).startswith(b"+OK")
        c.quit()
        srv.wait_log(r"pop3s? login .*mech=EXTERNAL result=failed")


def test_no_certificate_no_external():
    with server() as srv:
        for c in (pop3s(srv), pop3_stls(srv)):
            assert "EXTERNAL" not in sasl_mechs(c), c.capa()
            assert auth_external(c).startswith(b"-ERR")
            c.user(ALICE)  # passwords work without a certificate
            assert c.pass_(PASSWORD).startswith(b"+OK")
            c.quit()


def test_untrusted_expired_and_revoked_certificates_give_no_identity():
    with server({"tls.client_crl": pem("crl")}) as srv:
        for cert in ("foreign", "expired", "revoked"):
            c = pop3s(srv, cert)  # the handshake itself succeeds
            assert "EXTERNAL" not in sasl_mechs(c), (cert, c.capa())
            assert auth_external(c).startswith(b"-ERR"), cert
            c.user(ALICE)
            assert c.pass_(PASSWORD).startswith(b"+OK"), cert
            c.quit()
        srv.wait_log(r"client certificate gives no identity: certificate has expired")
        srv.wait_log(r"client certificate gives no identity: certificate revoked")
        srv.wait_log(r"client certificate gives no identity: unable to get local issuer")
        # with the CRL in place a good certificate still verifies
        c = pop3s(srv, "alice")
        assert auth_external(c).startswith(b"+OK")
        c.quit()


def test_password_login_with_a_certificate():
    with server() as srv:
        c = pop3s(srv, "alice")
        c.user(BOB)  # a certificate does not bind the password login
        resp = c.pass_(PASSWORD)
        assert resp.startswith(b"+OK"), resp
        subject = retr_subject(c)
        assert subject == "Subject: for %s 1" % BOB, (subject, srv.log_text()[-2000:])
        c.quit()


def test_cn_mapping_with_a_domain():
    with server({"tls.client_cert_map": "cn",
                 "tls.client_cert_domain": "example.test"}) as srv:
        c = pop3s(srv, "bob")
        assert auth_external(c).startswith(b"+OK")
        assert retr_subject(c) == "Subject: for %s 1" % BOB
        c.quit()
    with server() as srv:  # email mapping: bob's CN-only certificate names nobody
        c = pop3s(srv, "bob")
        assert "EXTERNAL" not in sasl_mechs(c)
        c.quit()
        srv.wait_log(r"client certificate gives no identity: no usable e-mail address")


def test_unknown_and_disabled_accounts():
    with server() as srv:
        srv.cli("user", "set", ALICE, "--enabled", "no")
        c = pop3s(srv, "alice")
        assert auth_external(c).startswith(b"-ERR [SYS/PERM]")
        c.quit()
        srv.cli("user", "remove", ALICE)
        c = pop3s(srv, "alice")
        assert auth_external(c).startswith(b"-ERR [AUTH]")
        c.quit()


def test_without_client_ca_external_is_never_offered():
    with server(client_ca=False) as srv:
        for c in (pop3s(srv, "alice"), pop3_stls(srv, "alice")):
            assert "EXTERNAL" not in sasl_mechs(c)
            assert auth_external(c).startswith(b"-ERR")
            c.quit()
        s = smtp_starttls(srv, "alice")
        assert "EXTERNAL" not in s.esmtp_features.get("auth", "").split()
        assert s.docmd("AUTH", "EXTERNAL =")[0] == 504
        s.quit()


# --- SMTP submission -----------------------------------------------------------

def smtp_starttls(srv, cert=None):
    s = smtplib.SMTP("127.0.0.1", srv.submission_port, timeout=10)
    s.ehlo("client.example")
    s.starttls(context=ctx(cert))
    s.ehlo("client.example")
    return s


def smtp_implicit(srv, cert=None):
    s = smtplib.SMTP_SSL("127.0.0.1", srv.submissions_port, timeout=10, context=ctx(cert))
    s.ehlo("client.example")
    return s


def test_smtp_external_on_587_and_465():
    with server() as srv:
        for s in (smtp_starttls(srv, "alice"), smtp_implicit(srv, "alice")):
            assert "EXTERNAL" in s.esmtp_features["auth"].split(), s.esmtp_features
            code, text = s.docmd("AUTH", "EXTERNAL =")
            assert code == 235, (code, text)
            s.sendmail(ALICE, [BOB], msg(BOB, 2))
            s.quit()
        srv.wait_log(r"(smtp|submissions?) login user=alice@example.test .*mech=EXTERNAL "
                     r"result=ok")
        assert len(srv.messages(BOB)) == 3


def test_smtp_refusals():
    with server() as srv:
        s = smtp_starttls(srv, "alice")
        assert s.docmd("AUTH", "EXTERNAL " + b64(BOB))[0] == 535
        s.login(ALICE, PASSWORD)  # passwords still work with a certificate
        s.quit()
        for cert in (None, "foreign", "expired"):
            s = smtp_starttls(srv, cert)
            assert "EXTERNAL" not in s.esmtp_features["auth"].split(), cert
            assert s.docmd("AUTH", "EXTERNAL =")[0] == 504, cert
            s.login(ALICE, PASSWORD)
            s.quit()


# --- real clients ----------------------------------------------------------------

def run(args, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, **kw)


def test_curl_pop3s_and_smtp_external():
    with server() as srv:
        base = ["curl", "-sS", "-k", "--max-time", "30", "--cert", pem("alice"),
                "--key", os.path.join(PKI, "alice.key"), "--login-options",
                "AUTH=EXTERNAL", "-u", ALICE + ":"]
        p = run(base + ["pop3s://127.0.0.1:%d/1" % srv.pop3s_port])
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert b"Subject: for %s 1" % ALICE.encode() in p.stdout, p.stdout
        p = run(base + ["--ssl-reqd", "pop3://127.0.0.1:%d/1" % srv.pop3_port])
        assert p.returncode == 0, (p.returncode, p.stderr)
        # without the certificate curl's EXTERNAL login fails
        p = run(["curl", "-sS", "-k", "--max-time", "30", "--login-options",
                 "AUTH=EXTERNAL", "-u", ALICE + ":",
                 "pop3s://127.0.0.1:%d/1" % srv.pop3s_port])
        assert p.returncode != 0, p.stdout
        # SMTP submission with STARTTLS
        p = run(base + ["--ssl-reqd", "--mail-from", ALICE, "--mail-rcpt", BOB,
                        "--upload-file", "-",
                        "smtp://127.0.0.1:%d" % srv.submission_port], input=msg(BOB, 3))
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert len(srv.messages(BOB)) == 2


def test_msmtp_auth_external():
    with server() as srv:
        home = tempfile.mkdtemp(prefix="mailroom-msmtp.")
        try:
            conf = os.path.join(home, "msmtprc")
            with open(conf, "w") as f:
                f.write("account default\nhost 127.0.0.1\nport %d\nfrom %s\n"
                        "tls on\ntls_starttls on\ntls_certcheck off\n"
                        "tls_cert_file %s\ntls_key_file %s\nauth external\nuser %s\n"
                        % (srv.submission_port, ALICE, pem("alice"),
                           os.path.join(PKI, "alice.key"), ALICE))
            os.chmod(conf, 0o600)
            p = run(["msmtp", "-C", conf, BOB], input=msg(BOB, 4))
            assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        assert len(srv.messages(BOB)) == 2


def test_sighup_turns_client_certificates_on_and_config_check_reads_them():
    with server(client_ca=False) as srv:
        c = pop3s(srv, "alice")
        assert "EXTERNAL" not in sasl_mechs(c)
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace("[tls]\n", "[tls]\nclient_ca = %s\n" % pem("ca")))
        if "[tls]" not in text:
            with open(srv.conf, "a") as f:
                f.write("[tls]\nclient_ca = %s\n" % pem("ca"))
        out = srv.cli("config", "check").stdout.decode()
        assert "tls: client certificates from %s: ok" % pem("ca") in out, out
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"reload: TLS certificate")
        assert "EXTERNAL" not in sasl_mechs(c)  # decided at this one's handshake
        c.quit()
        c = pop3s(srv, "alice")
        assert auth_external(c).startswith(b"+OK")
        c.quit()
        # a CA file that is not there: config check says so
        with open(srv.conf) as f:
            text = f.read()
        with open(srv.conf, "w") as f:
            f.write(text.replace(pem("ca"), pem("nope")))
        p = srv.cli("config", "check", check=False)
        assert p.returncode != 0 and b"nope.pem" in p.stderr, p.stderr


if __name__ == "__main__":
    try:
        pki()
        run_tests(globals())
    finally:
        shutil.rmtree(PKI, ignore_errors=True)

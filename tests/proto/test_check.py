# SPDX-License-Identifier: MIT
"""`mailroom check` against real servers on loopback: mailroom with every
step passing (the probe gone from the mailbox afterwards, no password in
the output), mailroom with a broken piece (POP3 off, a wrong password, an
expired certificate, one expiring in 10 days, an untrusted self-signed
one, a server that accepts and never answers), each with its line and exit
code; --dns against a private unbound; and a private Dovecot (POP3 with STLS
and pop3s) with Postfix (submission with STARTTLS and implicit TLS, SASL by
the Dovecot, delivering into the Maildir the Dovecot serves)."""
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from harness import Server, free_port, run_tests  # noqa: E402

USER = "alice@example.test"
HOST = "mail.example.test"


def run_check(conf, *args, password=H.PASSWORD, stdin_flag=True, timeout=90):
    t0 = time.monotonic()
    flag = ["--password-stdin"] if stdin_flag else []
    p = subprocess.run([H.BIN, "-c", conf, "check", USER] + flag + list(args),
                       input=None if password is None else (password + "\n").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    out, err = p.stdout.decode(), p.stderr.decode()
    H.check_sanitizer(err, "mailroom check")
    return p.returncode, out, err, time.monotonic() - t0


def lines(out):
    """{(service, step): (status, details)} of the step lines."""
    res = {}
    for ln in out.splitlines():
        parts = ln.split(None, 4)
        if len(parts) == 5 and parts[0] in ("OK", "WARNING", "CRITICAL", "SKIPPED"):
            status, service, _addr, step, rest = parts
            res[(service, step)] = (status, rest)
    return res


def trusted(srv):
    return ["--ca-file", os.path.join(srv.dir, "data", "tls", "cert.pem"),
            "--tls-name", HOST]


def stat(srv):
    c = srv.poplib_ssl(USER)
    n = c.stat()
    c.quit()
    return n


# --- certificates made by the test (openssl ca with chosen dates) ------------

CA_CONF = """[ca]
default_ca = test
[test]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = pol
copy_extensions = copy
unique_subject = no
[pol]
commonName = supplied
"""


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True,
                   timeout=60)


def make_cert(d, start, end):
    """A CA (d/ca.pem) and a server certificate for HOST valid from start
    to end (datetimes, UTC): d/cert.pem, d/key.pem."""
    with open(os.path.join(d, "ca.conf"), "w") as f:
        f.write(CA_CONF.format(d=d))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
            "-subj", "/CN=mailroom test CA", cwd=d)
    openssl("req", *ec, "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=" + HOST,
            "-addext", "subjectAltName=DNS:" + HOST, cwd=d)
    fmt = "%Y%m%d%H%M%SZ"
    openssl("ca", "-batch", "-config", "ca.conf", "-cert", "ca.pem", "-keyfile", "ca.key",
            "-in", "req.csr", "-out", "cert.pem", "-notext", "-startdate",
            start.strftime(fmt), "-enddate", end.strftime(fmt), cwd=d)
    os.chmod(os.path.join(d, "key.pem"), 0o644)  # serve reads it as its own user


def cert_server(start, end):
    d = tempfile.mkdtemp(prefix="mailroom-check-ca.")
    os.chmod(d, 0o755)
    make_cert(d, start, end)
    srv = Server(smtp=True, extra={"tls.cert": os.path.join(d, "cert.pem"),
                                   "tls.key": os.path.join(d, "key.pem")})
    srv.ca_dir = d
    return srv


# --- against mailroom ----------------------------------------------------------

def test_all_pass():
    with Server(smtp=True) as srv:
        srv.add_user(USER)
        srv.deliver(USER, "Subject: mailroom check 0000\r\n\r\nan older message\r\n")
        srv.start()
        before = stat(srv)
        rc, out, err, _ = run_check(srv.conf, *trusted(srv))
        assert rc == 0, (rc, out, err)
        got = lines(out)
        for svc in ("pop3", "pop3s"):
            for step in ("connect", "greeting", "tls", "login", "stat", "logout"):
                assert got[(svc, step)][0] == "OK", (svc, step, out)
        for svc in ("submission", "submissions"):
            for step in ("connect", "greeting", "tls", "login", "logout"):
                assert got[(svc, step)][0] == "OK", (svc, step, out)
        assert "TLSv1." in got[("pop3s", "tls")][1] and HOST in got[("pop3s", "tls")][1]
        assert "verified" in got[("pop3s", "tls")][1], out
        assert got[("probe", "send")][0] == "OK" and got[("probe", "fetch")][0] == "OK", out
        assert "intact, deleted" in got[("probe", "fetch")][1], out
        last = out.splitlines()[-1]
        assert last.startswith("MAILROOM CHECK OK - 24 steps in "), last
        assert "| time_pop3_connect=" in last and "time_probe_e2e=" in last, last
        assert H.PASSWORD not in out + err
        assert stat(srv) == before, (before, stat(srv))  # the probe is gone
        # the same as JSON
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--json")
        assert rc == 0, (rc, out, err)
        steps = json.loads(out)
        assert len(steps) == 24 and all(s["status"] == "OK" for s in steps), out
        assert {"status", "service", "address", "step", "ms", "details"} <= set(steps[0])
        assert stat(srv) == before


def test_pop3_off_and_refused():
    with Server(smtp=True, pop3=False) as srv:
        srv.add_user(USER)
        srv.start()
        # off in the config: skipped, the probe goes over pop3s
        rc, out, err, _ = run_check(srv.conf, *trusted(srv))
        assert rc == 0, (rc, out, err)
        assert lines(out)[("pop3", "connect")][0] == "SKIPPED", out
        assert lines(out)[("probe", "fetch")][0] == "OK", out
        # pointed at a port where nothing listens: refused, CRITICAL
        dead = "127.0.0.1:%d" % free_port()
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--pop3", dead)
        assert rc == 2, (rc, out, err)
        st, details = lines(out)[("pop3", "connect")]
        assert st == "CRITICAL" and "refused" in details.lower(), out
        assert out.splitlines()[-1].startswith(
            "MAILROOM CHECK CRITICAL - pop3 connect %s: " % dead), out


def test_wrong_password():
    with Server(smtp=True) as srv:
        srv.add_user(USER)
        srv.start()
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), password="not-the-password")
        assert rc == 2, (rc, out, err)
        got = lines(out)
        for svc in ("pop3", "pop3s", "submission", "submissions"):
            st, details = got[(svc, "login")]
            assert st == "CRITICAL" and "refused" in details, out
        assert got[("probe", "send")][0] == "SKIPPED", out
        assert "not-the-password" not in out + err


def test_expired_certificate():
    now = datetime.datetime.now(datetime.timezone.utc)
    srv = cert_server(now - datetime.timedelta(days=400), now - datetime.timedelta(days=35))
    with srv:
        srv.add_user(USER)
        srv.start()
        ca = os.path.join(srv.ca_dir, "ca.pem")
        rc, out, err, _ = run_check(srv.conf, "--ca-file", ca, "--tls-name", HOST)
        assert rc == 2, (rc, out, err)
        st, details = lines(out)[("pop3s", "tls")]
        assert st == "CRITICAL" and "certificate expired" in details, out
        # the password is not sent to a server whose certificate failed
        assert ("pop3s", "login") not in lines(out), out
    shutil.rmtree(srv.ca_dir, ignore_errors=True)


def test_certificate_expiring_soon():
    now = datetime.datetime.now(datetime.timezone.utc)
    srv = cert_server(now - datetime.timedelta(days=1), now + datetime.timedelta(days=10))
    with srv:
        srv.add_user(USER)
        srv.start()
        ca = os.path.join(srv.ca_dir, "ca.pem")
        rc, out, err, _ = run_check(srv.conf, "--ca-file", ca, "--tls-name", HOST)
        assert rc == 1, (rc, out, err)
        st, details = lines(out)[("submission", "tls")]
        assert st == "WARNING" and "expires in" in details, out
        assert "issuer mailroom test CA" in details, out
        assert lines(out)[("probe", "fetch")][0] == "OK", out
        assert out.splitlines()[-1].startswith("MAILROOM CHECK WARNING - pop3 tls "), out
    shutil.rmtree(srv.ca_dir, ignore_errors=True)


def test_untrusted_self_signed():
    with Server(smtp=True) as srv:
        srv.add_user(USER)
        srv.start()
        rc, out, err, _ = run_check(srv.conf, "--tls-name", HOST)
        assert rc == 1, (rc, out, err)
        st, details = lines(out)[("pop3", "tls")]
        assert st == "WARNING" and "not verified: self-signed certificate" in details, out
        # a wrong name is a warning too, and says so
        rc, out, err, _ = run_check(srv.conf, "--ca-file",
                                    os.path.join(srv.dir, "data", "tls", "cert.pem"),
                                    "--tls-name", "other.example.test", "--no-probe")
        assert rc == 1, (rc, out, err)
        assert "hostname mismatch" in lines(out)[("pop3s", "tls")][1], out


def test_silent_server_times_out():
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", free_port()))
    lsock.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lsock.accept()[0])  # and never a word
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        with Server(smtp=True) as srv:
            addr = "127.0.0.1:%d" % lsock.getsockname()[1]
            rc, out, err, took = run_check(srv.conf, "--pop3", addr, "--pop3s", addr,
                                           "--submission", "off", "--submissions", addr,
                                           "--timeout", "2", "--no-probe")
            assert rc == 2, (rc, out, err)
            got = lines(out)
            assert got[("pop3", "greeting")][0] == "CRITICAL", out
            assert "timeout after 2 s" in got[("pop3", "greeting")][1], out
            assert "timeout after 2 s" in got[("pop3s", "tls")][1], out
            assert "timeout after 2 s" in got[("submissions", "tls")][1], out
            assert took < 15, took
    finally:
        stop.set()
        t.join(timeout=5)
        for s in held:
            s.close()
        lsock.close()


def test_cannot_run_is_unknown():
    with Server(smtp=True) as srv:
        rc, out, err, _ = run_check(srv.conf, stdin_flag=False)
        assert rc == 3 and "--password-stdin" in err, (rc, err)
        rc, out, err, _ = run_check(srv.conf, password=None)
        assert rc == 3, (rc, err)
        rc, out, err, _ = run_check(srv.conf, "--bogus")
        assert rc == 3, (rc, err)
        rc, out, err, _ = run_check(srv.conf, "--timeout", "0")
        assert rc == 3, (rc, err)
        p = subprocess.run([H.BIN, "-c", srv.conf, "check", "--help"], capture_output=True,
                           timeout=30)
        assert p.returncode == 0 and b"Exit: 0 OK, 1 WARNING" in p.stdout


# --- DNS -------------------------------------------------------------------------

DNS_ZONES = """
  local-zone: "example.test." static
  local-data: "example.test. MX 10 mail.example.test."
  local-data: 'example.test. TXT "v=spf1 mx -all"'
  local-data: "mail.example.test. A 127.0.0.2"
  local-data: "bare.example.test. A 127.0.0.4"
  local-data: "stray.example.test. A 127.0.0.5"
  local-zone: "nospf.test." static
  local-data: "nospf.test. MX 10 mx.nospf.test."
  local-data: 'nospf.test. TXT "not an spf record"'
  local-data: "mx.nospf.test. A 127.0.0.9"
  local-zone: "127.in-addr.arpa." static
  local-data-ptr: "127.0.0.2 mail.example.test"
  local-data-ptr: "127.0.0.5 elsewhere.example.test"
"""


def unbound():
    import test_dns
    test_dns.ZONES = DNS_ZONES
    return test_dns.Unbound()


def test_dns_records():
    if shutil.which("unbound") is None and not os.path.exists("/usr/sbin/unbound"):
        print("skip: unbound not installed")
        sys.exit(77)
    ub = unbound()
    try:
        off = ["--pop3", "off", "--pop3s", "off", "--submission", "off",
               "--submissions", "off", "--no-probe"]
        resolver = "127.0.0.1:%d" % ub.port
        with Server(extra={"delivery.resolver": resolver}) as srv:
            rc, out, err, _ = run_check(srv.conf, *off, "--dns", "example.test")
            assert rc == 0, (rc, out, err)
            got = lines(out)
            assert got[("dns", "mx")][1].endswith("10 mail.example.test"), out
            assert got[("dns", "mx-host")][1].endswith("127.0.0.2"), out
            assert got[("dns", "host")][1].endswith("127.0.0.2"), out
            assert got[("dns", "ptr")][0] == "OK", out
            assert "mail.example.test (forward-confirmed)" in got[("dns", "ptr")][1], out
            assert got[("dns", "spf")][1].endswith("v=spf1 mx -all"), out
            assert "dkim" not in out.lower(), out
        # a mail host without PTR, and a domain without SPF: warnings
        with Server(extra={"delivery.resolver": resolver,
                           "server.hostname": "bare.example.test"}) as srv:
            rc, out, err, _ = run_check(srv.conf, *off, "--dns", "nospf.test")
            assert rc == 1, (rc, out, err)
            got = lines(out)
            assert got[("dns", "mx")][0] == "OK", out
            st, details = got[("dns", "ptr")]
            assert st == "WARNING" and "no PTR record" in details, out
            st, details = got[("dns", "spf")]
            assert st == "WARNING" and "no SPF record" in details, out
        # a PTR whose name does not resolve back; a domain that does not exist
        with Server(extra={"delivery.resolver": resolver,
                           "server.hostname": "stray.example.test"}) as srv:
            rc, out, err, _ = run_check(srv.conf, *off, "--dns", "nosuch.test")
            assert rc == 2, (rc, out, err)
            got = lines(out)
            assert got[("dns", "mx")][0] == "CRITICAL", out
            st, details = got[("dns", "ptr")]
            assert st == "WARNING" and "not forward-confirmed" in details, out
    finally:
        ub.stop()


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""`mailroom check` against real servers on loopback: mailroom with every
step passing (POP3, IMAP and submission; the probe found over IMAP and gone
from the mailbox afterwards, no password in the output), mailroom with a
broken piece (POP3 off, IMAP only, a wrong password, an IMAP port that is
closed, an expired certificate, one expiring in 10 days, an untrusted
self-signed one, a server that accepts and never answers), each with its
line and exit code; hostile IMAP servers (no STARTTLS, a literal over the
bound, a line over 8192 octets, a literal that never ends, BYE) and a
scripted one for each form of IMAP login; --dns
against a private unbound; and a private Dovecot (POP3 with STLS and pop3s,
IMAP with STARTTLS) with Postfix (submission with STARTTLS and implicit
TLS, SASL by the Dovecot, delivering into the Maildir the Dovecot serves),
and Dovecot's IMAP alone."""
import base64
import datetime
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as H  # noqa: E402
from dovecot import Dovecot, need_dovecot, need_dovecot_imap  # noqa: E402
from harness import Server, free_port, run_tests  # noqa: E402
from postfix import Postfix, need_postfix  # noqa: E402

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


STEP_LINE = re.compile(r"^(OK|WARNING|CRITICAL|SKIPPED) +(\S+) +(\S+) +(\S+) +(\d+ ms|-)  (.*)$")


def lines(out):
    """{(service, step): (status, details)} of the step lines."""
    res = {}
    for ln in out.splitlines():
        m = STEP_LINE.match(ln)
        if m:
            res[(m.group(2), m.group(4))] = (m.group(1), m.group(6))
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

def imap_count(srv):
    c = srv.imaplib_ssl(USER)
    typ, data = c.select("INBOX")
    c.logout()
    return int(data[0])


IMAP_STEPS = ("connect", "greeting", "capability", "tls", "login", "select", "logout")


def test_all_pass():
    with Server(smtp=True, imap=True) as srv:
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
        for svc in ("imap", "imaps"):
            for step in IMAP_STEPS:
                assert got[(svc, step)][0] == "OK", (svc, step, out)
        for svc in ("submission", "submissions"):
            for step in ("connect", "greeting", "tls", "login", "logout"):
                assert got[(svc, step)][0] == "OK", (svc, step, out)
        assert "TLSv1." in got[("pop3s", "tls")][1] and HOST in got[("pop3s", "tls")][1]
        assert "verified" in got[("pop3s", "tls")][1], out
        assert "verified" in got[("imap", "tls")][1], out
        assert "STARTTLS" in got[("imap", "capability")][1], out
        assert "AUTHENTICATE PLAIN as " + USER in got[("imaps", "login")][1], out
        assert got[("imaps", "select")][1].startswith("1 message, UIDVALIDITY "), out
        assert got[("imap", "greeting")][1].startswith("* OK "), out
        assert got[("imap", "logout")][1].startswith("* BYE"), out
        assert got[("probe", "send")][0] == "OK" and got[("probe", "fetch")][0] == "OK", out
        # found over IMAPS by its Message-ID, then fetched and deleted over POP3S
        st, details = got[("probe", "find")]
        assert st == "OK" and details.startswith("over imaps after 1 poll: UID "), out
        assert "intact;" in details and "deleted" not in details, out
        assert "intact, deleted" in got[("probe", "fetch")][1], out
        last = out.splitlines()[-1]
        assert last.startswith("MAILROOM CHECK OK - 39 steps in "), last
        assert "| time_pop3_connect=" in last and "time_probe_e2e=" in last, last
        assert "time_imap_capability=" in last and "time_probe_find=" in last, last
        assert H.PASSWORD not in out + err
        assert stat(srv) == before, (before, stat(srv))  # the probe is gone
        assert imap_count(srv) == before[0]
        # the step column holds "capability" and keeps the others in line
        ln = [x for x in out.splitlines() if " capability " in x][0]
        assert re.match(r"^OK {7}imap {8}127\.0\.0\.1:\d+ +capability +\d+ ms  ", ln), ln
        # the same as JSON
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--json")
        assert rc == 0, (rc, out, err)
        steps = json.loads(out)
        assert len(steps) == 39 and all(s["status"] == "OK" for s in steps), out
        assert {"status", "service", "address", "step", "ms", "details"} <= set(steps[0])
        assert stat(srv) == before


def test_pop3_off_and_refused():
    wild = free_port()
    with Server(smtp=True, pop3=False, extra={"listen.pop3s": "0.0.0.0:%d" % wild}) as srv:
        srv.pop3s_port = wild
        srv.add_user(USER)
        srv.start()
        # off in the config: skipped, the probe goes over pop3s
        rc, out, err, _ = run_check(srv.conf, *trusted(srv))
        assert rc == 0, (rc, out, err)
        assert lines(out)[("pop3", "connect")][0] == "SKIPPED", out
        assert lines(out)[("probe", "fetch")][0] == "OK", out
        # a wildcard listener is reached on loopback
        assert "127.0.0.1:%d" % wild in out, out
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


def test_imap_only():
    # no POP3: the probe is found, checked and deleted over IMAP (UID
    # EXPUNGE of its UID only); an older message stays
    with Server(smtp=True, pop3=False, pop3s=False, imap=True) as srv:
        srv.add_user(USER)
        srv.deliver(USER, "Subject: mailroom check 0000\r\nMessage-ID: <mailroom-check.0@x>\r\n"
                    "\r\nan older message\r\n")
        srv.start()
        rc, out, err, _ = run_check(srv.conf, *trusted(srv))
        assert rc == 0, (rc, out, err)
        got = lines(out)
        assert got[("pop3", "connect")][0] == "SKIPPED", out
        assert ("probe", "fetch") not in got, out
        st, details = got[("probe", "find")]
        assert st == "OK" and "intact, deleted" in details and "over imaps" in details, out
        assert imap_count(srv) == 1, out
        # IMAP alone (STARTTLS): the same over port 143's role
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--imaps", "off")
        assert rc == 0, (rc, out, err)
        assert "over imap after" in lines(out)[("probe", "find")][1], out
        assert imap_count(srv) == 1, out
        # no submission: nothing to find
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--submission", "off",
                                    "--submissions", "off")
        assert rc == 0, (rc, out, err)
        assert lines(out)[("probe", "send")][0] == "SKIPPED", out


def test_imap_wrong_password():
    with Server(smtp=True, imap=True) as srv:
        srv.add_user(USER)
        srv.start()
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--pop3", "off", "--pop3s", "off",
                                    password="not-the-password")
        assert rc == 2, (rc, out, err)
        got = lines(out)
        for svc in ("imap", "imaps"):
            st, details = got[(svc, "login")]
            assert st == "CRITICAL" and "refused: NO [AUTHENTICATIONFAILED]" in details, out
            assert (svc, "select") not in got, out
        assert got[("probe", "send")][0] == "SKIPPED", out
        assert out.splitlines()[-1].startswith("MAILROOM CHECK CRITICAL - imap login "), out
        assert "not-the-password" not in out + err


def test_imap_port_closed():
    with Server(smtp=True, imap=True) as srv:
        srv.add_user(USER)
        srv.start()
        dead, dead_s = ("127.0.0.1:%d" % free_port() for _ in range(2))
        rc, out, err, _ = run_check(srv.conf, *trusted(srv), "--imap", dead, "--imaps", dead_s)
        assert rc == 2, (rc, out, err)
        got = lines(out)
        for svc in ("imap", "imaps"):
            st, details = got[(svc, "connect")]
            assert st == "CRITICAL" and "refused" in details.lower(), out
        assert out.splitlines()[-1].startswith("MAILROOM CHECK CRITICAL - imap connect %s: "
                                               % dead), out
        # the probe goes on over POP3, with no IMAP search
        assert ("probe", "find") not in got and got[("probe", "fetch")][0] == "OK", out
        # --host: the standard ports there; a port where nothing listens
        # is CRITICAL in the same way
        rc, out, err, _ = run_check(srv.conf, "--no-probe", "--host", "127.0.0.1",
                                    "--imap", dead, "--imaps", "off")
        assert lines(out)[("imap", "connect")][0] == "CRITICAL", out
        assert lines(out)[("imaps", "connect")][0] == "SKIPPED", out


class ScriptedImap(threading.Thread):
    """An IMAP server on loopback, one connection at a time: greeting,
    then caps for CAPABILITY (caps_tls after STARTTLS, offered with a
    certificate of cert_dir), LOGIN and AUTHENTICATE PLAIN accepted (with
    a "+" when the credentials are not on the line, and for a LOGIN
    literal). The lines it was sent are in got, those after TLS in lines."""

    def __init__(self, greeting=b"* OK scripted IMAP ready\r\n",
                 caps=b"IMAP4rev1 STARTTLS LOGINDISABLED", caps_tls=b"IMAP4rev1", cert_dir=None):
        super().__init__(daemon=True)
        self.greeting, self.caps, self.caps_tls = greeting, caps, caps_tls
        self.got, self.lines = [], []
        self.ctx = None
        if cert_dir is not None:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(os.path.join(cert_dir, "cert.pem"),
                                     os.path.join(cert_dir, "key.pem"))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.halt = threading.Event()
        self.start()

    def run(self):
        while not self.halt.is_set():
            try:
                c = self.sock.accept()[0]
            except OSError:
                continue
            try:
                self.session(c)
            except (OSError, ValueError):
                pass
            finally:
                c.close()

    def session(self, c):
        c.settimeout(5)
        f = c.makefile("rb")
        c.sendall(self.greeting)
        tls = False
        for _ in range(50):
            line = f.readline(10000)
            if not line:
                return
            line = line.rstrip(b"\r\n")
            self.got.append(line)
            if tls:
                self.lines.append(line)
            tag, _, rest = line.partition(b" ")
            verb = rest.split(b" ", 1)[0].upper()
            out = b""
            if verb == b"CAPABILITY":
                caps = self.caps_tls if tls else self.caps
                out = b"* CAPABILITY " + caps + b"\r\n" + tag + b" OK done\r\n"
            elif verb == b"STARTTLS" and self.ctx is not None:
                c.sendall(tag + b" OK begin TLS\r\n")
                c = self.ctx.wrap_socket(c, server_side=True)
                f = c.makefile("rb")
                tls = True
                continue
            elif verb in (b"LOGIN", b"AUTHENTICATE"):
                if line.endswith(b"}") or line.upper().endswith(b"PLAIN"):
                    c.sendall(b"+ \r\n")
                    more = f.readline(10000).rstrip(b"\r\n")
                    self.got.append(more)
                    self.lines.append(more)
                out = tag + b" OK [CAPABILITY IMAP4rev1 UIDPLUS] logged in\r\n"
            elif verb == b"SELECT":
                out = (b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 9] n\r\n"
                       + tag + b" OK [READ-WRITE] done\r\n")
            elif verb == b"LOGOUT":
                c.sendall(b"* BYE scripted bye\r\n" + tag + b" OK done\r\n")
                return
            else:
                out = tag + b" BAD not in this script\r\n"
            c.sendall(out)

    def close(self):
        self.halt.set()
        self.join(timeout=10)
        self.sock.close()


def test_imap_hostile_servers():
    cases = [
        # no STARTTLS: the password is not sent in the clear
        (b"* OK fake ready\r\n", "tls", "no STARTTLS in CAPABILITY"),
        # a literal over the reader's bound, refused before it is read
        (b"* OK [ALERT] {99999999999}\r\n", "greeting", "a response over its size limit"),
        (b"* OK " + b"x" * 9000 + b"\r\n", "greeting", "a response line over 8192 octets"),
        # a literal that never ends: the step's deadline
        (b"* OK {50}\r\nnot fifty", "greeting", "timeout after 2 s"),
        (b"* BYE too busy\r\n", "greeting", "refused: * BYE too busy"),
        (b"+OK a POP3 server\r\n", "greeting", "not an IMAP greeting: +OK a POP3 server"),
        (b"a1 OK early\r\n", "greeting", "not an IMAP greeting: a1 OK early"),
        (b"* OK a\x00b\r\n", "greeting", "NUL in a response line"),
    ]
    with Server() as srv:
        for greeting, step, why in cases:
            fake = ScriptedImap(greeting=greeting, caps=b"IMAP4rev1 AUTH=PLAIN")
            try:
                rc, out, err, took = run_check(
                    srv.conf, "--pop3", "off", "--pop3s", "off", "--imaps", "off",
                    "--imap", fake.addr, "--timeout", "2", "--no-probe")
                assert rc == 2, (greeting, rc, out, err)
                st, details = lines(out)[("imap", step)]
                assert st == "CRITICAL" and why in details, (greeting, out)
                assert took < 15, took
                assert not any(H.PASSWORD.encode() in ln for ln in fake.got), fake.got
            finally:
                fake.close()


def test_imap_login_forms():
    # LOGIN with a quoted string (its " and \ escaped), LOGIN with a
    # literal (an 8-bit password, after the server's "+"), AUTHENTICATE
    # PLAIN without SASL-IR (the credentials after "+"), and a server that
    # offers neither (LOGINDISABLED) against a scripted STARTTLS server
    d = tempfile.mkdtemp(prefix="mailroom-check-il.")
    now = datetime.datetime.now(datetime.timezone.utc)
    make_cert(d, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90))
    cases = [
        (b"IMAP4rev1", 'pa"ss\\word', "OK", "LOGIN as " + USER,
         b'LOGIN "alice@example.test" "pa\\"ss\\\\word"'),
        (b"IMAP4rev1", "p\u00e4ssword", "OK", "LOGIN as " + USER,
         "p\u00e4ssword".encode()),
        (b"IMAP4rev1 AUTH=PLAIN", "secret", "OK", "AUTHENTICATE PLAIN as " + USER,
         base64.b64encode(b"\0" + USER.encode() + b"\0secret")),
        (b"IMAP4rev1 LOGINDISABLED", "secret", "CRITICAL", "LOGINDISABLED and no AUTH=PLAIN",
         None),
    ]
    try:
        with Server() as srv:
            for caps, password, want, details, sent in cases:
                fake = ScriptedImap(caps_tls=caps, cert_dir=d)
                try:
                    rc, out, err, _ = run_check(
                        srv.conf, "--pop3", "off", "--pop3s", "off", "--imaps", "off",
                        "--imap", fake.addr, "--submission", "off", "--submissions", "off",
                        "--ca-file", os.path.join(d, "ca.pem"), "--tls-name", HOST,
                        "--timeout", "5", password=password)
                    got = lines(out)
                    st, text = got[("imap", "login")]
                    assert st == want and details in text, (caps, out, err, fake.lines)
                    if want == "OK":
                        assert rc == 0, (rc, out, err)
                        assert got[("imap", "select")][1].startswith(
                            "2 messages, UIDVALIDITY 7, UIDNEXT 9"), out
                        assert got[("imap", "logout")][1] == "* BYE scripted bye", out
                        assert any(ln.endswith(sent) for ln in fake.lines), (sent, fake.lines)
                    else:
                        assert rc == 2 and ("imap", "select") not in got, (rc, out)
                    # the probe is skipped: no submission
                    assert got[("probe", "send")][0] == "SKIPPED", out
                    assert password not in out + err
                finally:
                    fake.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def check_with_cert(start_days, end_days):
    """`check` against a mailroom whose certificate (from the test's CA)
    is valid from now + start_days to now + end_days."""
    now = datetime.datetime.now(datetime.timezone.utc)
    srv = cert_server(now + datetime.timedelta(days=start_days),
                      now + datetime.timedelta(days=end_days))
    try:
        with srv:
            srv.add_user(USER)
            srv.start()
            ca = os.path.join(srv.ca_dir, "ca.pem")
            return run_check(srv.conf, "--ca-file", ca, "--tls-name", HOST)[:3]
    finally:
        shutil.rmtree(srv.ca_dir, ignore_errors=True)


def test_expired_certificate():
    rc, out, err = check_with_cert(-400, -35)
    assert rc == 2, (rc, out, err)
    st, details = lines(out)[("pop3s", "tls")]
    assert st == "CRITICAL" and "certificate expired" in details, out
    # the password is not sent to a server whose certificate failed
    assert ("pop3s", "login") not in lines(out), out


def test_certificate_expiring_soon():
    rc, out, err = check_with_cert(-1, 10)
    assert rc == 1, (rc, out, err)
    st, details = lines(out)[("submission", "tls")]
    assert st == "WARNING" and "expires in" in details, out
    assert "issuer mailroom test CA" in details, out
    assert lines(out)[("probe", "fetch")][0] == "OK", out
    assert out.splitlines()[-1].startswith("MAILROOM CHECK WARNING - pop3 tls "), out


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


def test_probe_that_never_arrives():
    # submission at one server, POP3 at another: the probe is accepted and
    # never seen in the mailbox; the poll ends at --probe-timeout
    with Server(smtp=True) as sub, Server() as pop:
        for srv in (sub, pop):
            srv.add_user(USER)
            srv.start()
        rc, out, err, took = run_check(
            sub.conf, "--tls-name", HOST, "--submissions", "off",
            "--pop3", "127.0.0.1:%d" % pop.pop3_port, "--pop3s", "127.0.0.1:%d" % pop.pop3s_port,
            "--probe-timeout", "2")
        assert rc == 2, (rc, out, err)
        got = lines(out)
        assert got[("probe", "send")][0] == "OK", out
        st, details = got[("probe", "fetch")]
        assert st == "CRITICAL" and "not in the mailbox within 2 s" in details, out
        assert took < 15, took


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
                                           "--imap", addr, "--imaps", addr,
                                           "--submission", "off", "--submissions", addr,
                                           "--timeout", "2", "--no-probe")
            assert rc == 2, (rc, out, err)
            got = lines(out)
            assert got[("pop3", "greeting")][0] == "CRITICAL", out
            assert "timeout after 2 s" in got[("pop3", "greeting")][1], out
            assert "timeout after 2 s" in got[("pop3s", "tls")][1], out
            assert "timeout after 2 s" in got[("submissions", "tls")][1], out
            assert "timeout after 2 s" in got[("imap", "greeting")][1], out
            assert "timeout after 2 s" in got[("imaps", "tls")][1], out
            assert took < 20, took
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
        rc, out, err, _ = run_check(os.path.join(srv.dir, "missing.conf"))
        assert rc == 3 and "missing.conf" in err, (rc, err)
        rc, out, err, _ = run_check(srv.conf, "--ca-file", os.path.join(srv.dir, "none.pem"))
        assert rc == 3 and "none.pem" in err, (rc, err)
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
        resolver = "127.0.0.1:%d" % ub.port

        def dns_check(hostname, domain, want_rc):
            with Server(extra={"delivery.resolver": resolver,
                               "server.hostname": hostname}) as srv:
                rc, out, err, _ = run_check(srv.conf, "--pop3", "off", "--pop3s", "off",
                                            "--submission", "off", "--submissions", "off",
                                            "--no-probe", "--dns", domain)
                assert rc == want_rc, (rc, out, err)
                return out, lines(out)

        out, got = dns_check("mail.example.test", "example.test", 0)
        assert got[("dns", "mx")][1].endswith("10 mail.example.test"), out
        assert got[("dns", "mx-host")][1].endswith("127.0.0.2"), out
        assert got[("dns", "host")][1].endswith("127.0.0.2"), out
        assert got[("dns", "ptr")][0] == "OK", out
        assert "mail.example.test (forward-confirmed)" in got[("dns", "ptr")][1], out
        assert got[("dns", "spf")][1].endswith("v=spf1 mx -all"), out
        assert "dkim" not in out.lower(), out
        # a mail host without PTR, and a domain without SPF: warnings
        out, got = dns_check("bare.example.test", "nospf.test", 1)
        assert got[("dns", "mx")][0] == "OK", out
        st, details = got[("dns", "ptr")]
        assert st == "WARNING" and "no PTR record" in details, out
        st, details = got[("dns", "spf")]
        assert st == "WARNING" and "no SPF record" in details, out
        # a PTR whose name does not resolve back; a domain that does not exist
        out, got = dns_check("stray.example.test", "nosuch.test", 2)
        assert got[("dns", "mx")][0] == "CRITICAL", out
        st, details = got[("dns", "ptr")]
        assert st == "WARNING" and "not forward-confirmed" in details, out
    finally:
        ub.stop()


# --- a private Dovecot + Postfix -------------------------------------------------

POSTFIX_MAIN = """myhostname = mail.example.test
mynetworks = 127.0.0.255/32
virtual_mailbox_domains = example.test
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{pf}/conf/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_cert_file = {d}/cert.pem
smtpd_tls_key_file = {d}/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
"""

POSTFIX_SUBMISSION = """  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
"""

POSTFIX_SUBMISSIONS = """  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
"""


def test_dovecot_postfix():
    need_dovecot()
    need_postfix()
    d = tempfile.mkdtemp(prefix="mailroom-check-dp.")
    os.chmod(d, 0o755)
    pf = os.path.join(d, "pf")
    ports = {k: free_port() for k in ("submission", "submissions")}
    dc = postfix = None
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        make_cert(d, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90))
        # Postfix asks Dovecot's auth service for SMTP AUTH
        dc = Dovecot({USER: H.PASSWORD}, tls=True, cert=os.path.join(d, "cert.pem"),
                     key=os.path.join(d, "key.pem"), mechanisms="plain login",
                     protocols="pop3 imap",
                     extra="service auth {\n  unix_listener %s/queue/private/auth {\n"
                           "    mode = 0666\n  }\n}\n" % pf)
        postfix = Postfix(
            POSTFIX_MAIN.format(d=d, pf=pf, mail=os.path.join(dc.dir, "mail")),
            {"127.0.0.1:%d" % ports["submission"]: POSTFIX_SUBMISSION,
             "127.0.0.1:%d" % ports["submissions"]: POSTFIX_SUBMISSIONS},
            files={"vmailbox": "%s %s/Maildir/\n" % (USER, USER)}, folder=pf)
        dc.start()
        ports.update(pop3=dc.pop3_port, pop3s=dc.pop3s_port, imap=dc.imap_port)
        dovecot_log, postfix_log = dc.log, postfix.log
        postfix.start()

        conf = os.path.join(d, "mailroom.conf")
        with open(conf, "w") as f:
            f.write("[server]\nhostname = client.example.test\ndata_dir = %s/mr\n" % d)
        args = ["--ca-file", os.path.join(d, "ca.pem"), "--tls-name", HOST]
        for k, port in ports.items():
            args += ["--" + k, "127.0.0.1:%d" % port]
        args += ["--imaps", "off"]  # the helper's Dovecot has no imaps listener
        rc, out, err, _ = run_check(conf, *args)
        assert rc == 0, (rc, out, err, dovecot_log(), postfix_log())
        got = lines(out)
        assert "AUTH PLAIN" in got[("pop3", "login")][1], out
        assert got[("submission", "greeting")][1].startswith("220 mail.example.test"), out
        assert "intact, deleted" in got[("probe", "fetch")][1], out
        for step in IMAP_STEPS:
            assert got[("imap", step)][0] == "OK", (step, out)
        assert "AUTHENTICATE PLAIN" in got[("imap", "login")][1], out
        assert "over imap after" in got[("probe", "find")][1], out
        assert out.splitlines()[-1].startswith("MAILROOM CHECK OK - 32 steps"), out
        assert H.PASSWORD not in out + err
        # the probe is gone: nothing left in the Maildir
        md = dc.maildir_of(USER)
        left = [n for sub in ("new", "cur") for n in os.listdir(os.path.join(md, sub))]
        assert left == [], left
        # a wrong password at Dovecot's and Postfix's doors
        rc, out, err, _ = run_check(conf, *args, "--no-probe", password="wrong-pw")
        assert rc == 2, (rc, out, err)
        for svc in ("pop3", "pop3s", "imap", "submission", "submissions"):
            assert got[(svc, "login")][0] == "OK"
            assert lines(out)[(svc, "login")][0] == "CRITICAL", out
    finally:
        if postfix is not None:
            postfix.stop()
        if dc is not None:
            dc.cleanup()
        shutil.rmtree(d, ignore_errors=True)



def test_dovecot_imap():
    # Dovecot's IMAP alone (STARTTLS): the IMAP steps pass, and a wrong
    # password is a clear CRITICAL
    need_dovecot_imap()
    if os.geteuid() != 0:
        print("skip: a private Dovecot needs root")
        sys.exit(77)
    d = tempfile.mkdtemp(prefix="mailroom-check-di.")
    os.chmod(d, 0o755)
    dc = None
    try:
        now = datetime.datetime.now(datetime.timezone.utc)
        make_cert(d, now - datetime.timedelta(days=1), now + datetime.timedelta(days=90))
        dc = Dovecot({USER: H.PASSWORD}, tls=True, cert=os.path.join(d, "cert.pem"),
                     key=os.path.join(d, "key.pem"), protocols="imap")
        dc.start()
        conf = os.path.join(d, "mailroom.conf")
        with open(conf, "w") as f:
            f.write("[server]\nhostname = client.example.test\ndata_dir = %s/mr\n" % d)
        args = ["--ca-file", os.path.join(d, "ca.pem"), "--tls-name", HOST, "--no-probe",
                "--imap", "127.0.0.1:%d" % dc.imap_port]
        for k in ("pop3", "pop3s", "imaps", "submission", "submissions"):
            args += ["--" + k, "off"]
        rc, out, err, _ = run_check(conf, *args)
        assert rc == 0, (rc, out, err, dc.log())
        got = lines(out)
        for step in IMAP_STEPS:
            assert got[("imap", step)][0] == "OK", (step, out)
        assert "STARTTLS" in got[("imap", "capability")][1], out
        assert "Dovecot" in got[("imap", "greeting")][1], out
        assert out.splitlines()[-1].startswith("MAILROOM CHECK OK - 7 steps"), out
        rc, out, err, _ = run_check(conf, *args, password="wrong-pw")
        assert rc == 2, (rc, out, err)
        st, details = lines(out)[("imap", "login")]
        assert st == "CRITICAL" and "refused: NO [AUTHENTICATIONFAILED]" in details, out
        assert "wrong-pw" not in out + err
    finally:
        if dc is not None:
            dc.cleanup()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())

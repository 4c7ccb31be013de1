# SPDX-License-Identifier: MIT
"""test_ldap.py - the ldap directory backend against a real slapd.

One private slapd (slapd.py) serves every test: OpenLDAP-style users with
mail and mailAlternateAddress, Active-Directory-style users with
proxyAddresses and userAccountControl, a disabled user, two entries with the
same address, and an address full of filter metacharacters. The backend's
ops are called directly by tests/tools/dir_ldap_probe (one request per
line, one backend for all of them: its pool and cache live across
requests). The second half runs `mailroom serve` with `[directory] backend
= ldap` and real POP3/SMTP clients.
"""
import grp
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import shutil
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402
from slapd import BASE, SERVICE_DN, SERVICE_PW, Slapd  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "dir_ldap_probe")

AD_FILTER = "(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
slapd = None


class Probe:
    """dir_ldap_probe with a config made of [ldap] keys."""

    def __init__(self, keys=None, secret=SERVICE_PW, secret_mode=0o600):
        self.dir = tempfile.mkdtemp(prefix="mailroom-ldap.")
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        ldap = {"uri": slapd.uri, "base": BASE, "bind_dn": SERVICE_DN,
                "bind_password_file": "ldap.secret",
                "user_filter": "(&(objectClass=inetOrgPerson)(mail=%u))",
                "timeout": "3s"}
        ldap.update(keys or {})
        if secret is not None:
            path = os.path.join(data, "ldap.secret")
            with open(path, "w") as f:
                f.write(secret + "\n")
            os.chmod(path, secret_mode)
        self.conf = os.path.join(self.dir, "mailroom.conf")
        with open(self.conf, "w") as f:
            f.write("[server]\ndata_dir = data\nlog_level = info\n[ldap]\n")
            for k, v in ldap.items():
                if v is not None:
                    f.write("%s = %s\n" % (k, v))
        self.err_path = os.path.join(self.dir, "stderr")
        self.err = open(self.err_path, "wb")
        self.final_log = None
        self.proc = subprocess.Popen([PROBE, self.conf], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err)
        self.first = self._line(10)

    def _line(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise AssertionError("probe gave no answer within %ss" % timeout)
        return self.proc.stdout.readline().decode().rstrip("\n")

    def ask(self, *words, timeout=15):
        """One request; returns (answer without ms=, milliseconds)."""
        assert self.first == "READY", self.first
        self.proc.stdin.write(("\t".join(words) + "\n").encode())
        self.proc.stdin.flush()
        line = self._line(timeout)
        answer, _, ms = line.rpartition(" ms=")
        return answer, int(ms)

    def log_text(self):
        if self.final_log is not None:
            return self.final_log
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
                    raise AssertionError("probe did not exit")
            self.err.close()
            text = self.final_log = self.log_text()
            for mark in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
                assert mark not in text, text
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def setup():
    global slapd
    slapd = Slapd()  # teardown() removes it, however far start() got
    slapd.start()
    slapd.add_base()
    slapd.add_user("alice", "alice@example.test", "alice-pw",
                   mailAlternateAddress=["a.liddell@example.test", "alice@alias.test"])
    slapd.add_user("bob", "Bob@Example.Test", slapd.hash("bob-pw"))
    crypt = subprocess.run(["openssl", "passwd", "-6", "carol-pw"], stdout=subprocess.PIPE,
                           timeout=30, check=True).stdout.decode().strip()
    slapd.add_user("carol", "carol@example.test", "{CRYPT}" + crypt)
    # Active Directory style: proxyAddresses, the primary one "SMTP:"
    slapd.add_user("dave", "dave@example.test", "dave-pw", sAMAccountName="dave",
                   userAccountControl="512",
                   proxyAddresses=["SMTP:dave@example.test", "smtp:d.jones@example.test",
                                   "smtp:dave@legacy.test", "X500:/o=Example/cn=dave",
                                   "x400:c=US;a= ;p=Example;s=Dave"])
    slapd.add_user("erin", None, "erin-pw", sAMAccountName="erin", userAccountControl="512",
                   proxyAddresses=["smtp:e.old@example.test", "SMTP:erin@example.test"])
    slapd.add_user("frank", "frank@example.test", "frank-pw", sAMAccountName="frank",
                   userAccountControl="514")  # 512 + ACCOUNTDISABLE (2)
    slapd.add_user("twin1", "twin@example.test", "twin-pw")
    slapd.add_user("twin2", "twin@example.test", "twin-pw")
    slapd.add_user("odd", "o(d)d\\*@example.test", "odd-pw")
    slapd.add_user("nopw", "nopw@example.test")


def teardown():
    if slapd is not None:
        slapd.cleanup()


# --- logins ------------------------------------------------------------------


def test_bind_login():
    with Probe() as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0] == \
            "OK address=alice@example.test"
        assert p.ask("verify", "alice@example.test", "wrong")[0] == "FAILED"
        assert p.ask("verify", "ALICE@example.test", "alice-pw")[0] == \
            "OK address=alice@example.test"
        assert p.ask("verify", "nobody@example.test", "alice-pw")[0] == "UNKNOWN"
        # the account address is the mail attribute, lower-cased
        assert p.ask("verify", "bob@example.test", "bob-pw")[0] == \
            "OK address=bob@example.test"
        # bind style reads no hash
        assert p.ask("lookup", "alice@example.test")[0] == \
            "OK address=alice@example.test hash=no"


def test_empty_password_never_binds():
    # RFC 4513 §5.1.2: DN + empty password is an unauthenticated bind that
    # slapd answers with success; it must not log anyone in
    with Probe() as p:
        assert p.ask("verify", "alice@example.test", "")[0] == "FAILED"
        assert p.ask("verify", "nopw@example.test", "")[0] == "FAILED"
        assert p.ask("verify", "nopw@example.test", "x")[0] == "FAILED"


def test_pooled_connection_not_left_as_user():
    # only the service account may read other entries: if a connection
    # stayed bound as alice, bob's lookup would find nothing
    with Probe({"pool_size": "1"}) as p:
        for _ in range(3):
            assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
            assert p.ask("lookup", "bob@example.test")[0].startswith("OK")
            assert p.ask("verify", "alice@example.test", "bad")[0] == "FAILED"
            assert p.ask("lookup", "carol@example.test")[0].startswith("OK")


def test_compare_login():
    with Probe({"auth_bind": "no"}) as p:
        assert p.ask("lookup", "carol@example.test")[0] == \
            "OK address=carol@example.test hash=yes"
        assert p.ask("verify", "carol@example.test", "carol-pw")[0] == \
            "OK address=carol@example.test"
        assert p.ask("verify", "carol@example.test", "carol-PW")[0] == "FAILED"
        assert p.ask("verify", "carol@example.test", "")[0] == "FAILED"
        assert p.ask("verify", "nopw@example.test", "x")[0] == "FAILED"
        assert p.ask("verify", "nobody@example.test", "x")[0] == "UNKNOWN"


def test_compare_login_ssha():
    # {SSHA}: slappasswd's default
    with Probe({"auth_bind": "no"}) as p:
        assert p.ask("verify", "bob@example.test", "bob-pw")[0] == "OK address=bob@example.test"
        assert p.ask("verify", "bob@example.test", "bob-PW")[0] == "FAILED"


def test_ad_style_login_and_disabled_user():
    keys = {"user_filter": "(&(objectClass=inetOrgPerson)(|(sAMAccountName=%n)(mail=%u)))",
            "login_filter": AD_FILTER, "alias_attribute": "proxyAddresses"}
    with Probe(keys) as p:
        assert p.ask("verify", "dave", "dave-pw")[0] == "OK address=dave@example.test"
        assert p.ask("verify", "dave@example.test", "dave-pw")[0] == \
            "OK address=dave@example.test"
        # no mail attribute: the primary SMTP: proxy address is the account
        assert p.ask("verify", "erin", "erin-pw")[0] == "OK address=erin@example.test"
        # userAccountControl bit 2: disabled, refused before any bind
        assert p.ask("verify", "frank", "frank-pw")[0] == "UNKNOWN"
        assert p.ask("lookup", "frank")[0] == "UNKNOWN"
        # ... but still a recipient (mail to a disabled account is kept)
        assert p.ask("resolve", "frank@example.test")[0] == "OK frank@example.test"


def test_ambiguous_login_refused():
    with Probe() as p:
        assert p.ask("verify", "twin@example.test", "twin-pw")[0] == "UNKNOWN"
    assert "several entries" in p.log_text()


def test_filter_values_escaped():
    # RFC 4515 §3: '*', '(', ')' and '\' of a login are data, not filter
    with Probe() as p:
        assert p.ask("verify", "o(d)d\\*@example.test", "odd-pw")[0] == \
            "OK address=o(d)d\\*@example.test"
        assert p.ask("verify", "*@example.test", "alice-pw")[0] == "UNKNOWN"
        assert p.ask("verify", "*", "alice-pw")[0] == "UNKNOWN"
        assert p.ask("verify", "alice*", "alice-pw")[0] == "UNKNOWN"
        assert p.ask("lookup", "alice@example.test)(mail=*")[0] == "UNKNOWN"
        assert p.ask("lookup", "x)(|(mail=alice@example.test)")[0] == "UNKNOWN"
        assert p.ask("resolve", "*@example.test")[0] == "UNKNOWN"
        assert p.ask("resolve", "o(d)d\\*@example.test")[0] == "OK o(d)d\\*@example.test"


# --- recipients ----------------------------------------------------------------


def test_resolve_mail_and_alternate_addresses():
    with Probe() as p:
        assert p.ask("resolve", "alice@example.test")[0] == "OK alice@example.test"
        assert p.ask("resolve", "A.Liddell@example.test")[0] == "OK alice@example.test"
        assert p.ask("resolve", "alice@alias.test")[0] == "OK alice@example.test"
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"
        assert p.ask("resolve", "nobody@example.test")[0] == "UNKNOWN"
        assert p.ask("resolve", "not-an-address")[0] == "UNKNOWN"


def test_resolve_proxy_addresses():
    with Probe({"alias_attribute": "proxyAddresses"}) as p:
        assert p.ask("resolve", "dave@example.test")[0] == "OK dave@example.test"
        assert p.ask("resolve", "d.jones@example.test")[0] == "OK dave@example.test"
        assert p.ask("resolve", "DAVE@legacy.test")[0] == "OK dave@example.test"
        assert p.ask("resolve", "e.old@example.test")[0] == "OK erin@example.test"
        assert p.ask("resolve", "erin@example.test")[0] == "OK erin@example.test"
        # other address types are no mail addresses
        assert p.ask("resolve", "/o=Example/cn=dave")[0] == "UNKNOWN"
        assert p.ask("resolve", "X500:/o=Example/cn=dave@x")[0] == "UNKNOWN"


def test_recipient_cache():
    with Probe({"cache_ttl": "1m"}) as p:
        assert p.ask("resolve", "alice@example.test")[0] == "OK alice@example.test"
        slapd.ldif("dn: uid=alice,ou=people,%s\nchangetype: modify\nadd: "
                   "mailAlternateAddress\nmailAlternateAddress: new@example.test\n" % BASE,
                   tool="ldapmodify")
        try:
            assert p.ask("resolve", "new@example.test")[0] == "OK alice@example.test"
            # cached answers need no server
            slapd.stop()
            assert p.ask("resolve", "alice@example.test")[0] == "OK alice@example.test"
            assert p.ask("resolve", "new@example.test")[0] == "OK alice@example.test"
        finally:
            if slapd.proc is None:
                slapd.start()
            slapd.ldif("dn: uid=alice,ou=people,%s\nchangetype: modify\ndelete: "
                       "mailAlternateAddress\nmailAlternateAddress: new@example.test\n"
                       % BASE, tool="ldapmodify")
    with Probe({"cache_ttl": "0"}) as p:
        assert p.ask("resolve", "alice@example.test")[0] == "OK alice@example.test"
        assert p.ask("resolve", "new@example.test")[0] == "UNKNOWN"


# --- TLS -------------------------------------------------------------------------


def test_starttls_and_ldaps():
    ca = slapd.ca_crt
    with Probe({"starttls": "yes", "ca_file": ca}) as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
    with Probe({"uri": slapd.ldaps_uri, "ca_file": ca}) as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"


def test_untrusted_certificate_refused():
    from slapd import make_ca
    other = tempfile.mkdtemp(prefix="mailroom-ca.")
    try:
        other_ca, _ = make_ca(other, "other")
        for keys in ({"starttls": "yes", "ca_file": other_ca},
                     {"uri": slapd.ldaps_uri, "ca_file": other_ca}):
            with Probe(keys) as p:
                assert p.ask("verify", "alice@example.test", "alice-pw")[0] == "TEMPFAIL"
                assert p.ask("resolve", "bob@example.test")[0] == "TEMPFAIL"
    finally:
        shutil.rmtree(other, ignore_errors=True)


class FakeServer:
    """A TCP listener on loopback that does `on_accept(conn)` with each
    connection: not an LDAP server at all."""

    def __init__(self, on_accept):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.uri = "ldap://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._run, args=(on_accept,), daemon=True).start()

    def _run(self, on_accept):
        while True:
            try:
                c = self.sock.accept()[0]
            except OSError:
                return
            self.held.append(c)
            on_accept(c)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def test_starttls_refused_by_server_means_no_login():
    # the StartTLS request gets no TLS (the peer reads it and hangs up):
    # no bind, no search in the clear
    srv = FakeServer(lambda c: (c.recv(1024), c.close()))
    try:
        with Probe({"uri": srv.uri, "starttls": "yes", "ca_file": slapd.ca_crt}) as p:
            assert p.ask("verify", "alice@example.test", "alice-pw")[0] == "TEMPFAIL"
    finally:
        srv.close()


# --- the directory down ------------------------------------------------------------


def test_server_down_is_temporary_then_recovers():
    with Probe({"timeout": "2s", "cache_ttl": "0"}) as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"
        slapd.stop()
        try:
            for req in (("verify", "alice@example.test", "alice-pw"),
                        ("verify", "alice@example.test", "wrong"),
                        ("lookup", "alice@example.test"),
                        ("resolve", "bob@example.test"),
                        ("resolve", "nobody@example.test")):
                answer, ms = p.ask(*req)
                assert answer == "TEMPFAIL", (req, answer)
                assert ms < 4000, (req, ms)  # within the timeout, with room for a loaded host
        finally:
            slapd.start()
        # the same backend, no restart: the pool makes new connections
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        assert p.ask("verify", "alice@example.test", "wrong")[0] == "FAILED"
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"


def test_stale_pooled_connection_is_made_again():
    # the server restarts while connections sit idle in the pool (AD also
    # closes idle ones): the next request gets a new connection, not an error
    with Probe({"pool_size": "1", "cache_ttl": "0"}) as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        slapd.stop()
        slapd.start()
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        slapd.stop()
        slapd.start()
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"
    # several idle connections went with the restart: all are made again
    with Probe({"pool_size": "4", "cache_ttl": "0"}) as p:
        answer, _ = p.ask("parallel", "4", "verify", "alice@example.test", "alice-pw")
        assert answer.split("|") == ["OK address=alice@example.test"] * 4, answer
        slapd.stop()
        slapd.start()
        for _ in range(4):
            assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")


def test_next_uri_when_the_first_is_down():
    from harness import free_port
    dead = "ldap://127.0.0.1:%d" % free_port()  # nothing listens there
    with Probe({"uri": "%s %s" % (dead, slapd.uri)}) as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0].startswith("OK")
        assert p.ask("resolve", "bob@example.test")[0] == "OK bob@example.test"


def test_silent_server_times_out():
    # a server that accepts and never answers: every request ends within
    # the timeout, as a temporary failure
    srv = FakeServer(lambda c: None)
    try:
        with Probe({"uri": srv.uri, "timeout": "1s"}) as p:
            for req in (("verify", "alice@example.test", "alice-pw"),
                        ("resolve", "bob@example.test")):
                answer, ms = p.ask(*req)
                assert answer == "TEMPFAIL", answer
                assert 900 <= ms < 3000, ms  # ends at the timeout, not never
    finally:
        srv.close()


def established_to(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % port],
                         stdout=subprocess.PIPE, timeout=30).stdout.decode()
    return len([l for l in out.splitlines() if l.strip()])


def test_pool_shared_by_threads():
    with Probe({"pool_size": "2", "cache_ttl": "0"}) as p:
        answer, _ = p.ask("parallel", "8", "verify", "alice@example.test", "alice-pw")
        assert answer.split("|") == ["OK address=alice@example.test"] * 8, answer
        answer, _ = p.ask("parallel", "8", "verify", "alice@example.test", "bad")
        assert answer.split("|") == ["FAILED"] * 8, answer
        answer, _ = p.ask("parallel", "8", "resolve", "a.liddell@example.test")
        assert answer.split("|") == ["OK alice@example.test"] * 8, answer
        assert 1 <= established_to(slapd.port) <= 2


def test_pool_wait_is_bounded():
    # one connection, stuck on a silent server: the others wait for it no
    # longer than their own timeout
    srv = FakeServer(lambda c: None)
    try:
        with Probe({"uri": srv.uri, "timeout": "1s", "pool_size": "1"}) as p:
            answer, ms = p.ask("parallel", "4", "verify", "alice@example.test", "alice-pw")
            assert answer.split("|") == ["TEMPFAIL"] * 4, answer
            assert ms < 3500, ms  # four waits in a row would take 4 s
    finally:
        srv.close()


def test_wrong_service_password_is_temporary():
    with Probe(secret="not-the-password") as p:
        assert p.ask("verify", "alice@example.test", "alice-pw")[0] == "TEMPFAIL"
        assert p.ask("resolve", "alice@example.test")[0] == "TEMPFAIL"


def test_open_checks():
    with Probe(secret_mode=0o644) as p:
        assert p.first.startswith("OPEN-ERROR") and "others cannot read" in p.first, p.first
    with Probe(secret=None) as p:
        assert p.first.startswith("OPEN-ERROR") and "ldap.secret" in p.first, p.first
    with Probe({"base": None}) as p:
        assert p.first.startswith("OPEN-ERROR") and "base" in p.first, p.first


# --- the server: [directory] backend = ldap ------------------------------------------


MESSAGE = "From: x@remote.test\r\nSubject: %s\r\n\r\nbody %s\r\n"


def ldap_server(keys=None, backend="ldap"):
    """A started Server whose accounts come from the test slapd."""
    extra = {"directory.backend": backend, "pop3.plaintext_auth": "yes",
             "ldap.uri": slapd.uri, "ldap.base": BASE, "ldap.bind_dn": SERVICE_DN,
             "ldap.bind_password_file": "ldap.secret", "ldap.timeout": "2s",
             "ldap.starttls": "yes", "ldap.ca_file": slapd.ca_crt}
    for k, v in (keys or {}).items():
        extra["ldap." + k if "." not in k else k] = v
    srv = Server(extra=extra, smtp=True, imap=True)
    try:
        secret = os.path.join(srv.dir, "data", "ldap.secret")
        with open(secret, "w") as f:
            f.write(SERVICE_PW + "\n")
        os.chmod(secret, 0o640)
        if os.geteuid() == 0:  # serve reads it after dropping to the test user
            os.chown(secret, 0, grp.getgrnam("mailroom-test").gr_gid)
        for d in ("example.test", "alias.test", "legacy.test"):
            srv.cli("domain", "add", d)
        return srv.start()
    except BaseException:
        srv.cleanup()
        raise


def send(srv, rcpt, subject):
    c = srv.smtp()
    try:
        c.sendmail("x@remote.test", [rcpt], MESSAGE % (subject, subject))
    finally:
        c.quit()


def subjects(srv, user, password):
    return sorted(m.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
                  for m in srv.messages(user, password))


def pop3_login(srv, user, password):
    r = srv.raw()
    try:
        r.line()
        assert r.cmd("USER " + user).startswith(b"+OK")
        t0 = time.monotonic()
        return r.cmd("PASS " + password).decode(), time.monotonic() - t0
    finally:
        r.close()


def test_server_bind_style_pop3_smtp_auth_and_delivery():
    with ldap_server() as srv:
        send(srv, "alice@example.test", "one")
        send(srv, "A.Liddell@example.test", "two")
        send(srv, "alice@alias.test", "three")
        # the mailbox appeared on first delivery, named by the mail attribute
        assert "alice@example.test" in srv.cli("user", "list").stdout.decode()
        assert subjects(srv, "alice@example.test", "alice-pw") == ["one", "three", "two"]
        assert pop3_login(srv, "alice@example.test", "wrong")[0].startswith("-ERR [AUTH]")
        assert pop3_login(srv, "alice@example.test", "")[0].startswith("-ERR")
        # IMAP: the same accounts and the same mailbox
        assert srv.imap_login("alice@example.test", "alice-pw").startswith("OK")
        assert srv.imap_login("alice@example.test", "wrong").startswith(
            "NO [AUTHENTICATIONFAILED]")
        im = srv.imaplib_ssl("alice@example.test", "alice-pw")
        typ, data = im.select("INBOX", readonly=True)
        assert typ == "OK" and data == [b"3"], data
        im.logout()
        c = srv.submission("alice@example.test", "alice-pw")  # AUTH PLAIN over STARTTLS
        # [smtp] sender_login_match: her directory addresses are hers, bob's are not
        for sender, want in (("alice@example.test", 250), ("a.liddell@example.test", 250),
                             ("bob@example.test", 553)):
            code, _ = c.mail(sender)
            assert code == want, (sender, code)
            c.rset()
        c.quit()
        import smtplib
        try:
            srv.submission("alice@example.test", "nope")
            raise AssertionError("a wrong password logged in")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e


def test_server_compare_style():
    with ldap_server({"auth_bind": "no"}) as srv:
        send(srv, "carol@example.test", "c1")
        assert subjects(srv, "carol@example.test", "carol-pw") == ["c1"]
        assert pop3_login(srv, "carol@example.test", "carol-PW")[0].startswith("-ERR [AUTH]")
        c = srv.submission("carol@example.test", "carol-pw")
        c.quit()
        # bob's userPassword is slappasswd's {SSHA}
        send(srv, "bob@example.test", "b1")
        assert subjects(srv, "bob@example.test", "bob-pw") == ["b1"]
        assert pop3_login(srv, "bob@example.test", "bob-PW")[0].startswith("-ERR [AUTH]")


def test_server_active_directory_style():
    keys = {"user_filter": "(&(objectClass=inetOrgPerson)(|(sAMAccountName=%n)(mail=%u)))",
            "login_filter": AD_FILTER, "alias_attribute": "proxyAddresses", "starttls": None,
            "uri": slapd.ldaps_uri}
    with ldap_server(keys) as srv:
        send(srv, "dave@example.test", "d1")
        send(srv, "d.jones@example.test", "d2")
        send(srv, "dave@legacy.test", "d3")
        srv.deliver("D.Jones@example.test", MESSAGE % ("d4", "d4"))  # the LDA path
        assert subjects(srv, "dave", "dave-pw") == ["d1", "d2", "d3", "d4"]
        p = srv.cli("deliver", "nobody@example.test", stdin=b"Subject: x\r\n\r\nx\r\n",
                    check=False)
        assert p.returncode == 67, p  # EX_NOUSER
        # disabled: no login, but mail is still taken
        send(srv, "frank@example.test", "f1")
        assert pop3_login(srv, "frank", "frank-pw")[0].startswith("-ERR [AUTH]")
        c = srv.smtp()
        c.mail("x@remote.test")
        code, _ = c.rcpt("nobody@example.test")
        assert code == 550, code
        c.quit()


def test_server_chain_builtin_then_ldap():
    with ldap_server(backend="builtin, ldap") as srv:
        srv.add_user("admin@example.test", "admin-pw")
        send(srv, "admin@example.test", "a1")
        send(srv, "alice@example.test", "l1")
        assert subjects(srv, "admin@example.test", "admin-pw") == ["a1"]
        assert subjects(srv, "alice@example.test", "alice-pw") == ["l1"]


def test_server_directory_down_is_temporary():
    keys = {"cache_ttl": "0", "limits.auth_cache_ttl": "0"}
    with ldap_server(keys) as srv:
        send(srv, "bob@example.test", "b1")
        assert pop3_login(srv, "bob@example.test", "bob-pw")[0].startswith("+OK")
        slapd.stop()
        try:
            for pw in ("bob-pw", "wrong"):
                reply, secs = pop3_login(srv, "bob@example.test", pw)
                assert reply.startswith("-ERR [SYS/TEMP]"), reply
                assert secs < 4, secs
                reply = srv.imap_login("bob@example.test", pw)
                assert reply.startswith("NO [UNAVAILABLE]"), reply
            c = srv.smtp()
            c.mail("x@remote.test")
            t0 = time.monotonic()
            code, _ = c.rcpt("bob@example.test")
            assert 400 <= code < 500, code
            code, _ = c.rcpt("nobody@example.test")
            assert 400 <= code < 500, code
            assert time.monotonic() - t0 < 8
            c.quit()
            import smtplib
            try:
                srv.submission("bob@example.test", "bob-pw")
                raise AssertionError("logged in with the directory down")
            except smtplib.SMTPAuthenticationError as e:
                assert 400 <= e.smtp_code < 500, e
        finally:
            slapd.start()
        # back without a restart of mailroom
        assert pop3_login(srv, "bob@example.test", "bob-pw")[0].startswith("+OK")
        assert srv.imap_login("bob@example.test", "bob-pw").startswith("OK")
        send(srv, "bob@example.test", "b2")
        assert subjects(srv, "bob@example.test", "bob-pw") == ["b1", "b2"]


if __name__ == "__main__":
    for need in ("/usr/sbin/slapd", shutil.which("slappasswd"), shutil.which("ldapadd"), PROBE):
        if need is None or not os.path.exists(need):
            print("skipped: needs slapd and ldap-utils (scripts/deps.sh test) and %s"
                  % PROBE)
            sys.exit(77)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # slapd is still stopped
    try:
        setup()
        run_tests(globals())
    finally:
        teardown()

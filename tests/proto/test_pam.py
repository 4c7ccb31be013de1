# SPDX-License-Identifier: MIT
"""[directory] backend = pam against real local accounts: the test makes a Unix
account with a password (useradd, chpasswd), a system account below min_uid
with a password too, and the account serve runs as, in group shadow (admin.md,
"Local accounts (PAM)"); a private PAM service file (pam_unix for auth and
account) in a temp confdir. POP3 USER/PASS (poplib, curl) and SMTP AUTH work
with the Unix password and not with a wrong one; the low-uid account and root
never log in; mail to NAME@domain arrives over SMTP and is read over POP3;
"builtin, pam" serves both kinds of account; run as an account outside group
shadow, a login is a temporary failure and the log says what to do.

Needs root (accounts are made and removed); skipped (exit 77) otherwise.
Every account made is removed at the end, also after a failure or SIGTERM,
and leftovers of an earlier run that was killed are removed at the start.
"""
import json
import os
import pwd
import signal
import smtplib
import subprocess
import sys
import tempfile
import shutil

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

PREFIX = "mrpam-"
TAG = "%d" % os.getpid()
LOCAL = PREFIX + "u-" + TAG   # an ordinary account (uid >= 1000)
LOW = PREFIX + "l-" + TAG     # a system account (uid < 1000) with a password
RUNAS = PREFIX + "s-" + TAG   # serve's [server] user, in group shadow
DOMAIN = "local.example.test"
UNIX_PW = "Unix-pw:7 x"      # a colon and a space, as real passwords have
SERVICE = "mailroom-test"
made = []
confdir = None


def sh(*args, stdin=None):
    p = subprocess.run(list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(args), p.returncode,
                                                   p.stderr.decode(errors="replace")))
    return p


def userdel(name):
    subprocess.run(["userdel", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=60)
    subprocess.run(["groupdel", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def remove_leftovers():
    """Accounts of an earlier run whose process is gone (killed mid-run)."""
    for pw in pwd.getpwall():
        if not pw.pw_name.startswith(PREFIX):
            continue
        pid = pw.pw_name.rsplit("-", 1)[-1]
        if pid.isdigit() and not os.path.exists("/proc/" + pid):
            userdel(pw.pw_name)


def useradd(name, *opts, password=None):
    sh("useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
       "/usr/sbin/nologin", *opts, name)
    made.append(name)
    if password is not None:
        sh("chpasswd", stdin=("%s:%s\n" % (name, password)).encode())


def setup():
    global confdir
    remove_leftovers()
    useradd(LOCAL, password=UNIX_PW)
    useradd(LOW, "--system", password=UNIX_PW)
    useradd(RUNAS, "--system", "--user-group", "--groups", "shadow")
    assert pwd.getpwnam(LOCAL).pw_uid >= 1000 and pwd.getpwnam(LOW).pw_uid < 1000
    confdir = tempfile.mkdtemp(prefix="mailroom-pam.")
    os.chmod(confdir, 0o755)  # serve reads it as RUNAS
    with open(os.path.join(confdir, SERVICE), "w") as f:
        f.write("auth required pam_unix.so\naccount required pam_unix.so\n")


def cleanup():
    for name in reversed(made):
        userdel(name)
    del made[:]
    if confdir:
        shutil.rmtree(confdir, ignore_errors=True)


def pam_server(backend="pam", user=RUNAS, **kw):
    extra = {"directory.backend": backend, "pam.service": SERVICE, "pam.domain": DOMAIN,
             "pam.confdir": confdir}
    if user is not None:
        extra["server.user"] = user
    srv = Server(extra, smtp=True, imap=True, **kw)
    srv.cli("domain", "add", DOMAIN)  # mail is accepted for hosted domains only
    return srv


def pop3_refused(srv, user, password):
    import poplib
    try:
        srv.poplib_stls(user, password).quit()
    except poplib.error_proto as e:
        return e.args[0].decode(errors="replace")
    raise AssertionError("%s logged in with %r" % (user, password))


def submission_refused(srv, user, password):
    try:
        srv.submission(user, password).quit()
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code
    raise AssertionError("%s logged in over SMTP AUTH" % user)


def curl_pop3(srv, user, password, *args):
    return subprocess.run(["curl", "-sS", "-k", "--ssl-reqd", "--max-time", "30", "-u",
                           "%s:%s" % (user, password),
                           "pop3://127.0.0.1:%d/" % srv.pop3_port] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)


def test_pop3_and_smtp_auth_with_the_unix_password():
    with pam_server() as srv:
        srv.start()
        for login in (LOCAL, LOCAL + "@" + DOMAIN, LOCAL.upper() + "@" + DOMAIN.upper()):
            c = srv.poplib_stls(login, UNIX_PW)
            assert c.stat() == (0, 0)  # the mailbox is there from the first login
            c.quit()
            srv.submission(login, UNIX_PW).quit()
            reply = srv.imap_login(login, UNIX_PW)
            assert reply.startswith("OK"), reply
        p = curl_pop3(srv, LOCAL, UNIX_PW)
        assert p.returncode == 0 and p.stdout.strip() == b"", (p.returncode, p.stdout)
        # a wrong password, the harness's, the right one in capitals
        for pw in ("wrong", PASSWORD, UNIX_PW.upper()):
            assert "[AUTH]" in pop3_refused(srv, LOCAL, pw)
            assert submission_refused(srv, LOCAL, pw) == 535
            assert srv.imap_login(LOCAL, pw).startswith("NO [AUTHENTICATIONFAILED]")
        assert curl_pop3(srv, LOCAL, "wrong").returncode == 67  # login denied
        # another domain is not the local account's, nor are names dressed up
        for login in (LOCAL + "@example.org", "../" + LOCAL, LOCAL + ":x", LOCAL + "/",
                      LOCAL + "+tag@" + DOMAIN, "x" * 200, "-" + LOCAL):
            assert "[AUTH]" in pop3_refused(srv, login, UNIX_PW), login
        assert "cannot read /etc/shadow" not in srv.log_text()


def test_system_accounts_and_root_never_log_in():
    with pam_server() as srv:
        srv.start()
        for login in (LOW, LOW + "@" + DOMAIN, "root", "root@" + DOMAIN, "daemon"):
            assert "[AUTH]" in pop3_refused(srv, login, UNIX_PW)
            assert submission_refused(srv, login, UNIX_PW) == 535


def test_mail_to_a_local_account_is_delivered_and_read():
    body = b"From: someone@remote.test\r\nSubject: to a local account\r\n\r\nhello\r\n"
    with pam_server() as srv:
        srv.start()
        c = srv.smtp()
        c.sendmail("someone@remote.test", [LOCAL + "@" + DOMAIN], body)
        # an address of a system account, or of no account, is refused
        for rcpt in (LOW + "@" + DOMAIN, "root@" + DOMAIN, "no-such-user@" + DOMAIN):
            try:
                c.sendmail("someone@remote.test", [rcpt], body)
                raise AssertionError("accepted mail for " + rcpt)
            except smtplib.SMTPRecipientsRefused as e:
                assert e.recipients[rcpt][0] == 550, e.recipients
        c.quit()
        # the mailbox was made by that first delivery, and is pam's
        users = json.loads(srv.cli("user", "list", "--json").stdout)
        mine = [u for u in users if u["address"] == LOCAL + "@" + DOMAIN]
        assert len(mine) == 1 and mine[0]["directory"] == "pam", users
        msgs = srv.messages(LOCAL, UNIX_PW)
        assert len(msgs) == 1 and b"Subject: to a local account" in msgs[0], msgs
        p = curl_pop3(srv, LOCAL + "@" + DOMAIN, UNIX_PW, "-X", "LIST")
        assert p.returncode == 0 and p.stdout.startswith(b"1 "), (p.stdout, p.stderr)


def test_submission_sends_as_the_local_address():
    body = b"From: x\r\nSubject: out\r\n\r\nbye\r\n"
    with pam_server() as srv:
        srv.start()
        c = srv.submission(LOCAL, UNIX_PW)
        c.sendmail(LOCAL + "@" + DOMAIN, ["friend@remote.test"], body)
        # [smtp] sender_login_match: another local address is not the user's
        try:
            c.sendmail("other@" + DOMAIN, ["friend@remote.test"], body)
            raise AssertionError("sent as another address")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553, e
        c.quit()


def test_expired_and_locked_accounts_do_not_log_in_but_get_mail():
    try:
        sh("chage", "-E", "0", LOCAL)
        with pam_server() as srv:
            srv.start()
            assert "[AUTH]" in pop3_refused(srv, LOCAL, UNIX_PW)
            srv.wait_log(r"pam: account check refuses %s: User account has expired" % LOCAL)
            c = srv.smtp()
            c.sendmail("someone@remote.test", [LOCAL + "@" + DOMAIN],
                       b"Subject: still delivered\r\n\r\nx\r\n")
            c.quit()
        sh("chage", "-E", "-1", LOCAL)
        sh("usermod", "-L", LOCAL)
        with pam_server() as srv:
            srv.start()
            assert "[AUTH]" in pop3_refused(srv, LOCAL, UNIX_PW)
            assert submission_refused(srv, LOCAL, UNIX_PW) == 535
    finally:
        sh("chage", "-E", "-1", LOCAL)
        sh("usermod", "-U", LOCAL)


def test_config_check_names_what_is_missing():
    with pam_server(backend="builtin, pam") as srv:
        for key, value, says in (
                ("pam.service", "no-such-service",
                 "[pam] service 'no-such-service': %s/no-such-service does not exist"
                 % confdir),
                ("pam.domain", None, "[pam] domain is not set")):
            text = open(srv.conf).read()
            line = "%s = " % key.split(".")[1]
            kept = [ln for ln in text.splitlines() if not ln.startswith(line)]
            if value is not None:
                kept.insert(kept.index("[pam]") + 1, line + value)
            with open(srv.conf, "w") as f:
                f.write("\n".join(kept) + "\n")
            p = srv.cli("config", "check", check=False)
            assert p.returncode == 78 and says in p.stderr.decode(), (p.returncode, p.stderr)
            with open(srv.conf, "w") as f:
                f.write(text)
        assert srv.cli("config", "check").returncode == 0


def test_builtin_then_pam():
    with pam_server(backend="builtin, pam") as srv:
        srv.add_user("alice@example.test")
        srv.start()
        # a built-in alias may name a local account (once it has its mailbox)
        srv.poplib_stls(LOCAL, UNIX_PW).quit()
        srv.cli("alias", "add", "sales@" + DOMAIN, LOCAL + "@" + DOMAIN)
        c = srv.smtp()
        c.sendmail("x@remote.test", ["sales@" + DOMAIN], b"Subject: via alias\r\n\r\nx\r\n")
        c.quit()
        msgs = srv.messages(LOCAL, UNIX_PW)
        assert len(msgs) == 1 and b"Subject: via alias" in msgs[0], msgs
        srv.poplib_stls("alice@example.test", PASSWORD).quit()
        srv.poplib_stls(LOCAL, UNIX_PW).quit()
        srv.submission(LOCAL + "@" + DOMAIN, UNIX_PW).quit()
        assert "[AUTH]" in pop3_refused(srv, "alice@example.test", UNIX_PW)
        assert "[AUTH]" in pop3_refused(srv, LOCAL, PASSWORD)


def test_outside_group_shadow_is_a_temporary_failure():
    # the harness's own account, not in group shadow
    with pam_server(user=None) as srv:
        srv.start()
        assert "[SYS/TEMP]" in pop3_refused(srv, LOCAL, UNIX_PW)
        assert submission_refused(srv, LOCAL, UNIX_PW) == 454
        srv.wait_log(r"cannot read /etc/shadow, so pam_unix cannot check passwords: "
                     r"add the \[server\] user to group shadow")


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skipped: needs root to make local accounts")
        sys.exit(77)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # cleanup still runs
    try:
        setup()
        run_tests(globals())
    finally:
        cleanup()

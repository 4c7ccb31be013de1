# SPDX-License-Identifier: MIT
"""Dovecot passwd-files and their hashes: `mailroom pw`, and (with
[directory] backend = passwd-file) logins over POP3 and SMTP AUTH with the
hashes Debian's `doveadm pw` writes, mail to passwd-file users, the file
edited while the server runs, `user add --password-hash` and
`user import passwd-file`.

doveadm (dovecot-core) makes fresh hashes where it is installed; the unit
test test_password_schemes checks committed ones without it."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, check_sanitizer, run_tests  # noqa: E402

DOVEADM = shutil.which("doveadm")
PW = "pä ss-word 1"  # a passwd-file field holds no ':'

# Written by doveadm pw for "pencil": used where doveadm is not installed
FIXED = {
    "SHA512-CRYPT": "{SHA512-CRYPT}$6$qF.3DVZydkJVISRv$GMeCZ/FzHf/fAXnaYjWY0Mp8zZ6jrv.ybS8NDDVhbCK0"
                    "ceI2LQ.rwmXTV58zjXUK.bUDNz.APpLTE6k8h141B0",
    "BLF-CRYPT": "{BLF-CRYPT}$2y$05$Nd9jo.MWo9rA4utXzSIvsub338Re995ZtU./J1Csj9uyOKz5lL9lW",
    "SSHA256": "{SSHA256}ulmSQm59f6oiZYVGSBIf2DTsy7B5m/3RPCjMEFR0BtrhVnHY",
    "PBKDF2": "{PBKDF2}$1$wDliMW3QHsE7p7BI$5000$90fc6f6bfb04380139add3b176b070e33e42ee35",
    "ARGON2ID": "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$UztuRbp55yxOCrM7/J3ePA$0y+8OOoF6clZFYb"
                "hAgH3aR9t70eINBQSKeUt0owISqo",
    "SCRAM-SHA-256": "{SCRAM-SHA-256}4096,tTAulBhpjUmFydnrOYSeyA==,SIZpK61coFb34PtIyvvGwEcLVC3VPEr"
                     "/2wzRgDDNNPY=,C5XvIMLbtNA5jnUU5HVyUdbAp9Ny8x3PmLY/Ibs0Pzg=",
    "PLAIN": "{PLAIN}pencil",
}
# every scheme doveadm writes that mailroom verifies (test_password_schemes has the rest)
SCHEMES = ("CRYPT", "DES-CRYPT", "MD5", "MD5-CRYPT", "SHA256-CRYPT", "SHA512-CRYPT", "BLF-CRYPT",
           "SHA", "SHA1", "SHA256", "SHA512", "SSHA", "SSHA256", "SSHA512", "SMD5", "PLAIN-MD5",
           "LDAP-MD5", "PBKDF2", "SCRAM-SHA-1", "SCRAM-SHA-256", "ARGON2I", "ARGON2ID", "PLAIN",
           "CLEAR", "CLEARTEXT", "SSHA256.HEX")


def hashes():
    """{scheme: (hash, password)}: fresh from doveadm when it is installed."""
    if not DOVEADM:
        return {s: (h, "pencil") for s, h in FIXED.items()}
    out = {}
    for s in SCHEMES:
        pw = "pencil1" if s == "DES-CRYPT" else PW  # DES keeps 8 bytes: a wrong one must differ
        p = subprocess.run([DOVEADM, "pw", "-s", s, "-p", pw], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, check=True)
        out[s] = (p.stdout.decode().strip(), pw)
    return out


def user_name(scheme):
    return scheme.lower().replace("-", "").replace(".", "")


def pop3_login_ok(srv, user, password):
    import poplib
    try:
        c = srv.poplib_stls(user, password)
    except poplib.error_proto:
        return False
    c.quit()
    return True


def smtp_login_ok(srv, user, password):
    """AUTH PLAIN (RFC 4616) by hand: smtplib encodes passwords as ASCII only."""
    import base64
    c = srv.submission()
    cred = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    code, _ = c.docmd("AUTH", "PLAIN " + cred)
    c.quit()
    assert code in (235, 535), code
    return code == 235


def mr(*args, stdin=None):
    p = subprocess.run([BIN] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check_sanitizer(p.stderr.decode(errors="replace"), "mailroom " + " ".join(args))
    return p


def doveadm_verifies(stored, password):
    p = subprocess.run([DOVEADM, "pw", "-t", stored, "-p", password],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode == 0 and b"(verified)" in p.stdout


def test_pw_prints_one_line_per_scheme():
    for scheme, prefix in (("yescrypt", "{CRYPT}$y$"), ("sha512-crypt", "{SHA512-CRYPT}$6$"),
                           ("argon2id", "{ARGON2ID}$argon2id$"), (None, "{CRYPT}$y$")):
        args = ["pw"] + (["--scheme", scheme] if scheme else [])
        p = mr(*args, stdin="pä ss:word\n".encode())
        assert p.returncode == 0 and p.stderr == b"", p.stderr
        out = p.stdout.decode()
        assert out.startswith(prefix) and out.endswith("\n") and out.count("\n") == 1, out
        if DOVEADM:  # Dovecot takes mailroom's hashes too
            assert doveadm_verifies(out.strip(), "pä ss:word"), out


def test_pw_errors():
    p = mr("pw", stdin=b"\n")
    assert p.returncode == 65 and p.stdout == b"" and p.stderr == \
        b"mailroom: an empty password is refused: give one of 1 to 511 bytes\n", p.stderr
    p = mr("pw", stdin=b"")
    assert p.returncode == 66 and p.stderr == \
        b"mailroom: no password on stdin: give it as the first line\n", p.stderr
    p = mr("pw", "--scheme", "md5", stdin=b"pencil\n")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: pw: unknown --scheme 'md5': use yescrypt, sha512-crypt or argon2id\n"
    p = mr("pw", "pencil")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: pw: unexpected argument 'pencil' (see mailroom pw --help)\n", p.stderr
    p = mr("pw", "--help")
    assert p.returncode == 0 and p.stdout.startswith(
        b"usage: mailroom [-c FILE] pw [--scheme yescrypt|sha512-crypt|argon2id]")


def test_password_hash_and_import_into_the_builtin_directory():
    with Server(smtp=True) as srv:
        srv.cli("domain", "add", "example.org")
        for scheme in ("yescrypt", "argon2id"):
            h = srv.cli("pw", "--scheme", scheme, stdin=(PW + "\n").encode()).stdout.decode()
            p = srv.cli("user", "add", "pw-%s@example.org" % scheme, "--password-hash",
                        h.strip())
            assert p.stdout == b"user pw-%s@example.org added\n" % scheme.encode(), p.stdout
        p = srv.cli("user", "add", "x@example.org", "--password-hash", "{NOPE}abc", check=False)
        assert p.returncode == 65 and b"{NOPE}" not in p.stderr, p.stderr

        hs = hashes()
        path = os.path.join(srv.dir, "users")
        with open(path, "w") as f:
            f.write("# from Dovecot\n\n")
            for s, (h, _) in sorted(hs.items()):
                f.write("%s:%s:1000:1000::/home/%s::\n" % (user_name(s), h, user_name(s)))
            f.write("locked:{PLAIN}pencil:::::: userdb_quota_rule=*:storage=10M nologin\n")
            f.write("cram:{CRAM-MD5}7f47ace0e2af8f6cdeb72c03243a8c87834e19104164d6a42de72d243adb"
                    "4080\n")
            f.write("pw-yescrypt@example.org:{PLAIN}other\n")
        p = srv.cli("user", "import", "passwd-file", path, "--domain", "Example.ORG",
                    check=False)
        out, err = p.stdout.decode(), p.stderr.decode()
        assert p.returncode == 65, (p.returncode, err)  # one unusable hash
        assert out == "imported %d, skipped 2\n" % (len(hs) + 1), (out, err)
        assert "pw-yescrypt@example.org skipped: the mailbox or alias exists already" in err, err
        assert "cram@example.org skipped: its hash is of no scheme mailroom verifies" in err, err
        assert "7f47ace0" not in err  # hashes are never printed
        # again: every line exists now
        p = srv.cli("user", "import", "passwd-file", path, "--domain", "example.org", "--json",
                    check=False)
        assert p.stdout.startswith(b'{"imported":0,"skipped":[{"line":'), p.stdout
        listed = {u["address"]: u for u in
                  json.loads(srv.cli("user", "list", "example.org", "--json").stdout)}
        assert listed["locked@example.org"]["quota"] == 10 * 1024 * 1024, listed
        assert not listed["locked@example.org"]["enabled"]
        assert listed["sha512crypt@example.org"]["quota"] == 0

        srv.start()
        for scheme in ("yescrypt", "argon2id"):
            assert pop3_login_ok(srv, "pw-%s@example.org" % scheme, PW)
            assert not pop3_login_ok(srv, "pw-%s@example.org" % scheme, PW + "x")
        for s, (_, pw) in sorted(hs.items()):
            user = "%s@example.org" % user_name(s)
            assert pop3_login_ok(srv, user, pw), s
            assert not pop3_login_ok(srv, user, pw + "x"), s
            assert smtp_login_ok(srv, user, pw), s
        assert not pop3_login_ok(srv, "locked@example.org", "pencil")  # nologin
        assert not pop3_login_ok(srv, "cram@example.org", "pencil")


def pwfile_server(chain="passwd-file"):
    return Server(smtp=True, imap=True,
                  extra={"directory.backend": chain,
                         "passwd-file.path": "users.passwd",  # in data_dir
                         "passwd-file.domain": "example.org"})


def write_users(srv, lines):
    """Replaced in one rename, as editors and scripts do; readable by serve."""
    path = os.path.join(srv.dir, "data", "users.passwd")
    with open(path + ".new", "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(path + ".new", 0o644)
    os.rename(path + ".new", path)


def eventually(fn, what, timeout=6):
    """The file is looked at once a second: a change shows within ~1 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.2)
    raise AssertionError("never: " + what)


def test_passwdfile_backend_logins_mail_and_edits():
    hs = hashes()
    with pwfile_server() as srv:
        srv.cli("domain", "add", "example.org")
        made = srv.cli("pw", "--scheme", "argon2id", stdin=(PW + "\n").encode()).stdout
        lines = ["# moved from Dovecot", ""]
        lines += ["%s:%s:1000:1000::/home/%s::" % (user_name(s), h, user_name(s))
                  for s, (h, _) in sorted(hs.items())]
        lines += ["made@example.org:%s" % made.decode().strip(),
                  "locked:{PLAIN}pencil:::::: nologin"]
        write_users(srv, lines)
        p = srv.cli("config", "check", check=False)  # (the harness's postmaster aside)
        assert b"passwd-file" not in p.stderr, p.stderr
        srv.start()
        for s, (_, pw) in sorted(hs.items()):
            user = user_name(s)
            # a bare name gets [passwd-file] domain; the domain's case does not matter
            assert pop3_login_ok(srv, user + "@Example.ORG", pw), s
            assert pop3_login_ok(srv, user, pw), s
            assert not pop3_login_ok(srv, user + "@example.org", pw + "x"), s
            assert smtp_login_ok(srv, user + "@example.org", pw), s
            assert not smtp_login_ok(srv, user + "@example.org", "x" + pw), s
        assert srv.imap_login("made@example.org", PW).startswith("OK")
        assert srv.imap_login("made@example.org", PW + "x").startswith(
            "NO [AUTHENTICATIONFAILED]")
        assert pop3_login_ok(srv, "made@example.org", PW)
        assert not pop3_login_ok(srv, "locked@example.org", "pencil")
        assert not pop3_login_ok(srv, "nobody@example.org", "pencil")

        # mail over SMTP to a passwd-file user: its mailbox is made, POP3 reads it
        c = srv.smtp()
        c.sendmail("someone@remote.example", ["sha512crypt@example.org"],
                   b"Subject: moved\r\n\r\nwelcome over\r\n")
        c.docmd("MAIL", "FROM:<someone@remote.example>")
        code, _ = c.docmd("RCPT", "TO:<nobody@example.org>")
        assert code == 550, code
        c.quit()
        user, pw = "sha512crypt@example.org", hs["SHA512-CRYPT"][1]
        msgs = srv.messages(user, pw)
        assert len(msgs) == 1 and b"welcome over" in msgs[0], msgs
        srv.deliver("Argon2id@example.org", "Subject: lda\r\n\r\nby deliver\r\n")
        msgs = srv.messages("argon2id@example.org", hs["ARGON2ID"][1])
        assert len(msgs) == 1 and b"by deliver" in msgs[0], msgs

        # edited while serving: a new user logs in, a removed one no longer
        lines = [ln for ln in lines if not ln.startswith("plain:")]
        lines.append("newbie:{PLAIN}fresh-pw")
        write_users(srv, lines)
        eventually(lambda: pop3_login_ok(srv, "newbie@example.org", "fresh-pw"),
                   "the added user logs in")
        assert not pop3_login_ok(srv, "plain@example.org", hs["PLAIN"][1])
        assert pop3_login_ok(srv, user, pw)

        # a broken file keeps the users read before, and says which line
        write_users(srv, lines + ["not a user line"])
        bad = "users.passwd:%d: the user name holds a space" % (len(lines) + 1)
        # the file is looked at when a login or recipient needs it
        eventually(lambda: pop3_login_ok(srv, "newbie@example.org", "fresh-pw") and
                   bad in srv.log_text(), "the bad line logged, the users kept")
        assert pop3_login_ok(srv, user, pw)
        for h, _ in hs.values():  # hashes never reach the log
            assert h not in srv.log_text()


def test_builtin_then_passwdfile():
    with pwfile_server("builtin, passwd-file") as srv:
        srv.add_user("admin@example.org", "admin-pw")
        srv.add_user("both@example.org", "builtin-pw")
        write_users(srv, ["file:{PLAIN}file-pw", "both:{PLAIN}file-pw"])
        srv.start()
        assert pop3_login_ok(srv, "admin@example.org", "admin-pw")
        assert pop3_login_ok(srv, "file@example.org", "file-pw")
        assert smtp_login_ok(srv, "file@example.org", "file-pw")
        # the first backend that knows a name decides
        assert pop3_login_ok(srv, "both@example.org", "builtin-pw")
        assert not pop3_login_ok(srv, "both@example.org", "file-pw")
        c = srv.smtp()
        c.sendmail("someone@remote.example", ["file@example.org", "admin@example.org"],
                   b"Subject: both\r\n\r\nhello\r\n")
        c.quit()
        assert len(srv.messages("file@example.org", "file-pw")) == 1
        assert len(srv.messages("admin@example.org", "admin-pw")) == 1


def test_config_check_names_the_bad_line():
    with pwfile_server() as srv:
        write_users(srv, ["good:{PLAIN}x", "two@at@example.org:{PLAIN}x"])
        p = srv.cli("config", "check", check=False)
        assert p.returncode != 0, p.stdout
        assert b"users.passwd:2: the domain after '@' is not a domain name" in p.stderr, p.stderr


if __name__ == "__main__":
    run_tests(globals())

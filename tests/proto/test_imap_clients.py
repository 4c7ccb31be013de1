# SPDX-License-Identifier: MIT
"""Real IMAP clients against `mailroom serve`: curl (imap:// with STARTTLS and
imaps://), isync's mbsync (a two-way sync of every folder, flags and
deletions going both ways) and offlineimap3, with POP3 still serving the
same INBOX."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"


def msg(n):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: note %d\r\n"
            "Message-ID: <n%d@example.test>\r\n\r\nBody of note %d.\r\n" % (n, n, n)).encode()


def server(n):
    srv = Server(imap=True)
    srv.add_user(ALICE)
    for i in range(1, n + 1):
        srv.deliver(ALICE, msg(i))
    return srv.start()


def run(args, timeout=60, **kw):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def need(tool):
    if shutil.which(tool) is None:
        print("%s is not installed (scripts/deps.sh test)" % tool)
        sys.exit(77)


def curl(*args):
    p = run(["curl", "-sS", "-k", "--max-time", "30", "-u", "%s:%s" % (ALICE, PASSWORD)]
            + list(args))
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p.stdout


def test_curl_starttls_and_imaps():
    need("curl")
    with server(2) as srv:
        base = "imap://127.0.0.1:%d/" % srv.imap_port
        sbase = "imaps://127.0.0.1:%d/" % srv.imaps_port
        listing = curl("--ssl-reqd", base)
        assert b'"/" INBOX' in listing and b"\\Sent" in listing, listing
        uids = curl(sbase + "INBOX", "-X", "UID FETCH 1:* (UID)")
        found = [int(u) for u in re.findall(rb"UID (\d+)", uids)]
        assert len(found) == 2, uids
        assert curl("--ssl-reqd", base + "INBOX;UID=%d" % found[1]) == msg(2)
        assert curl(sbase + "INBOX;UID=%d" % found[0]) == msg(1)
        # without TLS, curl's LOGIN is refused (LOGINDISABLED)
        p = run(["curl", "-sS", "--max-time", "30", "-u", "%s:%s" % (ALICE, PASSWORD), base])
        assert p.returncode != 0, p.stdout
        # a wrong password is a login failure
        p = run(["curl", "-sS", "-k", "--max-time", "30", "-u", ALICE + ":nope", sbase])
        assert p.returncode == 67, (p.returncode, p.stderr)  # CURLE_LOGIN_DENIED


def mbsync_conf(srv, home):
    conf = os.path.join(home, "mbsyncrc")
    with open(conf, "w") as f:
        f.write("IMAPAccount mr\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                "SSLType IMAPS\nCertificateFile %s\n\n"
                "IMAPStore mr-remote\nAccount mr\n\n"
                "MaildirStore mr-local\nPath %s/\nInbox %s/INBOX\nSubFolders Verbatim\n\n"
                "Channel mr\nFar :mr-remote:\nNear :mr-local:\nPatterns *\n"
                "Create Both\nExpunge Both\nSyncState *\n"
                % (srv.imaps_port, ALICE, PASSWORD,
                   os.path.join(srv.dir, "data", "tls", "cert.pem"),
                   os.path.join(home, "mail"), os.path.join(home, "mail")))
    return conf


def mbsync(conf):
    p = run(["mbsync", "-c", conf, "-a"], timeout=120)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.decode() + p.stderr.decode()


def maildir_files(path):
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def test_mbsync_two_way():
    need("mbsync")
    with server(3) as srv:
        home = os.path.join(srv.dir, "mbsync")
        os.makedirs(os.path.join(home, "mail"))
        conf = mbsync_conf(srv, home)
        mbsync(conf)
        inbox = os.path.join(home, "mail", "INBOX")
        files = maildir_files(inbox)
        assert len(files) == 3, files
        # mbsync adds its own X-TUID field while it syncs
        bodies = sorted(re.sub(rb"X-TUID: \S+\n", b"", v.replace(b"\r\n", b"\n"))
                        for v in files.values())
        assert bodies == sorted(msg(i).replace(b"\r\n", b"\n") for i in (1, 2, 3)), bodies
        for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
            assert os.path.isdir(os.path.join(home, "mail", folder)), folder
        # a second run changes nothing
        mbsync(conf)
        assert len(maildir_files(inbox)) == 3
        # near side: mark one read, delete another (T flag + expunge)
        names = sorted(maildir_files(inbox))
        cur = os.path.join(inbox, "cur")
        new = os.path.join(inbox, "new")

        def path_of(name):
            return os.path.join(cur, name) if os.path.exists(os.path.join(cur, name)) \
                else os.path.join(new, name)
        base0 = names[0].split(":2,")[0]
        os.rename(path_of(names[0]), os.path.join(cur, base0 + ":2,S"))
        base1 = names[1].split(":2,")[0]
        os.rename(path_of(names[1]), os.path.join(cur, base1 + ":2,T"))
        # far side: new mail
        srv.deliver(ALICE, msg(4))
        mbsync(conf)
        assert len(maildir_files(inbox)) == 3  # 3 - 1 deleted + 1 new
        c = srv.imaplib_ssl(ALICE)
        typ, data = c.select("INBOX")
        assert data == [b"3"], data
        typ, data = c.fetch("1:*", "(FLAGS)")
        assert sum(1 for d in data if b"\\Seen" in d) == 1, data
        c.logout()
        # POP3 sees the same INBOX
        pop = srv.poplib_stls(ALICE)
        assert pop.stat()[0] == 3
        pop.quit()


def test_fetchmail_imap_keep():
    need("fetchmail")
    with server(2) as srv:
        home = os.path.join(srv.dir, "fm")
        os.mkdir(home)
        rc = os.path.join(home, "fetchmailrc")
        out = os.path.join(home, "out")
        with open(rc, "w") as f:
            f.write('poll 127.0.0.1 service %d protocol imap\n'
                    '  user "%s" there with password "%s" is root here\n'
                    '  keep ssl sslproto "TLS1.2+" no sslcertck\n'
                    '  mda "/bin/sh -c \'cat >> %s\'"\n'
                    % (srv.imaps_port, ALICE, PASSWORD, out))
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=home)
        args = ["fetchmail", "-f", rc, "--pidfile", os.path.join(home, "pid"), "--nosyslog",
                "-t", "20"]
        p = run(args, env=env, timeout=90)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        with open(out, "rb") as f:
            assert f.read().count(b"Subject: note") == 2
        # kept, and now \Seen: fetchmail asks for unseen mail only
        p = run(args, env=env, timeout=90)
        assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
        srv.deliver(ALICE, msg(3))
        p = run(args, env=env, timeout=90)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        with open(out, "rb") as f:
            assert f.read().count(b"Subject: note") == 3


def fingerprint(srv):
    """The server certificate's SHA-512, which offlineimap pins (the
    self-signed certificate names mail.example.test, not 127.0.0.1)."""
    import hashlib
    import ssl
    with open(os.path.join(srv.dir, "data", "tls", "cert.pem")) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha512(der).hexdigest()


def test_offlineimap():
    need("offlineimap")
    with server(2) as srv:
        home = os.path.join(srv.dir, "oi")
        os.mkdir(home)
        rc = os.path.join(home, "offlineimaprc")
        with open(rc, "w") as f:
            f.write("[general]\naccounts = mr\nmetadata = %s/meta\n\n"
                    "[Account mr]\nlocalrepository = local\nremoterepository = remote\n\n"
                    "[Repository local]\ntype = Maildir\nlocalfolders = %s/mail\n\n"
                    "[Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\n"
                    "remoteport = %d\nssl = yes\ncert_fingerprint = %s\n"
                    "remoteuser = %s\nremotepass = %s\n"
                    % (home, home, srv.imaps_port, fingerprint(srv), ALICE, PASSWORD))
        p = run(["offlineimap", "-c", rc, "-o", "-u", "basic"], timeout=120,
                env=dict(os.environ, HOME=home))
        assert p.returncode == 0, (p.stdout, p.stderr)
        files = maildir_files(os.path.join(home, "mail", "INBOX"))
        assert len(files) == 2, (files, p.stdout, p.stderr)


if __name__ == "__main__":
    run_tests(globals())

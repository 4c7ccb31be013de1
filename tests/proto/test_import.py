# SPDX-License-Identifier: MIT
"""`mailroom import` from a real Dovecot (Debian dovecot-pop3d) and from a
generated Windows POP3 service store, with mpop as the client that leaves
mail on the server: after the switch it downloads nothing twice.

Dovecot runs privately on 127.0.0.1 (its own config dir and port, stopped
by PID). Messages are written into its Maildir as an LDA would (bare LF);
mpop --keep fetches them once through Dovecot, which writes its
dovecot-uidlist; one more message arrives that Dovecot has not numbered yet.
Then `mailroom import maildir` of that Maildir: mailroom serves the same
UIDLs in the same order and the same bytes as Dovecot, mpop with the same
uidls file fetches only the one message it never saw, and a second import
adds nothing. The same with a custom pop3_uidl_format (--uidl-format).
"""
import os
import poplib
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot import Dovecot as PeerDovecot, need_dovecot  # noqa: E402
from harness import (PASSWORD, Server, free_port, run_tests,  # noqa: E402
                     tls_client_context)

ALICE = "alice@example.test"


def msg(i):
    # LF line ends, as Dovecot's Maildir holds them; a dot line for RETR
    return ("From: bob@example.org\nTo: %s\nSubject: note %d\n"
            "Message-ID: <%d@example.org>\n\nline one of %d\n.dot line\nend\n"
            % (ALICE, i, i, i)).encode()


class Dovecot(PeerDovecot):
    """The peer for one user, alice, with mail in its Maildir."""

    def __init__(self, uidl_format=None, **kw):
        extra = "pop3_uidl_format = %s\n" % uidl_format if uidl_format else ""
        super().__init__({ALICE: PASSWORD}, extra=extra, **kw)
        self.maildir = self.maildir_of(ALICE)

    def put(self, i, sub="new"):
        """A message as an LDA leaves it: a unique name with the time first."""
        name = "%d.M%dP%d.mail.example.test" % (1700000000 + i, i, os.getpid())
        path = os.path.join(self.maildir, sub, name)
        with open(path, "wb") as f:
            f.write(msg(i))
        self.own()

    def pop(self):
        p = poplib.POP3("127.0.0.1", self.port, timeout=20)
        p.user(ALICE)
        p.pass_(PASSWORD)
        return p

    def readable(self):
        """What an admin does before an import run as the store's user."""
        subprocess.run(["chmod", "-R", "a+rX", os.path.join(self.dir, "mail")], check=True)


def view(p):
    """UIDLs in order and each message's bytes, as a POP3 client sees them."""
    uidls = [line.split()[1].decode() for line in p.uidl()[1]]
    bodies = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(len(uidls))]
    p.quit()
    return uidls, bodies


def mpop_conf(home, port, tls):
    conf = os.path.join(home, "mpoprc-%d" % port)
    with open(conf, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\nuser %s\npassword %s\n"
                "tls %s\ntls_starttls off\ntls_certcheck off\nauth user\nkeep on\n"
                "only_new on\ndelivery mbox %s/mbox\nuidls_file %s/uidls\ntimeout 20\n"
                % (port, ALICE, PASSWORD, "on" if tls else "off", home, home))
    os.chmod(conf, 0o600)
    return conf


def mpop(conf):
    p = subprocess.run(["mpop", "-C", conf, "-q"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


def count_mbox(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.startswith(b"From "))


def imported(srv, *args):
    p = srv.cli("import", *args)
    return p.stdout.decode()


def migrate(uidl_format=None):
    need_dovecot()
    if not shutil.which("mpop"):
        print("skip: mpop not installed")
        sys.exit(77)
    with Dovecot(uidl_format) as dc, Server() as srv:
        srv.add_user(ALICE)
        home = os.path.join(srv.dir, "mpop")
        os.mkdir(home)
        for i in (1, 2):
            dc.put(i, "new")
        dc.put(3, "cur")
        mpop(mpop_conf(home, dc.port, False))  # Dovecot numbers and serves them
        assert count_mbox(os.path.join(home, "mbox")) == 3
        dc.put(4, "new")  # arrives after: no uidlist entry yet
        dc.readable()
        opts = ["--uidl-format", uidl_format] if uidl_format else []
        out = imported(srv, "maildir", dc.maildir, ALICE, *opts)
        assert "added 4, 0 already there" in out, out
        srv.start()
        mine = view(srv.poplib_ssl(ALICE))
        theirs = view(dc.pop())  # now Dovecot numbers the fourth
        assert mine[0] == theirs[0], (mine[0], theirs[0])
        assert mine[1] == theirs[1], (mine[1], theirs[1])
        # the client that left mail on Dovecot: only the one it never saw
        mpop(mpop_conf(home, srv.pop3s_port, True))
        assert count_mbox(os.path.join(home, "mbox")) == 4
        mpop(mpop_conf(home, srv.pop3s_port, True))
        assert count_mbox(os.path.join(home, "mbox")) == 4
        # resumable: run again, nothing added
        out = imported(srv, "maildir", dc.maildir, ALICE, *opts)
        assert "added 0, 4 already there" in out, out
        return theirs[0]


def test_dovecot_maildir_default_format():
    uidls = migrate()
    assert all(len(u) == 16 for u in uidls), uidls


def test_dovecot_maildir_custom_format():
    uidls = migrate("%v-%u")
    assert all("-" in u for u in uidls), uidls


def test_dovecot_pop3_save_uidl():
    """A P field (a UIDL Dovecot stores, e.g. after its own migration) wins."""
    need_dovecot()
    with Dovecot() as dc, Server() as srv:
        srv.add_user(ALICE)
        dc.put(1, "cur")
        dc.put(2, "cur")
        with open(os.path.join(dc.maildir, "dovecot-uidlist"), "w") as f:
            f.write("3 V1700000000 N3 G00112233445566778899aabbccddeeff\n"
                    "1 P+old-server.1 :1700000001.M1P%d.mail.example.test\n"
                    "2 :1700000002.M2P%d.mail.example.test\n" % (os.getpid(), os.getpid()))
        dc.own()
        theirs = view(dc.pop())
        assert theirs[0][0] == "+old-server.1", theirs[0]
        dc.readable()
        imported(srv, "maildir", dc.maildir, ALICE)
        srv.start()
        mine = view(srv.poplib_ssl(ALICE))
        assert mine == theirs, (mine, theirs)


def test_winpop3_store():
    if not shutil.which("mpop"):
        print("skip: mpop not installed")
        sys.exit(77)
    with Server() as srv:
        srv.add_user(ALICE)
        mbx = os.path.join(srv.dir, "mailroot", "mailbox", "example.test", "P3_alice.mbx")
        os.makedirs(mbx)
        names = ["P3_%08x%08x" % (0x1d9a0000 + i, i * 7919) for i in range(5)]
        for i, n in enumerate(names):
            path = os.path.join(mbx, n + ".eml")
            with open(path, "wb") as f:
                f.write(msg(i).replace(b"\n", b"\r\n"))
            os.utime(path, (1100000000 + i, 1100000000 + i))
        subprocess.run(["chmod", "-R", "a+rX", os.path.join(srv.dir, "mailroot")], check=True)
        # the domain folder is no mailbox: refused, nothing imported
        p = srv.cli("import", "winpop3", os.path.dirname(mbx), ALICE, check=False)
        assert p.returncode != 0 and b"mailbox folder" in p.stderr, p.stderr
        out = imported(srv, "winpop3", mbx, ALICE)
        assert "added 5, 0 already there" in out, out
        out = imported(srv, "winpop3", mbx, ALICE)
        assert "added 0, 5 already there" in out, out
        srv.start()
        uidls, bodies = view(srv.poplib_ssl(ALICE))
        assert uidls == names, uidls
        assert bodies[2] == msg(2).rstrip(b"\n").replace(b"\n", b"\r\n")
        # a client that fetched the first three from the Windows service: a
        # stand-in serves them with the UIDLs the service served
        home = os.path.join(srv.dir, "mpop")
        os.mkdir(home)
        with Server() as old:
            old.add_user(ALICE)
            for i in range(3):
                old.deliver(ALICE, msg(i), "--uidl", names[i])
            old.start()
            mpop(mpop_conf(home, old.pop3s_port, True))
        assert count_mbox(os.path.join(home, "mbox")) == 3
        mpop(mpop_conf(home, srv.pop3s_port, True))
        assert count_mbox(os.path.join(home, "mbox")) == 5


def test_errors():
    with Server() as srv:
        srv.add_user(ALICE)
        p = srv.cli("import", "nonesuch", "/tmp", ALICE, check=False)
        assert p.returncode == 64 and b"no source 'nonesuch'" in p.stderr, p.stderr
        p = srv.cli("import", "maildir", "/nonexistent/Maildir", ALICE, check=False)
        assert p.returncode == 66 and b"/nonexistent/Maildir/cur" in p.stderr, p.stderr
        md = os.path.join(srv.dir, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        subprocess.run(["chmod", "-R", "a+rX", md], check=True)
        p = srv.cli("import", "maildir", md, "nobody@example.test", check=False)
        assert p.returncode == 67, (p.returncode, p.stderr)
        srv.add_user("bob@example.test")
        srv.cli("alias", "add", "both@example.test", ALICE)
        srv.cli("alias", "add", "both@example.test", "bob@example.test")
        p = srv.cli("import", "maildir", md, "both@example.test", check=False)
        assert p.returncode == 64 and b"2 local mailboxes" in p.stderr, p.stderr
        p = srv.cli("import", "maildir", md, ALICE, "--insecure", check=False)
        assert p.returncode == 64, p.stderr
        p = srv.cli("import", "maildir", md, ALICE, "--uidl-format", "%m", check=False)
        assert p.returncode == 66 and b"%m" in p.stderr, p.stderr
        with open(os.path.join(md, "dovecot-uidlist"), "w") as f:
            f.write("3 V0 N1\n")
        p = srv.cli("import", "maildir", md, ALICE, check=False)
        assert b"dovecot-uidlist: line 1" in p.stderr, p.stderr
        assert srv.cli("import", "--help").stdout.startswith(b"usage: mailroom")


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""`mailroom import mbox PATH ADDRESS`: a mail spool as a POP3 server that
keeps mbox files leaves it (X-UIDL headers, mboxrd quoting, a
Content-Length message with an unquoted From_ line inside, an mboxo-style
unquoted "From " line without a date) comes in with the old UIDLs and the
bytes the old server served; a second run adds nothing; a CRLF file reads
the same; a file that is no mbox, a folder and a missing file are refused
with nothing imported."""
import os
import poplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

ALICE = "alice@example.test"

SPOOL = (
    b"From bob@example.org Thu Nov 24 18:22:48 1986\n"
    b"X-UIDL: 3a1f0c2d4e5b6a79\n"
    b"Subject: one\n\n"
    b"first\n\n>From the quoted line\n>>From twice quoted\n\n"
    b"From here on, a line an mboxo writer left alone\n\n"
    b"From carol@example.org Mon Jan  2 03:04:05 2006\n"
    b"X-UIDL: old-uidl:2!\n"
    b"Content-Length: 52\n"
    b"Subject: two\n\n"
    b"x\n\nFrom b Thu Nov 24 18:22:48 1986\n>From kept as is\n\n"
    b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n"
    b"Subject: three, no UIDL\n\n"
    b"last\n"
)
WANT = [
    b"X-UIDL: 3a1f0c2d4e5b6a79\r\nSubject: one\r\n\r\nfirst\r\n\r\nFrom the quoted line\r\n"
    b">From twice quoted\r\n\r\nFrom here on, a line an mboxo writer left alone\r\n",
    b"X-UIDL: old-uidl:2!\r\nContent-Length: 52\r\nSubject: two\r\n\r\n"
    b"x\r\n\r\nFrom b Thu Nov 24 18:22:48 1986\r\n>From kept as is\r\n",
    b"Subject: three, no UIDL\r\n\r\nlast\r\n",
]


def view(srv):
    c = srv.poplib_stls(ALICE)
    uidls = [x.split()[1].decode() for x in c.uidl()[1]]
    bodies = [b"".join(x + b"\r\n" for x in c.retr(i + 1)[1]) for i in range(len(uidls))]
    c.quit()
    return uidls, bodies


def spool(srv, name, data):
    path = os.path.join(srv.dir, name)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)
    os.chmod(srv.dir, 0o755)  # the CLI runs as the server's user
    return path


def test_spool_with_uidls():
    with Server() as srv:
        srv.add_user(ALICE)
        path = spool(srv, "alice.mbox", SPOOL)
        out = srv.cli("import", "mbox", path, ALICE).stdout.decode()
        assert "added 3, 0 already there" in out, out
        out = srv.cli("import", "mbox", path, ALICE).stdout.decode()
        # the two with an X-UIDL are recognised; one without has none to
        # be recognised by and comes again (import such files once)
        assert "added 1, 2 already there" in out, out
        srv.start()
        uidls, bodies = view(srv)
        assert uidls[:2] == ["3a1f0c2d4e5b6a79", "old-uidl:2!"], uidls
        assert bodies == WANT + WANT[2:], bodies
        assert len(set(uidls)) == len(uidls)


def test_crlf_spool():
    with Server() as srv:
        srv.add_user(ALICE)
        path = spool(srv, "crlf.mbox", SPOOL.replace(b"Content-Length: 52", b"Content-Length: 56")
                     .replace(b"\n", b"\r\n"))
        out = srv.cli("import", "mbox", path, ALICE).stdout.decode()
        assert "added 3" in out, out
        srv.start()
        uidls, bodies = view(srv)
        assert uidls[:2] == ["3a1f0c2d4e5b6a79", "old-uidl:2!"], uidls
        assert bodies == [b.replace(b"Content-Length: 52", b"Content-Length: 56")
                          for b in WANT], bodies


def test_refused():
    with Server() as srv:
        srv.add_user(ALICE)
        bad = spool(srv, "not.mbox", b"Subject: a lone message\n\nbody\n")
        for path in (bad, srv.dir, os.path.join(srv.dir, "missing.mbox")):
            p = srv.cli("import", "mbox", path, ALICE, check=False)
            assert p.returncode != 0, (path, p.stdout)
        p = srv.cli("import", "mbox", bad, ALICE, check=False)
        assert b"From_" in p.stderr, p.stderr
        srv.start()
        c = srv.poplib_stls(ALICE)
        assert c.stat()[0] == 0
        c.quit()


if __name__ == "__main__":
    poplib._MAXLINE = 1 << 16
    run_tests(globals())

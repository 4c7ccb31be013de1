# SPDX-License-Identifier: MIT
"""Folders, flags, keywords and UIDs through `mailroom export maildir` and
`mailroom import maildir`: a mailbox given folders (a hierarchy, a '.' in a
name, a name that is not ASCII, an empty one, one not subscribed), flags and
keywords over IMAP (imaplib) is exported; the Maildir++ has one directory a
folder, the flags in the file names, a dovecot-keywords and a
dovecot-uidlist a folder; imported into a fresh mailbox, IMAP shows the same
folders, subscriptions, flags, keywords, UIDs and bodies, and a second run
adds nothing. A real Dovecot (IMAP) serving the export shows the same
folders, flags and UIDs. mbox: a directory of files, one a folder, flags
as Status headers, and back. Failure paths: a PATH that cannot be written, a
damaged dovecot-uidlist or dovecot-keywords (the import names the file and
imports nothing)."""
import os
import pwd
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot import DOVECOT, IMAP_BIN, Dovecot  # noqa: E402
from harness import PASSWORD, TEST_USER, Server, run_tests  # noqa: E402
from test_export import place  # noqa: E402
import imaplib  # noqa: E402

ALICE = "alice@example.test"
NOTES = "Work.Notes"          # a '.' in a name: escaped in Maildir++
DRAFTS_DE = "Entw&APw-rfe"    # "Entwürfe", modified UTF-7 on the wire
MSGS = [b"Subject: one\r\n\r\nfirst\r\n",
        b"Subject: two\r\n\r\nsecond\r\n",
        b"Subject: three\r\n\r\nthird\r\n",
        b"Subject: four\r\n\r\nfourth\r\n"]

LIST_RE = re.compile(rb'^\((?P<attrs>[^)]*)\) (?:NIL|"(?P<sep>.)") (?P<name>.*)$')
FETCH_RE = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def ok(res):
    typ, data = res
    assert typ == "OK", (typ, data)
    return data


def names(lines, sep_to="/"):
    out = {}
    for line in lines:
        m = LIST_RE.match(line)
        assert m, line
        name = m.group("name").strip(b'"').decode()
        sep = (m.group("sep") or b"/").decode()
        if sep != sep_to:
            name = name.replace(sep, sep_to)
        out[name] = m.group("attrs").decode()
    return out


def view(c):
    """{folder: [(uid, flags, body)]}, and the subscribed folders."""
    folders = names(ok(c.list()))
    subscribed = set(names(ok(c.lsub())))
    out = {}
    for name, attrs in sorted(folders.items()):
        if "\\Noselect" in attrs or "\\NonExistent" in attrs:
            continue
        ok(c.select('"%s"' % name, readonly=True))
        msgs = []
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid, flags = None, set()
            for m in FETCH_RE.finditer(item[0]):
                if m.group(1):
                    uid = int(m.group(1))
                else:
                    flags = set(m.group(2).decode().split()) - {"\\Recent"}
            msgs.append((uid, frozenset(flags), item[1]))
        out[name] = sorted(msgs)
        c.close()
    return out, subscribed


def done(*servers):
    for x in servers:
        if x is not None:
            x.stop()
            x.cleanup()


def filled():
    srv = Server(imap=True)
    srv.add_user(ALICE)
    for b in MSGS:
        srv.deliver(ALICE, b)
    srv.start()
    c = srv.imaplib_stls(ALICE)
    for name in ("Archive/2024", NOTES, DRAFTS_DE, "Empty", "Hidden"):
        ok(c.create('"%s"' % name))
        if name != "Hidden":
            ok(c.subscribe('"%s"' % name))
    ok(c.select("INBOX"))
    ok(c.uid("STORE", "1", "+FLAGS", r"(\Seen \Flagged $Forwarded Work)"))
    ok(c.uid("STORE", "2", "+FLAGS", r"(\Answered \Draft Later)"))
    ok(c.uid("STORE", "4", "+FLAGS", r"(\Deleted)"))
    ok(c.uid("COPY", "1:2", '"Archive/2024"'))
    ok(c.uid("COPY", "3", '"%s"' % NOTES))
    ok(c.uid("COPY", "3", '"%s"' % DRAFTS_DE))
    ok(c.append("Sent", r"(\Seen Work)", None, b"Subject: sent\r\n\r\nout\r\n"))
    c.logout()  # no CLOSE: the \Deleted one stays
    return srv


def imap_view(srv):
    c = srv.imaplib_stls(ALICE)
    try:
        return view(c)
    finally:
        c.logout()


def test_round_trip_and_dovecot():
    srv = filled()
    srv2 = dc = None
    try:
        want, want_subs = imap_view(srv)
        assert len(want["INBOX"]) == 4 and len(want["Archive/2024"]) == 2, want
        assert want["Empty"] == [] and "Hidden" not in want_subs
        out = place(srv.dir)
        md = os.path.join(out, "alice")
        p = srv.cli("export", "maildir", ALICE, md)
        assert "exported 9 messages" in p.stdout.decode(), p.stdout
        dirs = set(os.listdir(md))
        for d in (".Archive.2024", ".Work\\2eNotes", "." + DRAFTS_DE, ".Sent", ".Empty",
                  ".Hidden", "subscriptions", "dovecot-uidlist", "dovecot-keywords"):
            assert d in dirs, (d, sorted(dirs))
        assert os.path.exists(os.path.join(md, ".Empty", "maildirfolder"))
        inbox = sorted(os.listdir(os.path.join(md, "cur")))
        kw = dict(x.split(" ", 1) for x in
                  open(os.path.join(md, "dovecot-keywords")).read().splitlines())
        letter = {v: chr(ord("a") + int(k)) for k, v in kw.items()}
        info = sorted(n.split(":2,")[1] for n in inbox)
        assert info == sorted(["", "T", "FS" + "".join(sorted(letter[k] for k in
                                                             ("$Forwarded", "Work"))),
                               "DR" + letter["Later"]]), (info, kw)
        lines = open(os.path.join(md, "dovecot-uidlist")).read().splitlines()
        assert all(" P" in x for x in lines[1:]), lines
        sub = open(os.path.join(md, ".Archive.2024", "dovecot-uidlist")).read().splitlines()
        assert len(sub) == 3 and not any(" P" in x for x in sub[1:]), sub
        subs = open(os.path.join(md, "subscriptions")).read()
        assert subs.startswith("V\t2\n\n") and "Archive\t2024\n" in subs, subs
        assert "Hidden" not in subs

        # into a fresh mailbox: the same folders, flags, keywords, UIDs, bodies
        srv2 = Server(imap=True)
        srv2.add_user(ALICE)
        p = srv2.cli("import", "maildir", md, ALICE)
        assert "added 9, 0 already there" in p.stdout.decode(), p.stdout
        p = srv2.cli("import", "maildir", md, ALICE)
        assert "added 0, 9 already there" in p.stdout.decode(), p.stdout
        srv2.start()
        got, got_subs = imap_view(srv2)
        assert got == want, (got, want)
        assert got_subs == want_subs, (got_subs, want_subs)

        # a real Dovecot serving the export
        if os.geteuid() != 0 or not (os.path.exists(DOVECOT) and os.path.exists(IMAP_BIN)):
            print("note: no Dovecot IMAP (dovecot-imapd), or not root: Dovecot's view "
                  "is not checked")
            return
        owner = pwd.getpwnam(TEST_USER)
        dc = Dovecot({ALICE: PASSWORD}, homes={ALICE: md}, owner=owner, protocols="imap",
                     extra="namespace inbox {\n  inbox = yes\n  separator = /\n}\n"
                           "mail_plugins = $mail_plugins listescape\n")
        dc.start()
        c = imaplib.IMAP4("127.0.0.1", dc.imap_port, timeout=20)
        c.login(ALICE, PASSWORD)
        theirs, theirs_subs = view(c)
        c.logout()
        assert theirs == want, (theirs, want, dc.log())
        assert theirs_subs == want_subs, (theirs_subs, want_subs)
    finally:
        if dc is not None:
            dc.cleanup()
        done(srv2, srv)


def test_mbox_folders():
    """mbox: one file a folder (children of X in X.sbd), flags as Status,
    X-Status and X-Keywords; back in, the same folders, flags, keywords and
    bodies (mbox keeps no UIDs or subscriptions)."""
    srv = filled()
    srv2 = None
    try:
        want, _ = imap_view(srv)
        out = place(srv.dir)
        path = os.path.join(out, "alice")
        p = srv.cli("export", "mbox", ALICE, path)
        assert "exported 9 messages" in p.stdout.decode(), p.stdout
        files = sorted(os.path.relpath(os.path.join(d, f), path)
                       for d, _, fs in os.walk(path) for f in fs)
        assert files == sorted(["INBOX", "Archive", "Archive.sbd/2024", "Drafts", "Empty",
                                "Entw\u00fcrfe", "Hidden", "Junk", "Sent", "Trash",
                                "Work.Notes"]), files
        inbox = open(os.path.join(path, "INBOX"), "rb").read()
        assert b"\nStatus: RO\nX-Status: F\nX-Keywords: $Forwarded Work\n\nfirst\n" in inbox
        assert b"\nStatus: O\nX-Status: AT\nX-Keywords: Later\n" in inbox
        assert b"\nStatus: O\nX-Status: D\n" in inbox
        srv2 = Server(imap=True)
        srv2.add_user(ALICE)
        p = srv2.cli("import", "mbox", path, ALICE)
        assert "added 9," in p.stdout.decode(), p.stdout
        srv2.start()
        got, _ = imap_view(srv2)

        def strip(v):
            return {k: sorted((f, b) for _, f, b in msgs) for k, msgs in v.items()}
        assert strip(got) == strip(want), (strip(got), strip(want))
    finally:
        done(srv2, srv)


def test_failures():
    srv = filled()
    srv2 = None
    try:
        out = place(srv.dir)
        # a PATH that cannot be written
        ro = os.path.join(out, "ro")
        os.mkdir(ro, 0o500)
        if os.geteuid() == 0:
            shutil.chown(ro, TEST_USER)
        p = srv.cli("export", "maildir", ALICE, ro + "/x", check=False)
        assert p.returncode == 73 and b"cannot make" in p.stderr, (p.returncode, p.stderr)
        p = srv.cli("export", "maildir", ALICE, "/proc/version/x", check=False)
        assert p.returncode == 73, (p.returncode, p.stderr)
        md = os.path.join(out, "alice")
        srv.cli("export", "maildir", ALICE, md)
        srv2 = Server(imap=True)
        srv2.add_user(ALICE)
        # a damaged dovecot-keywords, then a damaged dovecot-uidlist in a folder
        kwf = os.path.join(md, "dovecot-keywords")
        good = open(kwf).read()
        for bad in ("0 Work\n0 Again\n", "x Work\n", "26 Work\n", "3 \n"):
            open(kwf, "w").write(bad)
            p = srv2.cli("import", "maildir", md, ALICE, check=False)
            assert p.returncode == 66 and b"dovecot-keywords: line" in p.stderr, p.stderr
        open(kwf, "w").write(good)
        ulf = os.path.join(md, ".Archive.2024", "dovecot-uidlist")
        open(ulf, "w").write("3 V0 N1\nbroken\n")
        p = srv2.cli("import", "maildir", md, ALICE, check=False)
        assert p.returncode == 66 and b".Archive.2024/dovecot-uidlist" in p.stderr, p.stderr
        assert b"nothing imported" in p.stderr
        # a directory that is no Maildir++ name is refused by name
        os.makedirs(os.path.join(md, ".bad\\zz", "cur"))
        os.remove(ulf)
        p = srv2.cli("import", "maildir", md, ALICE, check=False)
        assert p.returncode == 66 and b"bad\\zz" in p.stderr, p.stderr
        srv2.start()
        c = srv2.imaplib_stls(ALICE)
        typ, data = c.select("INBOX")
        assert data[0] == b"0", data
        c.logout()
    finally:
        done(srv2, srv)


if __name__ == "__main__":
    run_tests(globals())

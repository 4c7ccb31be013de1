# SPDX-License-Identifier: MIT
"""IMAP behaviour with Python's imaplib and raw sockets (RFC 9051, 3501, 2177,
4315, 6851, 6154, 7888): logins before and after TLS, folders, FETCH bytes and
structure, flags, copy and move, append, expunge, IDLE, and POP3 on the same
mailbox beside IMAP."""
import imaplib
import os
import re
import smtplib
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests, tls_client_context  # noqa: E402

ALICE = "alice@example.test"


def msg(n, body_lines=3, subject=None):
    body = "".join("line %d of message %d\r\n" % (i, n) for i in range(body_lines))
    return ("From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
            "Subject: %s\r\nMessage-ID: <m%d@example.test>\r\n\r\n%s"
            % (subject or "m%d" % n, n, body)).encode()


def server_with_mail(messages, extra=None, smtp=False):
    srv = Server(extra, imap=True, smtp=smtp)
    srv.add_user(ALICE)
    for m in messages:
        srv.deliver(ALICE, m)
    return srv.start()


class RawImap:
    """Line-level IMAP over a socket, for what imaplib hides."""

    def __init__(self, port, tls=False):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            s = tls_client_context().wrap_socket(s, server_hostname="mail.example.test")
        self.s = s
        self.f = s.makefile("rb")

    def starttls(self):
        self.s = tls_client_context().wrap_socket(self.s, server_hostname="mail.example.test")
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        ln = self.f.readline(100000)
        assert ln.endswith(b"\r\n"), ln
        return ln[:-2]

    def until(self, tag):
        """Lines up to and including the tagged one."""
        out = []
        for _ in range(10000):
            ln = self.line()
            out.append(ln)
            if ln.startswith(tag.encode() + b" "):
                return out
        raise AssertionError("no tagged reply")

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def close(self):
        self.s.close()


def test_greeting_capability_and_tls():
    with server_with_mail([]) as srv:
        r = RawImap(srv.imap_port)
        greet = r.line()
        assert greet.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2"), greet
        caps = greet.decode()
        # before TLS: STARTTLS offered, LOGIN and plaintext SASL refused
        assert " STARTTLS" in caps and " LOGINDISABLED" in caps, caps
        assert "AUTH=PLAIN" not in caps and "AUTH=SCRAM-SHA-256" in caps, caps
        out = r.cmd("a1", "LOGIN %s %s" % (ALICE, PASSWORD))
        assert out[-1].startswith(b"a1 NO [PRIVACYREQUIRED]"), out
        out = r.cmd("a2", "STARTTLS")
        assert out[-1].startswith(b"a2 OK"), out
        r.starttls()
        out = r.cmd("a3", "CAPABILITY")
        caps = out[0].decode()
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        assert "AUTH=PLAIN" in caps and "IDLE" in caps and "UIDPLUS" in caps, caps
        out = r.cmd("a4", "LOGIN %s %s" % (ALICE, PASSWORD))
        assert out[-1].startswith(b"a4 OK [CAPABILITY"), out
        out = r.cmd("a5", "LOGOUT")
        assert out[0].startswith(b"* BYE") and out[-1].startswith(b"a5 OK"), out
        # implicit TLS on imaps
        c = srv.imaplib_ssl(ALICE)
        assert c.select("INBOX")[0] == "OK"
        c.logout()


def test_wrong_password_and_authenticate_plain():
    with server_with_mail([]) as srv:
        c = srv.imaplib_stls()
        try:
            c.login(ALICE, "wrong")
            raise AssertionError("login with a wrong password worked")
        except imaplib.IMAP4.error as e:
            assert "AUTHENTICATIONFAILED" in str(e), e
        c.logout()
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        import base64
        ir = base64.b64encode(("\0%s\0%s" % (ALICE, PASSWORD)).encode()).decode()
        out = r.cmd("p1", "AUTHENTICATE PLAIN " + ir)  # SASL-IR, RFC 4959
        assert out[-1].startswith(b"p1 OK"), out
        r.close()


def test_list_select_fetch_bytes():
    msgs = [msg(1), msg(2, 40), msg(3)]
    with server_with_mail(msgs) as srv:
        c = srv.imaplib_stls(ALICE)
        typ, data = c.list()
        names = {}
        for line in data:
            m = re.match(rb'\((.*?)\) "/" "?([^"]*)"?$', line)
            assert m, line
            names[m.group(2).decode()] = m.group(1).decode()
        for n, use in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                       ("Junk", "\\Junk"), ("Archive", "\\Archive")):
            assert n in names and use in names[n], (n, names)
        assert "INBOX" in names
        typ, data = c.select("INBOX")
        assert typ == "OK" and data == [b"3"], data
        typ, data = c.fetch("1:3", "(UID RFC822.SIZE BODY.PEEK[])")
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        assert bodies == msgs, bodies
        # BODY.PEEK leaves \Seen unset; BODY[] sets it
        typ, data = c.fetch("2", "(FLAGS)")
        assert b"\\Seen" not in data[0], data
        typ, data = c.fetch("2", "(BODY[HEADER.FIELDS (SUBJECT)])")
        assert data[0][1] == b"Subject: m2\r\n\r\n", data
        typ, data = c.fetch("2", "(FLAGS)")
        assert b"\\Seen" in data[0], data
        typ, data = c.fetch("1", "(BODY[TEXT]<0.6>)")
        assert data[0][1] == b"line 0", data
        typ, data = c.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
        assert b'"m1"' in data[0] and b'(("Bob" NIL "bob" "example.test"))' in data[0], data
        assert b'("text" "plain" ("charset" "us-ascii")' in data[0].lower(), data
        c.logout()


def test_uid_fetch_and_bad_sets():
    with server_with_mail([msg(1), msg(2)]) as srv:
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
        uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
        assert len(uids) == 2 and uids[0] < uids[1], data
        # a UID range beyond the last gives only what exists (RFC 9051 §6.4.9)
        typ, data = c.uid("FETCH", "%d:*" % (uids[1] + 100), "(FLAGS)")
        assert typ == "OK" and len([d for d in data if d]) == 1, data
        try:
            c.fetch("5", "(FLAGS)")
            raise AssertionError("sequence number 5 of 2 accepted")
        except imaplib.IMAP4.error:
            pass
        c.logout()


def test_store_flags_and_expunge():
    with server_with_mail([msg(1), msg(2), msg(3)]) as srv:
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        typ, data = c.store("2", "+FLAGS", "(\\Flagged $Important)")
        assert typ == "OK" and b"\\Flagged" in data[0] and b"$Important" in data[0], data
        typ, data = c.store("2", "-FLAGS", "(\\Flagged)")
        assert b"\\Flagged" not in data[0] and b"$Important" in data[0], data
        c.store("1,3", "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = c.expunge()
        # the second EXPUNGE renumbers: 3 then 1, or 1 then 2
        assert typ == "OK" and data in ([b"3", b"1"], [b"1", b"2"]), data
        typ, data = c.select("INBOX")
        assert data == [b"1"], data
        c.logout()
        # POP3 sees what IMAP left
        pop = srv.poplib_stls(ALICE)
        assert pop.stat()[0] == 1
        pop.quit()


def test_keyword_limit_per_folder():
    """A folder's messages use at most 256 keywords (docs/imap.md): past
    that a new one gets NO [LIMIT] and PERMANENTFLAGS drops \\*."""
    with server_with_mail([msg(1)]) as srv:
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        assert b"\\*" in c.untagged_responses["PERMANENTFLAGS"][0]
        for i in range(0, 256, 32):
            kws = " ".join("kw%d" % k for k in range(i, i + 32))
            typ, _ = c.store("1", "+FLAGS.SILENT", "(%s)" % kws)
            assert typ == "OK"
            typ, _ = c.store("1", "-FLAGS.SILENT", "(%s)" % kws)
            assert typ == "OK"
        typ, data = c.store("1", "+FLAGS", "(onemore)")
        assert typ == "NO" and b"[LIMIT]" in data[0], (typ, data)
        typ, data = c.store("1", "+FLAGS", "(KW9)")  # known, in any case
        assert typ == "OK" and b"kw9" in data[0], data
        c.close()
        typ, _ = c.select("INBOX")
        perm = c.untagged_responses["PERMANENTFLAGS"][0]
        assert b"\\*" not in perm and perm.endswith(b"kw255)"), perm
        c.logout()


def test_folders_copy_move_append():
    with server_with_mail([msg(1), msg(2)]) as srv:
        c = srv.imaplib_stls(ALICE)
        assert c.create("Work/2026")[0] == "OK"
        assert c.create("Work/2026")[0] == "NO"
        c.select("INBOX")
        typ, data = c.copy("1", "Work/2026")
        assert typ == "OK" and b"COPYUID" in data[0], data
        typ, data = c._simple_command("MOVE", "2", "Archive")
        assert typ == "OK", data
        typ, data = c.select("INBOX")
        assert data == [b"1"], data  # the moved one left INBOX
        typ, data = c.status("Work/2026", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
        assert b"MESSAGES 1" in data[0] and b"UNSEEN 1" in data[0], data
        typ, data = c.status("Archive", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0], data
        typ, data = c.append("Drafts", "(\\Draft \\Seen)", None, msg(9).replace(b"\r\n", b"\n"))
        assert typ == "OK" and b"APPENDUID" in data[0], data
        c.select("Drafts")
        typ, data = c.fetch("1", "(FLAGS BODY.PEEK[])")
        assert data[0][1] == msg(9), data  # bare LF stored as CRLF
        assert b"\\Draft" in data[0][0] and b"\\Seen" in data[0][0], data
        typ, data = c.copy("1", "Nowhere")
        assert typ == "NO" and b"TRYCREATE" in data[0], data
        assert c.rename("Work", "Jobs")[0] == "OK"
        typ, data = c.status("Jobs/2026", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0], data
        assert c.delete("INBOX")[0] == "NO"
        assert c.delete("Jobs/2026")[0] == "OK"
        c.logout()
        # POP3 serves INBOX only, with the UIDL it had
        pop = srv.poplib_stls(ALICE)
        assert pop.stat()[0] == 1
        pop.quit()


def test_uidl_kept_and_pop3_delete_seen_by_imap():
    with server_with_mail([msg(1), msg(2)]) as srv:
        pop = srv.poplib_stls(ALICE)
        before = pop.uidl()[1]
        pop.quit()
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        c.fetch("1:*", "(BODY[])")
        pop = srv.poplib_stls(ALICE)
        assert pop.uidl()[1] == before  # IMAP reading changed nothing for POP3
        pop.dele(1)
        pop.quit()
        typ, data = c.noop()
        assert c.untagged_responses.get("EXPUNGE") == [b"1"], c.untagged_responses
        c.logout()


def test_idle_hears_new_mail():
    with server_with_mail([msg(1)], smtp=True) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        r.cmd("b", "SELECT INBOX")
        r.send("c IDLE\r\n")
        assert r.line() == b"+ idling"
        s = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=10)
        s.sendmail("bob@example.test", [ALICE], msg(2))
        s.quit()
        assert r.line() == b"* 2 EXISTS"
        r.send("DONE\r\n")
        ln = r.line()
        assert ln.startswith(b"c OK"), ln
        r.close()


def test_search():
    msgs = [msg(1, subject="Quarterly report"), msg(2, 5, subject="Lunch"),
            msg(3, subject="re: quarterly REPORT draft")]
    with server_with_mail(msgs) as srv:
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        assert c.search(None, "SUBJECT", "quarterly") == ("OK", [b"1 3"])
        assert c.search(None, "BODY", '"line 4 of message 2"') == ("OK", [b"2"])
        assert c.search(None, "NOT", "SUBJECT", "lunch") == ("OK", [b"1 3"])
        assert c.search(None, "OR", "SUBJECT", "lunch", "LARGER", "1000000") == ("OK", [b"2"])
        c.store("3", "+FLAGS", "(\\Seen)")
        assert c.search(None, "UNSEEN") == ("OK", [b"1 2"])
        assert c.search("UTF-8", "FROM", "bob") == ("OK", [b"1 2 3"])
        typ, data = c.uid("SEARCH", "SEEN")
        assert typ == "OK" and len(data[0].split()) == 1, data
        typ, data = c.search("KOI8-R", "ALL")
        assert typ == "NO", (typ, data)
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        r.cmd("b", "SELECT INBOX")
        out = r.cmd("c", "SEARCH RETURN (MIN MAX COUNT) SUBJECT report")
        assert out[0] == b'* ESEARCH (TAG "c") MIN 1 MAX 3 COUNT 2', out
        out = r.cmd("d", "SEARCH FROBNICATE")
        assert out[-1].startswith(b"d BAD"), out
        r.close()
        c.logout()


def modseq_of(line):
    return int(re.search(rb"MODSEQ \((\d+)\)", line).group(1))


def test_condstore_and_qresync():
    with server_with_mail([msg(1), msg(2), msg(3)]) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        out = r.cmd("b", "SELECT INBOX (CONDSTORE)")
        hms = [ln for ln in out if b"HIGHESTMODSEQ" in ln]
        assert hms, out
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(out)).group(1))
        out = r.cmd("c", "UID FETCH 1:* (FLAGS MODSEQ)")
        uids = [int(u) for u in re.findall(rb"UID (\d+)", b"".join(out))]
        mods = [modseq_of(ln) for ln in out if ln.startswith(b"* ") and b"FETCH" in ln]
        assert len(uids) == 3 and len(mods) == 3, out
        # a conditional STORE: it works against the current modseq ...
        out = r.cmd("d", "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % mods[0])
        assert out[-1].startswith(b"d OK") and b"MODIFIED" not in out[-1], out
        new = modseq_of(out[0])
        assert new > mods[0], out
        # ... and fails against the old one (RFC 7162 MODIFIED)
        out = r.cmd("e", "STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % mods[0])
        assert out[-1].startswith(b"e OK [MODIFIED 1]"), out
        out = r.cmd("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % max(mods))
        assert len([ln for ln in out if ln.startswith(b"* ") and b"FETCH" in ln]) == 1, out
        out = r.cmd("g", "SEARCH MODSEQ %d" % new)
        assert out[0].startswith(b"* SEARCH 1 (MODSEQ %d)" % new), out
        out = r.cmd("h", "STATUS Archive (HIGHESTMODSEQ MESSAGES)")
        assert b"HIGHESTMODSEQ" in out[0], out
        highest = max(modseq_of(ln) for ln in r.cmd("i", "FETCH 1:* (MODSEQ)") if ln.startswith(b"* ") and b"FETCH" in ln)
        r.cmd("j", "LOGOUT")
        r.close()

        # another client changes things while this one is away
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        c.store("3", "+FLAGS", "(\\Answered)")
        c.store("2", "+FLAGS", "(\\Deleted)")
        c.expunge()
        c.logout()

        # QRESYNC: the return trip is told what went and what changed
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        assert r.cmd("b", "ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC"
        out = r.cmd("c", "SELECT INBOX (QRESYNC (%d %d))" % (uidvalidity, highest))
        assert b"* VANISHED (EARLIER) %d" % uids[1] in out, out
        changed = [ln for ln in out if ln.startswith(b"* ") and b"FETCH" in ln]
        assert len(changed) == 1 and b"UID %d" % uids[2] in changed[0], out
        assert b"\\Answered" in changed[0] and b"MODSEQ" in changed[0], out
        out = r.cmd("d", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % highest)
        assert out[0] == b"* VANISHED (EARLIER) %d" % uids[1], out
        # with QRESYNC on, EXPUNGE is VANISHED
        r.cmd("e", "STORE 1 +FLAGS.SILENT (\\Deleted)")
        out = r.cmd("f", "EXPUNGE")
        assert out[0] == b"* VANISHED %d" % uids[0], out
        r.close()


def test_quota():
    with server_with_mail([msg(1), msg(2)]) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        # no quota: no quota root
        out = r.cmd("b", "GETQUOTAROOT INBOX")
        assert out[0] == b"* QUOTAROOT INBOX" and out[-1].startswith(b"b OK"), out
        assert r.cmd("c", 'GETQUOTA ""')[-1].startswith(b"c NO [NONEXISTENT]")
        r.close()
        srv.cli("user", "set", ALICE, "--quota", "1M")
        used = (len(msg(1)) + len(msg(2)) + 1023) // 1024
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        out = r.cmd("b", "GETQUOTAROOT Sent")
        assert out[0] == b'* QUOTAROOT Sent ""', out
        assert out[1] == b'* QUOTA "" (STORAGE %d 1024)' % used, out
        out = r.cmd("c", 'GETQUOTA ""')
        assert out[0] == b'* QUOTA "" (STORAGE %d 1024)' % used, out
        assert r.cmd("d", 'SETQUOTA "" (STORAGE 10)')[-1].startswith(b"d NO [NOPERM]")
        # an APPEND over the hard quota is refused, nothing stored
        big = b"Subject: big\r\n\r\n" + b"x" * (1100 * 1024) + b"\r\n"
        r.send(b"e APPEND INBOX {%d}\r\n" % len(big))
        assert r.line().startswith(b"+")
        r.send(big + b"\r\n")
        assert r.until("e")[-1].startswith(b"e NO [OVERQUOTA]")
        r.close()


def test_binary():
    import base64
    payload = bytes(range(256)) * 4
    mixed = (b"Subject: bin\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=xx\r\n\r\n"
             b"--xx\r\nContent-Type: text/plain; charset=utf-8\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =\r\nau lait\r\n"
             b"--xx\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: base64\r\n\r\n"
             + base64.encodebytes(payload).replace(b"\n", b"\r\n") +
             b"--xx\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
             b"begin 644 x\r\n--xx--\r\n")
    with server_with_mail([mixed]) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        r.cmd("b", "SELECT INBOX")
        r.send("c FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[1])\r\n")
        head = r.f.readline()
        assert head.startswith(b"* 1 FETCH (BINARY.SIZE[2] 1024 BINARY[1] {"), head
        n = int(head.rsplit(b"{", 1)[1].split(b"}")[0])
        assert r.f.read(n) == "Café au lait".encode(), n  # the CRLF before a boundary is the boundary's
        assert r.line() == b")" and r.line().startswith(b"c OK")
        r.send("d FETCH 1 (BINARY.PEEK[2])\r\n")
        head = r.f.readline()
        assert head == b"* 1 FETCH (BINARY[2] ~{1024}\r\n", head  # NUL octets: literal8
        assert r.f.read(1024) == payload
        assert r.line() == b")" and r.line().startswith(b"d OK")
        out = r.cmd("e", "FETCH 1 (BINARY.PEEK[3])")
        assert out[-1].startswith(b"e NO [UNKNOWN-CTE]"), out
        # APPEND takes a literal8
        body = b"Subject: raw\r\n\r\nnul \x00 here\r\n"
        r.send(b"f APPEND Drafts ~{%d}\r\n" % len(body))
        assert r.line().startswith(b"+")
        r.send(body + b"\r\n")
        out = r.until("f")
        assert out[-1].startswith(b"f OK [APPENDUID"), out
        r.close()


def test_hostile_input():
    with server_with_mail([msg(1)]) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        out = r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        assert out[-1].startswith(b"a OK")
        assert r.cmd("b", "SELECT (INBOX")[-1].startswith(b"b BAD")
        assert r.cmd("c", "FROBNICATE")[-1].startswith(b"c BAD")
        # a literal over the limit is refused before it is sent
        r.send("d APPEND INBOX {999999999999}\r\n")
        assert r.line().startswith(b"d NO [TOOBIG]")
        # pipelined commands are answered in order
        r.send("e NOOP\r\nf NOOP\r\ng CAPABILITY\r\n")
        assert r.until("e")[-1].startswith(b"e OK")
        assert r.until("f")[-1].startswith(b"f OK")
        assert r.until("g")[-1].startswith(b"g OK")
        # an IMAP4rev1 name in modified UTF-7 is stored as UTF-8
        assert r.cmd("h", 'CREATE "Entw&APw-rfe"')[-1].startswith(b"h OK")
        out = r.cmd("i", 'LIST "" "Entw*"')
        assert any(b"Entw&APw-rfe" in ln for ln in out), out
        assert r.cmd("j", "ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2"
        out = r.cmd("k", 'LIST "" "Entw*"')
        assert any("Entwürfe".encode() in ln for ln in out), out
        r.close()


def test_pipelining_and_limits():
    with server_with_mail([msg(1)]) as srv:
        r = RawImap(srv.imaps_port, tls=True)
        r.line()
        r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))
        r.cmd("b", "SELECT INBOX")
        # 10,000 pipelined commands: every one answered, in order
        r.send("".join("n%d NOOP\r\n" % i for i in range(10000)))
        for i in range(10000):
            out = r.until("n%d" % i)
            assert out[-1].startswith(b"n%d OK" % i), out
        # lists nested deeper than the parser takes: BAD, and the session goes on
        out = r.cmd("c", "FETCH 1 " + "(" * 100 + "FLAGS" + ")" * 100)
        assert out[-1].startswith(b"c BAD"), out
        # a non-synchronizing literal over the 64 KiB a non-APPEND command may
        # send: refused, its octets read and dropped, the next command works
        big = 100000
        r.send("d SELECT {%d+}\r\n" % big + "x" * big + "\r\n")
        out = r.until("d")
        assert out[-1].startswith(b"d BAD [TOOBIG]"), out
        assert r.cmd("e", "NOOP")[-1].startswith(b"e OK")
        # a quoted string with a NUL, an unknown UID command, a huge tag
        # a NUL is refused the moment it arrives, before the tag is read
        r.send('f SELECT "IN\0BOX"\r\n')
        assert r.line() in (b"* BAD NUL octet in command", b"f BAD NUL octet in command")
        assert r.cmd("g", "UID FROB 1")[-1].startswith(b"g BAD")
        r.send("h" * 100 + " NOOP\r\n")
        assert r.line() == b"* BAD Tag too long"
        assert r.cmd("i", "LOGOUT")[-1].startswith(b"i OK")
        r.close()


if __name__ == "__main__":
    run_tests(globals())

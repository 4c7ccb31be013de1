# SPDX-License-Identifier: MIT
"""SEARCHRES (RFC 5182): SEARCH RETURN (SAVE) keeps the result, "$" names it
in FETCH, STORE, COPY, MOVE, SEARCH, UID EXPUNGE and their UID forms; it is
emptied by SELECT, EXAMINE, CLOSE, UNSELECT and by a failed SEARCH with SAVE,
and loses what is expunged. The RFC's examples are followed where our mailbox
allows (its messages, not the RFC's numbers).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402
from test_imap import ALICE, RawImap  # noqa: E402


def message(n, subject, sender="bob@example.test"):
    return ("From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\n"
            "Date: Mon, 2 Oct 2023 10:11:12 +0200\r\nMessage-ID: <r%d@example.test>\r\n"
            "\r\nbody of message %d\r\n" % (sender, subject, n, n)).encode()


# 1..6: "report" in 1, 3, 4, 6; Smith sent 4
MSGS = [message(1, "report one"), message(2, "lunch"), message(3, "report three"),
        message(4, "report four", "Smith <smith@example.test>"), message(5, "other"),
        message(6, "report six")]


def serve(msgs):
    srv = Server(imap=True)
    srv.add_user(ALICE)
    for m in msgs:
        srv.deliver(ALICE, m)
    return srv.start()


def session(srv, save=None):
    """Logged in, INBOX selected; with save, "SEARCH RETURN (SAVE) save" run."""
    r = RawImap(srv.imaps_port, tls=True)
    r.line()
    assert r.cmd("a", "LOGIN %s %s" % (ALICE, PASSWORD))[-1].startswith(b"a OK")
    ok(r.cmd("b", "SELECT INBOX"))
    if save:
        ok(r.cmd("c", "SEARCH RETURN (SAVE) " + save))
    return r


def logout(r):
    r.cmd("z", "LOGOUT")
    r.close()


def ok(out):
    assert out[-1].split()[1] == b"OK", out
    return out[:-1]


def fetched(out, item=b"UID"):
    """{seq: the value of item} of the untagged FETCH lines."""
    got = {}
    for ln in out:
        m = re.match(rb"\* (\d+) FETCH \(.*\b" + item + rb" (\S+?)[ )]", ln)
        if m:
            got[int(m.group(1))] = m.group(2)
    return got


def test_capability_and_save_fetch_store():
    with serve(MSGS) as srv:
        r = session(srv)
        caps = ok(r.cmd("c", "CAPABILITY"))[0].split()
        assert b"SEARCHRES" in caps, caps
        ok(r.cmd("b", "SELECT INBOX"))
        # RFC 5182 §2.1 example: SAVE alone says nothing untagged
        out = ok(r.cmd("A282", 'SEARCH RETURN (SAVE) SUBJECT report NOT FROM "Smith"'))
        assert out == [], out
        out = ok(r.cmd("A283", "FETCH $ (UID RFC822.SIZE)"))
        assert sorted(fetched(out)) == [1, 3, 6], out
        # STORE and UID STORE on $
        ok(r.cmd("A284", "STORE $ +FLAGS.SILENT (\\Answered)"))
        out = ok(r.cmd("s1", "SEARCH ANSWERED"))
        assert out == [b"* SEARCH 1 3 6"], out
        out = ok(r.cmd("s2", "UID STORE $ -FLAGS (\\Answered)"))
        assert sorted(fetched(out, b"FLAGS")) == [1, 3, 6], out
        # $ in SEARCH, as a key and after UID; SAVE replaces it afterwards
        out = ok(r.cmd("A301", "UID SEARCH UID $ SUBJECT three"))
        assert out == [b"* SEARCH 3"], out
        out = ok(r.cmd("s3", "SEARCH $"))
        assert out == [b"* SEARCH 1 3 6"], out
        out = ok(r.cmd("s4", "SEARCH RETURN (SAVE COUNT) OR $ SUBJECT lunch"))
        assert out == [b'* ESEARCH (TAG "s4") COUNT 4'], out
        out = ok(r.cmd("s5", "UID FETCH $ (FLAGS)"))
        assert sorted(fetched(out, b"UID")) == [1, 2, 3, 6], out
        # MIN and MAX alone save only those (§2.1)
        ok(r.cmd("s6", "SEARCH RETURN (MIN MAX SAVE) SUBJECT report"))
        out = ok(r.cmd("s7", "FETCH $ (UID)"))
        assert sorted(fetched(out)) == [1, 6], out
        ok(r.cmd("s8", "SEARCH RETURN (MIN SAVE) SUBJECT report"))
        assert sorted(fetched(ok(r.cmd("s9", "FETCH $ (UID)")))) == [1]
        # with ALL (or COUNT) beside MIN, all of them
        ok(r.cmd("sa", "SEARCH RETURN (MIN ALL SAVE) SUBJECT report"))
        assert sorted(fetched(ok(r.cmd("sb", "FETCH $ (UID)")))) == [1, 3, 4, 6]
        # nothing matched: $ is empty, FETCH and STORE on it answer OK alone
        ok(r.cmd("sc", "SEARCH RETURN (SAVE) SUBJECT nowhere"))
        assert ok(r.cmd("sd", "FETCH $ (UID)")) == []
        assert ok(r.cmd("se", "STORE $ +FLAGS (\\Flagged)")) == []
        assert ok(r.cmd("sf", "SEARCH FLAGGED")) == [b"* SEARCH"]
        # "$" is only ever alone: with other ranges it is a bad set
        out = r.cmd("sg", "FETCH $,1 (UID)")
        assert out[-1].startswith(b"sg BAD"), out
        # QRESYNC's VANISHED modifier takes $ as its UID set too
        ok(r.cmd("sh", "ENABLE QRESYNC"))
        ok(r.cmd("si", "SEARCH RETURN (SAVE) SUBJECT three"))
        out = ok(r.cmd("sj", "UID FETCH $ (FLAGS) (CHANGEDSINCE 1 VANISHED)"))
        assert sorted(fetched(out, b"UID")) == [3], out
        logout(r)


def test_failed_search_and_reset():
    with serve(MSGS) as srv:
        r = session(srv, "SUBJECT report")
        # RFC 5182 §2.1 example: a SEARCH with SAVE that fails empties $
        out = r.cmd("A290", "SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3:4) TEXT x")
        assert out[-1].startswith(b"A290 NO [BADCHARSET"), out
        assert ok(r.cmd("A291", "FETCH $ (UID)")) == []
        ok(r.cmd("d", "SEARCH RETURN (SAVE) SUBJECT report"))
        out = r.cmd("e", "SEARCH RETURN (SAVE) FROBNICATE")
        assert out[-1].startswith(b"e BAD"), out
        assert ok(r.cmd("f", "FETCH $ (UID)")) == []
        # a failed SEARCH without SAVE leaves it
        ok(r.cmd("g", "SEARCH RETURN (SAVE) SUBJECT report"))
        assert r.cmd("h", "SEARCH FROBNICATE")[-1].startswith(b"h BAD")
        assert sorted(fetched(ok(r.cmd("i", "FETCH $ (UID)")))) == [1, 3, 4, 6]
        # SELECT, EXAMINE, UNSELECT, CLOSE each empty it
        for tag, cmd in (("j", "SELECT INBOX"), ("k", "EXAMINE INBOX"), ("l", "UNSELECT"),
                         ("m", "CLOSE")):
            ok(r.cmd(tag + "1", "SELECT INBOX"))
            ok(r.cmd(tag + "2", "SEARCH RETURN (SAVE) ALL"))
            ok(r.cmd(tag + "3", cmd))
            if cmd.startswith(("UNSELECT", "CLOSE")):
                ok(r.cmd(tag + "4", "SELECT INBOX"))
            assert ok(r.cmd(tag + "5", "FETCH $ (UID)")) == [], cmd
        # SAVE outside a selected folder: no SEARCH there at all
        ok(r.cmd("n", "UNSELECT"))
        assert r.cmd("o", "FETCH $ (UID)")[-1].startswith(b"o BAD")
        logout(r)


def test_copy_move_expunge():
    with serve(MSGS) as srv:
        r = session(srv, "SUBJECT report")
        out = ok(r.cmd("A285", "COPY $ Archive"))
        out = r.cmd("d", "STATUS Archive (MESSAGES)")
        assert b"MESSAGES 4" in out[0], out
        # an expunge takes its messages out of $
        ok(r.cmd("e", "STORE 3 +FLAGS.SILENT (\\Deleted)"))
        out = ok(r.cmd("f", "EXPUNGE"))
        assert out == [b"* 3 EXPUNGE"], out
        out = ok(r.cmd("g", "UID FETCH $ (UID)"))
        assert sorted(int(v) for v in fetched(out).values()) == [1, 4, 6], out
        # UID EXPUNGE $ removes only what is \Deleted among them
        # (UIDs 1 2 4 5 6 are left; 6 is not \Deleted)
        ok(r.cmd("h", "STORE 1:4 +FLAGS.SILENT (\\Deleted)"))
        out = ok(r.cmd("i", "UID EXPUNGE $"))
        assert out == [b"* 1 EXPUNGE", b"* 2 EXPUNGE"], out
        out = ok(r.cmd("j", "UID FETCH $ (UID)"))
        assert sorted(int(v) for v in fetched(out).values()) == [6], out
        # MOVE $ to Trash: the rest leave the folder
        out = ok(r.cmd("k", "MOVE $ Trash"))
        assert any(ln.endswith(b"EXPUNGE") for ln in out), out
        assert ok(r.cmd("l", "FETCH $ (UID)")) == []
        out = ok(r.cmd("m", "UID SEARCH ALL"))
        assert out == [b"* SEARCH 2 5"], out
        logout(r)


def test_body_search_after_fetch_caches_the_tree():
    """BODY finds the same before and after FETCH BODYSTRUCTURE cached the
    message's MIME tree (the search reads the cache then)."""
    mp = (b"From: bob@example.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary*0=\"ab\"; boundary*1=\"cd\"\r\n\r\n"
          b"preamble secret\r\n--abcd\r\nContent-Type: text/plain\r\n"
          b"Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak and =3D\r\n"
          b"--abcd\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: base64\r\n\r\naGlkZGVu\r\n--abcd--\r\n")
    with serve([mp]) as srv:
        r = session(srv)
        for round_ in range(2):
            assert ok(r.cmd("c", 'SEARCH BODY "softbreak and ="')) == [b"* SEARCH 1"], round_
            for word in ("secret", "aGlkZGVu", "hidden", "abcd", "quoted-printable"):
                assert ok(r.cmd("d", "SEARCH BODY " + word)) == [b"* SEARCH"], (word, round_)
            assert ok(r.cmd("e", "SEARCH TEXT quoted-printable")) == [b"* SEARCH"], round_
            assert ok(r.cmd("f", "SEARCH TEXT boundary")) == [b"* SEARCH 1"], round_
            ok(r.cmd("g", "FETCH 1 (BODYSTRUCTURE)"))
        logout(r)


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""The MIME structure cache (docs/imap.md, "The cached structure"): a
message's tree is made when it is stored (SMTP, `mailroom deliver`, import,
APPEND), before any FETCH; a body whose cache is missing (stored by a
version before the cache) or unreadable (another format, damage) still
gets its ENVELOPE and BODYSTRUCTURE, parsed again from the message, and its
cache is written anew. The store's tables are read and changed behind the
server's back (Server.db_query and db_exec, SQLite or PostgreSQL) while it
runs.
"""
import os
import smtplib
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, run_tests  # noqa: E402

USER = "alice@example.test"
MULTI = (b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
         b"Subject: parts\r\nMessage-ID: <parts@example.test>\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
         b"--b1\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n")


def plain(n):
    return ("From: carol@example.test\r\nTo: alice@example.test\r\nSubject: plain %d\r\n"
            "Message-ID: <p%d@example.test>\r\n\r\nbody %d\r\n" % (n, n, n)).encode()


def mime_column(srv):
    return [r[0] for r in srv.db_query(
        "SELECT b.mime FROM messages m JOIN bodies b ON b.id = m.body_id "
        "ORDER BY m.uid", blob=True)]


def fetch_struct(srv):
    c = srv.imaplib_ssl(USER)
    c.select("INBOX", readonly=True)
    typ, data = c.fetch("1:*", "(ENVELOPE BODYSTRUCTURE)")
    c.logout()
    assert typ == "OK", data
    return [d for d in data if d != b")"]


def test_made_at_delivery_and_remade_when_unreadable():
    with Server(imap=True, smtp=True) as srv:
        srv.add_user(USER)
        srv.deliver(USER, MULTI)  # mailroom deliver
        srv.start()
        with smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=20) as s:
            s.sendmail("carol@example.test", [USER], plain(1))
        c = srv.imaplib_ssl(USER)
        typ, _ = c.append("INBOX", None, None, plain(2))
        assert typ == "OK"
        c.logout()
        # no FETCH yet: every body already has its structure
        cached = mime_column(srv)
        assert len(cached) == 3 and all(m is not None and len(m) > 16 for m in cached), cached
        want = fetch_struct(srv)
        assert len(want) == 3 and b'"pdf"' in want[0].lower(), want
        # damaged (not this version's format) and missing (an older store)
        srv.db_exec("UPDATE bodies SET mime = ? WHERE id = "
                    "(SELECT body_id FROM messages ORDER BY uid LIMIT 1)",
                    (bytes.fromhex("0011223344556677"),))
        srv.db_exec("UPDATE bodies SET mime = NULL WHERE id = "
                    "(SELECT body_id FROM messages ORDER BY uid LIMIT 1 OFFSET 1)")
        assert fetch_struct(srv) == want
        again = mime_column(srv)
        assert again == cached, "the cache was not written anew"
        srv.wait_log(r"cached structure of body \d+ unreadable")


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""neomutt against `mailroom serve`: an IMAP session over STARTTLS that copies,
moves (save-message), deletes and flags messages and syncs; a POP3 session
over implicit TLS that deletes one; and mail sent in batch mode through
submission (STARTTLS, and implicit TLS). The server's state is then checked
over IMAP and POP3 with Python's own clients.

neomutt needs a terminal for its mailbox sessions: it runs under a
pseudo-terminal with the keys given by `push` in its muttrc, ending in
<quit>; the read loop and the whole run are bounded, and a session that does
not end in time fails the test with the screen text. Sending with `-s` needs
no terminal."""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
BOB = "bob@example.test"
ALICE_URL = "alice%40example.test"


def need_neomutt():
    if shutil.which("neomutt") is None:
        print("neomutt is not installed (scripts/deps.sh test)")
        sys.exit(77)


def msg(n, subject):
    return ("From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: %s\r\n"
            "Date: Tue, 01 Dec 2026 10:%02d:00 +0000\r\nMessage-ID: <m%d@example.test>\r\n"
            "\r\nBody of message %d.\r\n" % (subject, n, n, n)).encode()


SUBJECTS = ("copy me", "move me", "delete me", "flag me", "leave me")


def server(smtp=False):
    srv = Server(imap=True, smtp=smtp)
    srv.add_user(ALICE)
    srv.add_user(BOB)
    for n, subject in enumerate(SUBJECTS, 1):
        srv.deliver(ALICE, msg(n, subject))
    return srv.start()


def muttrc(srv, home, extra):
    """A muttrc that trusts the server's self-signed certificate (the
    certificate names mail.example.test, not 127.0.0.1: no host check) and
    asks nothing neomutt could wait on."""
    path = os.path.join(home, "muttrc")
    with open(path, "w") as f:
        f.write('set certificate_file = "%s"\n' % os.path.join(srv.dir, "data", "tls", "cert.pem"))
        f.write("set ssl_force_tls = yes\nset ssl_starttls = yes\nset ssl_verify_host = no\n"
                'set tmpdir = "%s"\nset header_cache = ""\nset message_cachedir = ""\n'
                'set record = ""\nset confirmappend = no\nset confirmcreate = no\n'
                "set delete = yes\nset quit = yes\nset move = no\nset mark_old = no\n"
                "set wait_key = no\nset sort = date\nset imap_passive = yes\n"
                'set from = "alice@example.test"\nset realname = "Alice"\n' % home)
        f.write(extra)
    return path


def home_dir(srv):
    home = os.path.join(srv.dir, "home")
    # neomutt asks to create ~/Mail ($folder) when a session opens without it
    os.makedirs(os.path.join(home, "Mail"), exist_ok=True)
    return home


def screen_text(raw):
    return re.sub(r"\x1b[\[(=>][0-9;?]*[A-Za-z]?", " ", raw.decode(errors="replace"))


def run_tty(args, home, timeout=30):
    """Runs args under a pseudo-terminal until it exits, reading all it
    writes; kills it after timeout s. Returns (exit code or None, screen)."""
    env = dict(os.environ, HOME=home, TERM="xterm", LC_ALL="C.UTF-8")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvpe(args[0], args, env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
    out = b""
    code = None
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's other end is closed
                    chunk = b""
                out += chunk
                if chunk:
                    continue
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                pid = None
                break
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return code, screen_text(out)


def folder_state(srv, folder):
    """{subject: sorted flags} of a folder, over IMAP."""
    c = srv.imaplib_stls(ALICE)
    typ, data = c.select(folder, readonly=True)
    assert typ == "OK", data
    out = {}
    if int(data[0]) > 0:
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
            subject = item[1].decode().split(":", 1)[1].strip()
            assert subject not in out, (folder, subject)
            out[subject] = sorted(flags)
    c.logout()
    return out


def test_imap_copy_save_delete_flag():
    need_neomutt()
    with server() as srv:
        home = home_dir(srv)
        # one push: keys pushed later would be read first
        keys = ("<tag-pattern>~s 'copy me'<enter><tag-prefix><copy-message>=Archive<enter>"
                "<untag-pattern>~A<enter>"
                "<tag-pattern>~s 'move me'<enter><tag-prefix><save-message>=Archive<enter>"
                "<untag-pattern>~A<enter>"
                "<delete-pattern>~s 'delete me'<enter>"
                "<tag-pattern>~s 'flag me'<enter><tag-prefix><flag-message>"
                "<untag-pattern>~A<enter>"
                "<sync-mailbox><quit>")
        rc = muttrc(srv, home,
                    'set imap_user = "%s"\nset imap_pass = "%s"\n'
                    'set folder = "imap://127.0.0.1:%d/"\nset spoolfile = "+INBOX"\n'
                    'set postponed = "+Drafts"\npush "%s"\n'
                    % (ALICE, PASSWORD, srv.imap_port, keys))
        code, screen = run_tty(["neomutt", "-n", "-F", rc], home)
        assert code == 0, (code, screen[-3000:])
        inbox = folder_state(srv, "INBOX")
        assert inbox == {"copy me": [], "flag me": ["\\Flagged"], "leave me": []}, (
            inbox, screen[-3000:])
        archive = folder_state(srv, "Archive")
        assert archive == {"copy me": [], "move me": []}, archive
        # POP3 serves the same INBOX
        pop = srv.poplib_stls(ALICE)
        assert pop.stat()[0] == 3
        pop.quit()


# What neomutt 20220429 asks for when it opens a folder: the label the reply
# repeats ("BODY[HEADER.FIELDS (DATE ... X-ORIGINAL-TO)]") is longer than
# mailroom's FETCH once allowed (160 octets), and the FETCH got BAD.
NEOMUTT_FIELDS = ("DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE "
                  "CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST LIST-SUBSCRIBE "
                  "LIST-UNSUBSCRIBE X-LABEL X-ORIGINAL-TO")


def test_imap_header_fields_long_label():
    with server() as srv:
        c = srv.imaplib_stls(ALICE)
        c.select("INBOX")
        many = " ".join("X-FIELD-%03d" % i for i in range(300))
        for fields in (NEOMUTT_FIELDS, many + " SUBJECT"):
            typ, data = c.fetch("1:2", "(UID FLAGS INTERNALDATE RFC822.SIZE "
                                "BODY.PEEK[HEADER.FIELDS (%s)])" % fields)
            assert typ == "OK", data
            assert data[0][0].endswith(b"BODY[HEADER.FIELDS (%s)] {%d}" % (
                fields.encode(), len(data[0][1]))), data[0][0][-200:]
            assert b"Subject: copy me\r\n" in data[0][1], data
        c.logout()


def test_pop3_delete():
    need_neomutt()
    with server() as srv:
        home = home_dir(srv)
        rc = muttrc(srv, home,
                    'set pop_pass = "%s"\nset pop_last = no\n'
                    "push \"<delete-pattern>~s 'delete me'<enter><sync-mailbox><quit>\"\n"
                    % PASSWORD)
        url = "pops://%s@127.0.0.1:%d/" % (ALICE_URL, srv.pop3s_port)
        code, screen = run_tty(["neomutt", "-n", "-F", rc, "-f", url], home)
        assert code == 0, (code, screen[-3000:])
        left = [m.split(b"\r\n\r\n")[0] for m in srv.messages(ALICE)]
        subjects = sorted(re.search(rb"Subject: ([^\r]*)", h).group(1).decode() for h in left)
        assert subjects == sorted(set(SUBJECTS) - {"delete me"}), (subjects, screen[-3000:])
        assert "delete me" not in folder_state(srv, "INBOX")


def test_submission_batch():
    need_neomutt()
    with server(smtp=True) as srv:
        home = home_dir(srv)
        for scheme, port in (("smtp", srv.submission_port), ("smtps", srv.submissions_port)):
            rc = muttrc(srv, home, 'set smtp_url = "%s://%s@127.0.0.1:%d/"\n'
                        'set smtp_pass = "%s"\n' % (scheme, ALICE_URL, port, PASSWORD))
            p = subprocess.run(["neomutt", "-n", "-F", rc, "-s", "sent over " + scheme, BOB],
                               input=b"Hello Bob, from neomutt.\n", stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60,
                               env=dict(os.environ, HOME=home))
            assert p.returncode == 0, (scheme, p.returncode, p.stdout, p.stderr)
        # local delivery is done before the submission's 250, but wait a little
        deadline = time.monotonic() + 10
        while True:
            got = srv.messages(BOB)
            if len(got) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(got) == 2, got
        for m, scheme in zip(got, ("smtp", "smtps")):
            head, body = m.split(b"\r\n\r\n", 1)
            assert b"Subject: sent over %s\r\n" % scheme.encode() in head, head
            assert b"From: Alice <alice@example.test>" in head, head
            assert b"(authenticated as alice@example.test)" in head, head
            assert body == b"Hello Bob, from neomutt.\r\n", body
        log = srv.log_text()
        assert re.search(r"submission login user=alice@example.test .*result=ok", log), log
        assert re.search(r"submissions login user=alice@example.test .*result=ok", log), log


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""`mailroom import pop3`: a mailbox pulled over the wire from a live POP3
server with each message's UIDL kept, so that a client that leaves mail on
the server ("keep") fetches nothing twice after the switch.

The old server is a private Dovecot (dovecot-pop3d) on loopback with its
own config folder (tests/proto/dovecot.py's, with TLS: a self-signed
certificate made by openssl req), passwd-file users and Maildir, or another mailroom. The messages include
lines that start with '.', 8-bit octets and one of about 2 MiB; every one
must arrive byte for byte. mpop, having fetched once from the old server
with --keep, must find nothing new on mailroom with the same uidls file.
Failures: a wrong password, an unverifiable certificate, and a plain
server without STLS, which must never see the password."""
import os
import poplib
import re
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, free_port, run_tests, tls_client_context  # noqa: E402
from test_import import Dovecot as PlainDovecot, count_mbox, mpop_conf  # noqa: E402
from test_import import mpop as run_mpop  # noqa: E402

ALICE = "alice@example.test"
ALICE_URL = "alice%40example.test"  # the user, percent-encoded (RFC 3986 §2.1)


def old_messages():
    """What the old server holds, as its LDA stores it (LF line ends)."""
    big = b"".join(b"line %07d of a big one, padded out to a good length ....\n" % i
                   for i in range(36000))  # ~2 MiB
    return [
        b"From: bob@example.test\nTo: alice@example.test\nSubject: plain\n"
        b"Message-ID: <m1@example.test>\nReceived: by old.example.test; "
        b"Tue, 1 Dec 2026 10:00:00 +0000\n\nHello.\n",
        b"From: bob@example.test\nSubject: dots\n\n.\n..\n.hidden\n...three\nend.\n",
        b"From: bob@example.test\nSubject: =?UTF-8?Q?caf=C3=A9?=\n"
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        b"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xff\xfe raw octets\n",
        b"From: bob@example.test\nSubject: big\n\n" + big,
    ]


def wire(m):
    return m.replace(b"\n", b"\r\n")


class Dovecot(PlainDovecot):
    """test_import.py's private Dovecot with TLS: STLS on its pop3 port, a
    pop3s port, a self-signed certificate for 127.0.0.1 and localhost."""

    def __init__(self):
        super().__init__(tls=True)

    def put_all(self, messages):
        """Messages into Maildir/new, as an LDA leaves them."""
        for i, m in enumerate(messages):
            with open(os.path.join(self.maildir, "new", "%d.M%dP1.old.example.test"
                                   % (1700000000 + i, i)), "wb") as f:
                f.write(m)
        self.own()


def pop3_all(port, user, password):
    """(UIDL list, messages in wire form) of a mailbox over pop3s (poplib)."""
    c = poplib.POP3_SSL("127.0.0.1", port, timeout=30, context=tls_client_context())
    c.user(user)
    c.pass_(password)
    uidls = [line.split(b" ", 1)[1] for line in c.uidl()[1]]
    bodies = [b"\r\n".join(c.retr(i + 1)[1]) + b"\r\n" for i in range(len(uidls))]
    c.quit()
    return uidls, bodies


def mpop(home, port):
    """mpop (keep on, only new) over pop3s with the uidls file in home: how
    many messages its mbox holds."""
    run_mpop(mpop_conf(home, port, True))
    return count_mbox(os.path.join(home, "mbox"))


def do_import(srv, url, password, *opts, check=True):
    return srv.cli("import", "pop3", url, ALICE, "--password-stdin", *opts,
                   stdin=(password + "\n").encode(), check=check)


def target():
    srv = Server()
    srv.add_user(ALICE)
    return srv


def test_from_dovecot():
    with Dovecot() as dc, target() as srv:
        dc.put_all(old_messages())
        dc.start()
        old_uidls, old_bodies = pop3_all(dc.pop3s_port, ALICE, PASSWORD)
        assert old_bodies == [wire(m) for m in old_messages()], "dovecot serves other octets"
        home = os.path.join(srv.dir, "mpop")
        os.mkdir(home)
        assert mpop(home, dc.pop3s_port) == 4  # fetched once, left there

        url = "pop3s://%s@127.0.0.1:%d" % (ALICE_URL, dc.pop3s_port)
        p = do_import(srv, url, PASSWORD, "--insecure")
        assert "insecure" in p.stderr.decode(), p.stderr  # the warning
        srv.start()
        uidls, bodies = pop3_all(srv.pop3s_port, ALICE, PASSWORD)
        assert uidls == old_uidls, (uidls, old_uidls)
        for i, (a, b) in enumerate(zip(bodies, old_bodies)):
            assert a == b, "message %d differs (%d vs %d octets)" % (i + 1, len(a), len(b))
        assert len(bodies) == 4
        # the same uidls file against mailroom: nothing new to fetch
        assert mpop(home, srv.pop3s_port) == 4

        # again: nothing added, nothing doubled
        p = do_import(srv, url, PASSWORD, "--insecure")
        out = p.stdout.decode() + p.stderr.decode()
        m = re.search(r"added (\d+)", out)
        assert m is not None and m.group(1) == "0", out
        assert "4 already there" in out, out
        # what the mailbox holds is not even downloaded: the last session of
        # the old server retrieved nothing
        with open(os.path.join(dc.dir, "dovecot.log")) as f:
            logouts = [ln for ln in f if "retr=" in ln]
        assert logouts and "retr=0/0" in logouts[-1], logouts[-1:]
        assert pop3_all(srv.pop3s_port, ALICE, PASSWORD)[0] == old_uidls
        # the old server kept every message (QUIT, no DELE)
        assert pop3_all(dc.pop3s_port, ALICE, PASSWORD)[0] == old_uidls

        # STLS on the plain port, the certificate verified with --ca-file
        # (its SAN names 127.0.0.1): the same mailbox, nothing added
        stls = "pop3://%s@127.0.0.1:%d" % (ALICE_URL, dc.pop3_port)
        p = do_import(srv, stls, PASSWORD, "--ca-file", dc.cert)
        assert "insecure" not in p.stderr.decode(), p.stderr
        assert pop3_all(srv.pop3s_port, ALICE, PASSWORD)[0] == old_uidls

        # a self-signed certificate the system does not know: refused
        p = do_import(srv, url, PASSWORD, check=False)
        err = p.stderr.decode()
        assert p.returncode != 0 and "certificate" in err, (p.returncode, err)
        # a wrong password: a clear error, non-zero exit
        p = do_import(srv, url, "wrong-pw", "--insecure", check=False)
        err = p.stderr.decode()
        assert p.returncode != 0 and "login" in err and "failed" in err, (p.returncode, err)
        assert "wrong-pw" not in err
        # nothing listens there
        p = do_import(srv, "pop3s://a@127.0.0.1:%d" % free_port(), "x", "--insecure",
                      check=False)
        assert p.returncode != 0 and "connect" in p.stderr.decode(), p.stderr
        assert len(pop3_all(srv.pop3s_port, ALICE, PASSWORD)[1]) == 4


class PlainPop3:
    """A POP3 server without STLS that records every octet it is sent."""

    def __init__(self, uidl=True):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.port = self.sock.getsockname()[1]
        self.got = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            c, _ = self.sock.accept()
        except OSError:
            return
        c.settimeout(20)
        c.sendall(b"+OK POP3 ready\r\n")
        for _ in range(20):
            data = c.recv(4096)
            if not data:
                break
            self.got += data
            if data.upper().startswith(b"CAPA"):
                c.sendall(b"+OK\r\nUSER\r\nUIDL\r\nSASL PLAIN\r\n.\r\n")
            elif data.upper().startswith(b"QUIT"):
                c.sendall(b"+OK bye\r\n")
                break
            else:
                c.sendall(b"+OK\r\n")
        c.close()

    def close(self):
        self.thread.join(timeout=30)
        self.sock.close()


def test_plain_server_never_gets_the_password():
    with target() as srv:
        plain = PlainPop3()
        p = do_import(srv, "pop3://%s@127.0.0.1:%d" % (ALICE_URL, plain.port),
                      "never-sent-pw", check=False)
        plain.close()
        err = p.stderr.decode()
        assert p.returncode != 0 and "STLS" in err, (p.returncode, err)
        assert b"never-sent-pw" not in plain.got and b"alice" not in plain.got, plain.got
        assert b"USER" not in plain.got and b"AUTH" not in plain.got, plain.got
        # a password in the URL is refused before anything is sent
        p = do_import(srv, "pop3s://alice:pw@127.0.0.1:1", "x", check=False)
        assert p.returncode != 0 and "password" in p.stderr.decode(), p.stderr


def test_from_mailroom():
    """mailroom -> mailroom: the old one serves pop3s and STLS."""
    msgs = [wire(m) for m in old_messages()]
    with target() as old, target() as new:
        for m in msgs:
            old.deliver(ALICE, m)
        old.start()
        old_uidls, old_bodies = pop3_all(old.pop3s_port, ALICE, PASSWORD)
        p = do_import(new, "pop3s://%s@127.0.0.1:%d" % (ALICE_URL, old.pop3s_port), PASSWORD,
                      "--insecure")
        new.start()
        uidls, bodies = pop3_all(new.pop3s_port, ALICE, PASSWORD)
        assert uidls == old_uidls and bodies == old_bodies == msgs, (uidls, old_uidls)
        # over STLS: present already, nothing added
        do_import(new, "pop3://%s@127.0.0.1:%d" % (ALICE_URL, old.pop3_port), PASSWORD,
                  "--insecure")
        assert pop3_all(new.pop3s_port, ALICE, PASSWORD)[0] == old_uidls
        assert pop3_all(old.pop3s_port, ALICE, PASSWORD)[0] == old_uidls  # kept there


if __name__ == "__main__":
    missing = [c for c in ("dovecot", "mpop", "openssl") if shutil.which(c) is None]
    if missing or not os.path.exists("/usr/lib/dovecot/pop3"):
        print("skip: needs dovecot-core, dovecot-pop3d, mpop, openssl: %s" % missing)
        sys.exit(77)
    run_tests(globals())

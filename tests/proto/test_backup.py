#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_backup.py - `mailroom backup`, `verify` and `restore` with real clients.

smtplib writers and poplib deleters (RETR + DELE + QUIT) run in threads while
`mailroom backup` copies the store. The copy is restored into a fresh data dir
and served: poplib must see a point-in-time state of each mailbox: every
message acknowledged before the backup started and not deleted before it
ended is there, none deleted before it started or sent after it ended is,
every message is whole, and each has the UIDL and the octets the live server
gave it. `verify` passes on the backup and fails (65) once a body in it is
damaged or a file is gone; `restore` refuses a data dir that holds a store
(in use by serve, or not) and a bad backup.
"""
import glob
import json
import os
import pwd
import shutil
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TEST_USER, Server, run_tests  # noqa: E402

USERS = ["u%d@example.test" % i for i in range(3)]
PAD = ("x" * 70 + "\r\n") * 40  # about 3 KB per message


def message(token):
    return ("From: w@remote.test\r\nSubject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\n"
            "BEGIN %s\r\n%sEND %s\r\n" % (token, token, token, PAD, token)).encode()


def token_of(data):
    for line in data.split(b"\r\n"):
        if line.startswith(b"Subject: "):
            return line[9:].decode()
    return None


def whole(data, token):
    return (b"\r\n\r\nBEGIN %s\r\n" % token.encode() in data
            and data.endswith(("%sEND %s\r\n" % (PAD, token)).encode()))


def owned_dir(parent, name):
    """A folder the CLI can write into: as root it works as [server] user."""
    path = os.path.join(parent, name)
    os.mkdir(path, 0o700)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(TEST_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def copy_backup(src, dst):
    """A copy of a backup folder, owned as the CLI that reads it runs."""
    shutil.copytree(src, dst)
    if os.geteuid() == 0:
        pw = pwd.getpwnam(TEST_USER)
        for path in [dst] + glob.glob(os.path.join(dst, "*")):
            os.chown(path, pw.pw_uid, pw.pw_gid)


def empty_data_dir(srv):
    """The store files of a server's data dir removed (its TLS files stay)."""
    data = os.path.join(srv.dir, "data")
    for f in glob.glob(os.path.join(data, "mailroom.db*")) + [os.path.join(data, "srs.key")]:
        if os.path.exists(f):
            os.unlink(f)
    return data


def listing(srv, user):
    """{token: (uidl, bytes)} of a mailbox over POP3."""
    c = srv.poplib_stls(user)
    out = {}
    uidls = {int(n): u.decode() for n, u in
             (ln.split() for ln in c.uidl()[1])}
    for n in sorted(uidls):
        data = b"\r\n".join(c.retr(n)[1]) + b"\r\n"
        out[token_of(data)] = (uidls[n], data)
    c.quit()
    return out


class Load:
    """Writers and deleters until stop(); each event with its monotonic time."""

    def __init__(self, srv):
        self.srv = srv
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}    # token -> (user, time sendmail returned, time it began)
        self.deleted = {}  # token -> (user, uidl, bytes, time QUIT began, time it returned)
        self.errors = []
        self.threads = [threading.Thread(target=self.writer, args=(w,)) for w in range(2)]
        self.threads += [threading.Thread(target=self.deleter, args=(u,)) for u in USERS[:2]]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "load threads did not stop"
        assert not self.errors, self.errors

    def writer(self, w):
        try:
            s = self.srv.smtp()
            for i in range(100000):
                if self.halt.is_set():
                    break
                user = USERS[i % len(USERS)]
                token = "w%d-%d" % (w, i)
                t0 = time.monotonic()
                s.sendmail("w@remote.test", [user], message(token))
                with self.lock:
                    self.acked[token] = (user, time.monotonic(), t0)
            s.quit()
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.errors.append("writer %d: %r" % (w, e))

    def deleter(self, user):
        try:
            for _ in range(100000):
                if self.halt.is_set():
                    break
                c = self.srv.poplib_stls(user)
                if c.stat()[0] == 0:
                    c.quit()
                    time.sleep(0.02)
                    continue
                uidl = c.uidl(1).split()[2].decode()
                data = b"\r\n".join(c.retr(1)[1]) + b"\r\n"
                c.dele(1)
                t0 = time.monotonic()
                c.quit()
                with self.lock:
                    self.deleted[token_of(data)] = (user, uidl, data, t0, time.monotonic())
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.errors.append("deleter %s: %r" % (user, e))


def test_backup_under_load_restores_a_point_in_time():
    with Server(smtp=True) as srv:
        for u in USERS:
            srv.add_user(u)
        srv.start()
        with srv.smtp() as s:  # a store worth copying before the load starts
            for i in range(300):
                s.sendmail("w@remote.test", [USERS[i % 3]], message("pre-%d" % i))
        pre = {"pre-%d" % i: USERS[i % 3] for i in range(300)}
        load = Load(srv)
        load.start()
        deadline = time.monotonic() + 20
        while len(load.acked) < 50 or len(load.deleted) < 10:
            assert time.monotonic() < deadline, "no load: %s" % load.errors
            time.sleep(0.05)
        bk = os.path.join(owned_dir(srv.dir, "backups"), "b1")
        t_start = time.monotonic()
        p = srv.cli("backup", bk)
        t_end = time.monotonic()
        out = p.stdout.decode()
        assert "copied: mailroom.db, srs.key, MANIFEST" in out, out
        assert " s\n" in out and "messages" in out, out
        # the live store checks clean in the middle of the load: one read
        # transaction sees one committed state
        v = json.loads(srv.cli("verify", "--json").stdout)
        assert v["ok"] and v["problems"] == [], v
        time.sleep(0.3)  # more load after the snapshot
        load.stop()
        assert srv.cli("backup", bk, check=False).returncode == 73  # DIR exists

        live = {u: listing(srv, u) for u in USERS}
        v = json.loads(srv.cli("verify", bk, "--json").stdout)
        assert v["ok"] and v["backup"], v
        # in use by serve: refused and said so
        p = srv.cli("restore", bk, check=False)
        assert p.returncode == 75 and b"in use by process" in p.stderr, p.stderr
        srv.stop()
        p = srv.cli("restore", bk, check=False)
        assert p.returncode == 73 and b"already holds a store" in p.stderr, p.stderr

        with Server() as fresh:
            empty_data_dir(fresh)
            p = fresh.cli("restore", bk)
            assert b"restored:" in p.stdout, p.stdout
            if os.geteuid() == 0:
                uid = pwd.getpwnam(TEST_USER).pw_uid
                for f in glob.glob(os.path.join(fresh.dir, "data", "*")):
                    assert os.stat(f).st_uid == uid, f
            fresh.cli("verify")
            fresh.start()
            # every known version of a message: the live server's listing
            # at the end, or what a deleter retrieved before deleting it
            known = {}
            for u in USERS:
                for tok, (uidl, data) in live[u].items():
                    known[tok] = (u, uidl, data)
            for tok, (u, uidl, data, _, _) in load.deleted.items():
                known[tok] = (u, uidl, data)
            restored = {u: listing(fresh, u) for u in USERS}
            fresh.stop()
        for u in USERS:
            for tok, (uidl, data) in restored[u].items():
                assert tok in known, "restored %s has unknown message %s" % (u, tok)
                ku, kuidl, kdata = known[tok]
                assert ku == u and kuidl == uidl, (tok, u, uidl, known[tok][:2])
                assert kdata == data, "message %s differs from the live one" % tok
                assert whole(data, tok), "half message %s" % tok
                if tok in load.acked:
                    assert load.acked[tok][2] < t_end, "%s sent after the backup" % tok
                if tok in load.deleted:  # deleted after the snapshot
                    assert load.deleted[tok][4] > t_start, "%s deleted before" % tok
        # no hole: below a mailbox's highest restored UID every message the
        # live server ever showed is restored, unless a deleter removed it
        # before the backup ended (UIDLs are 8 hex digits of mailbox id,
        # then 8 of the UID)
        for u in USERS:
            top = max(int(uidl[8:], 16) for uidl, _ in restored[u].values())
            for tok, (ku, kuidl, _) in known.items():
                if ku != u or int(kuidl[8:], 16) > top or tok in restored[u]:
                    continue
                d = load.deleted.get(tok)
                assert d is not None and d[3] < t_end, "%s: hole at %s" % (u, kuidl)
        got = {tok for u in USERS for tok in restored[u]}
        acked_before = {t for t, (_, at, _) in load.acked.items() if at < t_start}
        acked_before |= set(pre)
        for tok in acked_before:
            d = load.deleted.get(tok)
            if d is None or d[3] > t_end:
                assert tok in got, "%s was acknowledged before the backup, not in it" % tok
        assert len(got) > 100, len(got)
        print("restored %d messages; %d sent and %d deleted during the test, backup %.2f s"
              % (len(got), len(load.acked), len(load.deleted), t_end - t_start))


def test_verify_leaves_a_backup_of_an_older_schema_as_it_is():
    """A backup an older mailroom made is checked by its files; its data is
    not migrated, nothing in the folder changes (restore upgrades a copy)."""
    import hashlib
    with Server() as srv:
        bk = owned_dir(srv.dir, "old")
        fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures",
                               "stores", "v7", "mailroom.db")
        shutil.copyfile(fixture, os.path.join(bk, "mailroom.db"))
        digest = hashlib.sha256(open(os.path.join(bk, "mailroom.db"), "rb").read()).hexdigest()
        with open(os.path.join(bk, "MANIFEST"), "w") as f:
            f.write("mailroom-backup 1\nschema 7\ntaken 1764547200 2025-12-01T00:00:00Z\n"
                    "mailboxes 0\nmessages 0\nbodies 0\noctets 0\nqueued 0\n"
                    "sha256 %s mailroom.db\n" % digest)
        copy_backup(bk, os.path.join(srv.dir, "old2"))
        bk = os.path.join(srv.dir, "old2")
        before = sorted(os.listdir(bk))
        p = srv.cli("verify", bk, check=False)
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert b"schema version 7" in p.stderr, p.stderr
        assert sorted(os.listdir(bk)) == before, os.listdir(bk)  # no -wal, no backups/
        after = hashlib.sha256(open(os.path.join(bk, "mailroom.db"), "rb").read()).hexdigest()
        assert after == digest


def test_verify_damage_and_restore_refusals():
    with Server(smtp=True) as srv:
        srv.add_user(USERS[0])
        srv.start()
        with srv.smtp() as s:
            for i in range(20):
                s.sendmail("w@remote.test", [USERS[0]], message("m-%d" % i))
        backups = owned_dir(srv.dir, "backups")
        good = os.path.join(backups, "good")
        srv.cli("backup", good)
        srv.stop()
        for name in ("body", "file", "extra"):
            copy_backup(good, os.path.join(backups, name))
        # a body's octets flipped in place in the database file
        db = os.path.join(backups, "body", "mailroom.db")
        with open(db, "r+b") as f:
            data = f.read()
            at = data.index(b"BEGIN m-7")
            f.seek(at)
            f.write(bytes(b ^ 0xff for b in data[at:at + 8]))
        p = srv.cli("verify", os.path.join(backups, "body"), check=False)
        assert p.returncode == 65, p
        assert b"mailroom.db has changed since the backup" in p.stderr, p.stderr
        v = json.loads(srv.cli("verify", "--json", os.path.join(backups, "body"),
                               check=False).stdout)
        assert not v["ok"] and len(v["problems"]) >= 1, v
        # a file gone
        os.unlink(os.path.join(backups, "file", "srs.key"))
        p = srv.cli("verify", os.path.join(backups, "file"), check=False)
        assert p.returncode == 65 and b"srs.key is listed in the MANIFEST" in p.stderr, p
        os.unlink(os.path.join(backups, "file", "mailroom.db"))
        p = srv.cli("verify", os.path.join(backups, "file"), check=False)
        assert p.returncode == 65 and b"cannot be opened" in p.stderr, p.stderr
        # a file added
        with open(os.path.join(backups, "extra", "notes.txt"), "w") as f:
            f.write("x")
        p = srv.cli("verify", os.path.join(backups, "extra"), check=False)
        assert p.returncode == 65 and b"notes.txt is not listed" in p.stderr, p.stderr
        assert srv.cli("verify", good).returncode == 0

        with Server() as fresh:
            data = empty_data_dir(fresh)
            for name in ("body", "file", "nonexistent"):
                p = fresh.cli("restore", os.path.join(backups, name), check=False)
                assert p.returncode == 65 and b"no good backup" in p.stderr, p.stderr
                assert not os.path.exists(os.path.join(data, "mailroom.db"))
            for verb in ("backup", "verify", "restore"):
                assert b"usage: mailroom [-c FILE] " + verb.encode() in fresh.cli(
                    verb, "--help").stdout
            assert fresh.cli("restore", check=False).returncode == 64
            assert fresh.cli("backup", check=False).returncode == 64
            assert fresh.cli("verify", "a", "b", check=False).returncode == 64
            fresh.cli("restore", good)
            fresh.start()
            assert len(fresh.messages(USERS[0])) == 20
            fresh.stop()


if __name__ == "__main__":
    run_tests(globals())

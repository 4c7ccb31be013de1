#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_upgrade_kill.py - kill -9 in the middle of a schema upgrade (S6).

A large schema-7 store is made from the fixture the schema-7 binary wrote
(tests/fixtures/stores/v7), grown with plain SQL in that schema to tens of
thousands of mailboxes and messages, so that the copy before the upgrade and
the migration itself take long enough to be cut; the same from the schema-5
fixture, whose upgrade rebuilds the mailboxes table with foreign keys off,
and from the schema-8 fixture, whose upgrade makes the folders and moves
every message into INBOX. Each round puts that store in place, starts
`mailroom domain list` (any verb opens the store and so upgrades it), and
kills it with SIGKILL at a random moment: anywhere in its run, or once it
has said the copy is made, inside the migration. After each kill the store
must hold the old schema or the latest and nothing between: integrity check
clean, every mailbox and every message there with its bytes, UID and UIDL,
quotas with their meaning, from schema 9 on every message in its mailbox's
INBOX; a copy under backups/ is whole (mailroom.db, the old schema) or
marked unfinished (mailroom.db.part). Then `mailroom user list` must work,
finish the upgrade and list every mailbox, and `mailroom verify` must find
the store consistent.
"""
import hashlib
import json
import os
import random
import select
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, SRC, run_tests  # noqa: E402

LATEST = 11  # the schema of this mailroom
MAILBOXES = 40000
MESSAGES = 16000
EXTRA_ROUNDS = 10  # only while no kill has landed inside the migration yet


def fingerprint(db):
    """Everything an upgrade must keep, in one digest, and the quota counts."""
    con = sqlite3.connect(db, timeout=10)
    try:
        h = hashlib.sha256()
        # (schema 6 adds the built-in postmaster, an address without a domain)
        for row in con.execute("SELECT id, address, pw_hash, next_uid, used, messages "
                               "FROM mailboxes WHERE address LIKE '%@%' ORDER BY id"):
            h.update(repr(row).encode())
        for mid, uid, uidl, size, data in con.execute(
                "SELECT m.mailbox_id, m.uid, m.uidl, m.size, b.data FROM messages m "
                "JOIN bodies b ON b.id = m.body_id ORDER BY m.id"):
            h.update(repr((mid, uid, uidl, size, len(data))).encode())
            h.update(data)
        for row in con.execute("SELECT address, target FROM aliases ORDER BY 1, 2"):
            h.update(repr(row).encode())
        for row in con.execute("SELECT qid, sender, size FROM queue ORDER BY id"):
            h.update(repr(row).encode())
        version = con.execute("SELECT version FROM schema_version").fetchone()[0]
        if version >= 9:
            # every message in its mailbox's INBOX, every mailbox with six folders
            h.update(repr(con.execute(
                "SELECT count(*) FROM messages m WHERE m.folder_id IS NOT (SELECT f.id "
                "FROM folders f WHERE f.mailbox_id = m.mailbox_id AND f.name = 'INBOX')"
            ).fetchone()).encode())
            h.update(repr(con.execute(
                "SELECT count(*) FROM mailboxes mb WHERE (SELECT count(*) FROM folders f "
                "WHERE f.mailbox_id = mb.id) != 6").fetchone()).encode())
        else:
            h.update(repr((0,)).encode() * 2)
        check = [r[0] for r in con.execute("PRAGMA integrity_check")]
        quotas = dict(con.execute("SELECT quota, count(*) FROM mailboxes "
                                  "WHERE address LIKE '%@%' GROUP BY quota"))
        return version, check, h.hexdigest(), quotas
    finally:
        con.close()


def make_big(version, path):
    """The fixture of that version grown with rows in its own schema."""
    shutil.copyfile(os.path.join(SRC, "tests/fixtures/stores/v%d/mailroom.db" % version),
                    path)
    con = sqlite3.connect(path)
    assert con.execute("SELECT version FROM schema_version").fetchone()[0] == version
    dom = con.execute("SELECT id FROM domains WHERE name = 'example.com'").fetchone()[0]
    rng = random.Random(7)
    with con:
        con.executemany(
            "INSERT INTO mailboxes (address, domain_id, pw_hash, quota, created) "
            "VALUES (?, ?, '$y$j9T$notused$notused', ?, 0)",
            (("user%05d@example.com" % i, dom, 0 if i % 3 else 1 << 20)
             for i in range(MAILBOXES)))
        first = con.execute("SELECT min(id) FROM mailboxes WHERE address LIKE "
                            "'user%'").fetchone()[0]
        for n in range(MESSAGES):
            mbox = first + rng.randrange(MAILBOXES)
            body = (b"Subject: load %d\r\n\r\n" % n) + bytes(
                rng.getrandbits(8) for _ in range(64)).hex().encode() * 8 + b"\r\n"
            cur = con.execute("INSERT INTO bodies (refcount, size, data) VALUES (1, ?, ?)",
                              (len(body), body))
            uid = con.execute("SELECT next_uid FROM mailboxes WHERE id = ?",
                              (mbox,)).fetchone()[0]
            con.execute("INSERT INTO messages (mailbox_id, uid, body_id, size, uidl, "
                        "received) VALUES (?, ?, ?, ?, ?, 0)",
                        (mbox, uid, cur.lastrowid, len(body),
                         "load-%d" % n if n % 2 else None))
            con.execute("UPDATE mailboxes SET next_uid = next_uid + 1, used = used + ?, "
                        "messages = messages + 1 WHERE id = ?", (len(body), mbox))
    con.close()


def cli(conf, *args, timeout=120):
    return subprocess.run([BIN, "-c", conf] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def data_dir(what):
    """A temp folder with an empty data dir and a config naming it."""
    tmp = tempfile.mkdtemp(prefix="mailroom-upgrade-%s." % what)
    data = os.path.join(tmp, "data")
    os.mkdir(data, 0o700)
    conf = os.path.join(tmp, "mailroom.conf")
    with open(conf, "w") as f:
        f.write("[server]\nhostname = mail.example.test\ndata_dir = %s\n" % data)
    return tmp, data, conf


def check_backups(data, version):
    """A copy made before the upgrade is whole or says it is unfinished."""
    b = os.path.join(data, "backups")
    if not os.path.isdir(b):
        return 0
    whole = 0
    for name in os.listdir(b):
        d = os.path.join(b, name)
        files = sorted(os.listdir(d))
        assert name.startswith("pre-schema-%d-" % LATEST), name
        assert files in ([], ["mailroom.db"], ["mailroom.db.part"]), (name, files)
        if files == ["mailroom.db"]:
            con = sqlite3.connect(os.path.join(d, "mailroom.db"))
            assert con.execute("SELECT version FROM schema_version").fetchone()[0] == version
            assert con.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            con.close()
            whole += 1
    return whole


def kill_rounds(version, n_rounds):
    tmp, data, conf = data_dir("kill")
    try:
        big = os.path.join(tmp, "big.db")
        make_big(version, big)
        v, check, want, quotas_old = fingerprint(big)
        assert v == version and check == ["ok"], (v, check)
        zero = quotas_old.get(0, 0)
        assert zero > MAILBOXES // 2
        db = os.path.join(data, "mailroom.db")

        def quotas_kept(quotas):
            # migration 8 made "0 = none" the domain's default (-1)
            if version < 8:
                return quotas.get(0, 0) == 0 and quotas.get(-1, 0) == zero
            return quotas == quotas_old

        def fresh():
            for p in (db, db + "-wal", db + "-shm"):
                if os.path.exists(p):
                    os.unlink(p)
            shutil.rmtree(os.path.join(data, "backups"), ignore_errors=True)
            shutil.copyfile(big, db)

        # an upgrade left alone: how long it takes, and where it says the
        # copy is made
        fresh()
        t0 = time.monotonic()
        p = cli(conf, "domain", "list")
        total = time.monotonic() - t0
        assert p.returncode == 0, p.stderr
        assert b"before the upgrade to schema %d" % LATEST in p.stderr, p.stderr
        assert check_backups(data, version) == 1
        v, check, got, quotas = fingerprint(db)
        assert v == LATEST and check == ["ok"] and got == want
        assert quotas_kept(quotas), quotas

        rng = random.Random()
        outcomes = {"old": 0, "new": 0, "mid": 0}
        rounds = 0
        while rounds < n_rounds or (outcomes["mid"] == 0 and rounds < n_rounds + EXTRA_ROUNDS):
            rounds += 1
            fresh()
            inside = rounds % 2 == 0 or rounds > n_rounds
            proc = subprocess.Popen([BIN, "-c", conf, "domain", "list"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            t0 = time.monotonic()
            copied = False
            err = b""
            if inside:
                # wait until the copy is made, then cut the migration
                while time.monotonic() - t0 < 30 and proc.poll() is None:
                    r, _, _ = select.select([proc.stderr], [], [], 0.5)
                    if r:
                        chunk = os.read(proc.stderr.fileno(), 4096)
                        if not chunk:
                            break
                        err += chunk
                        if b"before the upgrade" in err:
                            copied = True
                            break
                time.sleep(rng.uniform(0, max(0.05, total / 3)))
            else:
                time.sleep(rng.uniform(0, total * 1.1))
            proc.kill()
            proc.wait(timeout=30)
            proc.stderr.close()

            v, check, got, quotas = fingerprint(db)
            assert check == ["ok"], (rounds, check[:5])
            assert got == want, "round %d: the store lost or changed data" % rounds
            if v == version:
                assert quotas == quotas_old, (rounds, quotas)
                outcomes["mid" if copied else "old"] += 1
            else:
                assert v == LATEST, (rounds, v)
                assert quotas_kept(quotas), quotas
                outcomes["new"] += 1
            check_backups(data, version)

            # the next mailroom finishes the upgrade and sees everything
            p = cli(conf, "user", "list", "--json")
            assert p.returncode == 0, (rounds, p.stderr)
            users = json.loads(p.stdout)
            assert len(users) == MAILBOXES + 5, len(users)
            assert sum(u["messages"] for u in users) == MESSAGES + 10
            v, check, got, _ = fingerprint(db)
            assert v == LATEST and check == ["ok"] and got == want
            assert check_backups(data, version) >= 1
            p = cli(conf, "verify")
            assert p.returncode == 0, (rounds, p.stdout, p.stderr)
        print("  from schema %d: upgrade %.2fs; %d rounds: %s" % (version, total, rounds,
                                                                 outcomes), flush=True)
        assert outcomes["mid"] > 0, "no kill landed inside the migration: %s" % outcomes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_kill_during_upgrade_from_7():
    kill_rounds(7, 14)


def test_kill_during_upgrade_from_8():
    # schema 9 makes the folders and moves every message into INBOX
    kill_rounds(8, 8)


def test_kill_during_upgrade_from_5():
    # schema 6 rebuilds the mailboxes table with foreign keys off
    kill_rounds(5, 8)


def test_newer_store_refused():
    tmp, data, conf = data_dir("newer")
    try:
        db = os.path.join(data, "mailroom.db")
        shutil.copyfile(os.path.join(SRC, "tests/fixtures/stores/v7/mailroom.db"), db)
        assert cli(conf, "domain", "list").returncode == 0
        con = sqlite3.connect(db)
        with con:
            con.execute("UPDATE schema_version SET version = 99")
        con.close()
        before = open(db, "rb").read()
        for verb in (["user", "list"], ["init"]):
            p = cli(conf, *verb)
            assert p.returncode != 0, verb
            assert b"schema version 99, newer than this mailroom" in p.stderr, p.stderr
        assert open(db, "rb").read() == before
        assert len(os.listdir(os.path.join(data, "backups"))) == 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())

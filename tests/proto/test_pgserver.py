#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_pgserver.py - the private PostgreSQL of the store tests (tests/common/pgserver.py).

A primary on a port from free_port() takes a table and a row through
Debian's psql; a standby made with pg_basebackup -R streams it (bounded
wait); the primary is stopped by its PID, the standby promoted, and it takes
writes. A primary killed by SIGKILL keeps every committed row when started
again. The command line (start DIR PORT, stop DIR) leaves a server running
past its own exit, as the ctest fixture pg/start needs, and stops it by the
PID it wrote. No postgres process of a test is left behind.
"""
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import free_port, run_tests  # noqa: E402

COMMON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common")
sys.path.insert(0, COMMON)
import pgserver  # noqa: E402

PGSERVER = os.path.join(COMMON, "pgserver.py")


def psql(dsn, sql):
    p = subprocess.run([pgserver.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", dsn, "-c", sql], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "psql %r: %s" % (sql, p.stdout.decode(errors="replace"))
    return p.stdout.decode().rstrip("\n")


def gone(pid):
    return not pgserver._alive(pid)


def wait_for(what, fn, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.1)
    raise AssertionError("no %s within %ss" % (what, timeout))


def postmaster_owner(pid):
    return pwd.getpwuid(os.stat("/proc/%d" % pid).st_uid).pw_name


def test_primary():
    port = free_port()
    with pgserver.PgServer(port=port) as pg:
        assert pg.port == port and port < 32768
        assert pg.dsn == "postgresql://mailroom@127.0.0.1:%d/mailroom" % port
        with open(os.path.join(pg.data_dir, "postmaster.pid")) as f:
            assert int(f.readline()) == pg.pid
        if os.geteuid() == 0:
            assert postmaster_owner(pg.pid) == pgserver.USER
            assert os.stat(pg.data_dir).st_uid == pwd.getpwnam(pgserver.USER).pw_uid
        row = psql(pg.dsn, "SELECT current_user, current_database(), "
                   "current_setting('fsync'), current_setting('synchronous_commit'), "
                   "current_setting('max_connections'), current_setting('listen_addresses'), "
                   "current_setting('unix_socket_directories')")
        assert row == "mailroom|mailroom|on|on|200|127.0.0.1|%s" % pg.sock_dir, row
        assert psql(pg.dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = 'mailroom'") == "t"
        psql(pg.dsn, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        psql(pg.dsn, "INSERT INTO t VALUES (1, 'one')")
        assert psql(pg.dsn, "SELECT v FROM t WHERE id = 1") == "one"
        pid = pg.pid
        assert pg.stop() is True  # by SIGTERM, in time
        assert gone(pid)
        base = pg.base_dir
    assert not os.path.exists(base)


def test_crash_keeps_commits():
    with pgserver.PgServer(port=free_port()) as pg:
        psql(pg.dsn, "CREATE TABLE t (id int PRIMARY KEY)")
        psql(pg.dsn, "INSERT INTO t SELECT generate_series(1, 100)")
        pid = pg.pid
        kids = pgserver._children(pid)
        assert kids, "no postgres children"
        pg.kill()
        assert gone(pid) and all(gone(k) for k in kids)
        pg.start()
        assert pg.pid != pid
        assert psql(pg.dsn, "SELECT count(*) FROM t") == "100"


def test_standby_failover():
    primary = pgserver.PgServer(port=free_port()).start()
    standby = None
    try:
        psql(primary.dsn, "CREATE TABLE t (id int PRIMARY KEY, v text)")
        psql(primary.dsn, "INSERT INTO t VALUES (1, 'before')")
        standby = primary.make_standby(port=free_port())
        assert standby.port != primary.port and standby.pid != primary.pid
        assert standby.in_recovery()
        psql(primary.dsn, "INSERT INTO t VALUES (2, 'streamed')")
        wait_for("row 2 on the standby",
                 lambda: psql(standby.dsn, "SELECT v FROM t WHERE id = 2") == "streamed")
        assert psql(standby.dsn, "SELECT count(*) FROM t") == "2"
        p = subprocess.run([pgserver.PSQL, "-X", "-d", standby.dsn, "-c",
                            "INSERT INTO t VALUES (9, 'x')"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        assert p.returncode != 0 and b"read-only" in p.stdout, p.stdout

        pid = primary.pid
        primary.stop()
        assert gone(pid)
        standby.promote()
        assert not standby.in_recovery()
        psql(standby.dsn, "INSERT INTO t VALUES (3, 'after')")
        assert psql(standby.dsn, "SELECT string_agg(v, ',' ORDER BY id) FROM t") == \
            "before,streamed,after"
        pid = standby.pid
        standby.stop()
        assert gone(pid)
    finally:
        if standby is not None:
            standby.cleanup()
        primary.cleanup()


def test_cli():
    folder = tempfile.mkdtemp(prefix="mailroom-pgcli.")
    port = free_port()
    try:
        p = subprocess.run([sys.executable, PGSERVER, "start", folder, str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        dsn = p.stdout.decode().strip()
        assert dsn == "postgresql://mailroom@127.0.0.1:%d/mailroom" % port, dsn
        with open(os.path.join(folder, "pid")) as f:
            pid = int(f.read())
        # running past the exit of `start`, in a session of its own
        assert not gone(pid) and os.getsid(pid) != os.getsid(0)
        psql(dsn, "CREATE TABLE t (id int)")
        assert psql(dsn, "SELECT count(*) FROM t") == "0"
        # start again: the old server stopped, a fresh cluster
        p = subprocess.run([sys.executable, PGSERVER, "start", folder, str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        assert gone(pid)
        with open(os.path.join(folder, "pid")) as f:
            pid = int(f.read())
        assert psql(dsn, "SELECT to_regclass('t') IS NULL") == "t"
        p = subprocess.run([sys.executable, PGSERVER, "stop", folder],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        assert p.returncode == 0, p.stdout
        assert gone(pid)
        assert not os.path.exists(os.path.join(folder, "pid"))
        assert os.path.exists(os.path.join(folder, "postgres.log"))
        # stop with nothing running is no error
        p = subprocess.run([sys.executable, PGSERVER, "stop", folder], timeout=60)
        assert p.returncode == 0
        p = subprocess.run([sys.executable, PGSERVER, "start", folder, "40000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 2, p.returncode  # an ephemeral port is refused
    finally:
        subprocess.run([sys.executable, PGSERVER, "stop", folder], timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    for need in (os.path.join(pgserver.PG_BIN, "initdb"), pgserver.PSQL):
        if not os.path.exists(need):
            print("skipped: needs PostgreSQL 15 (postgresql-15, scripts/deps.sh test): no %s"
                  % need)
            sys.exit(77)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(pgserver.USER)
        except KeyError:
            print("skipped: run as root, needs the user %s to run postgres as" % pgserver.USER)
            sys.exit(77)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # atexit stops the servers
    run_tests(globals())

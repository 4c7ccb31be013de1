#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pgserver.py - a private PostgreSQL 15 on loopback for the store tests.

PgServer(port) makes a cluster with Debian's initdb in a temp folder and runs
postgres itself (not pg_ctl), so the PID it has is the postmaster's; stop()
ends it by that PID: SIGTERM (smart shutdown), then SIGINT (fast: it also
ends sessions a test left open), then SIGKILL of the postmaster and its
children, each after a bounded wait. Every wait is bounded, and every
server still running is stopped at exit (atexit) and, should the test
process die by SIGKILL, by the parent-death signal.

The server listens on 127.0.0.1 only, on the port given or one from below
the kernel's ephemeral range (the registry tests/proto/harness.py uses, so
the two never hand out the same port); its Unix socket lies in the temp
folder too. User `mailroom` (the bootstrap superuser) gets in without a
password over TCP from 127.0.0.1, for replication as well, and owns the
database `mailroom`: dsn is postgresql://mailroom@127.0.0.1:PORT/mailroom.
fsync and synchronous_commit stay on: durability is what the tests check.

PostgreSQL refuses to run as root: run as root, initdb, postgres and
pg_basebackup run as USER (nobody), which owns the data folder.

make_standby() makes a second server with pg_basebackup -R from this one
(streaming replication, hot standby); promote() makes a standby a primary.

As a program, for tests a ctest fixture serves (the C unit tests):
  pgserver.py start DIR [PORT]   print the DSN, leave the server running
                                 (its PID in DIR/pid, its log in DIR/postgres.log)
  pgserver.py stop DIR           stop the server of DIR by that PID
start stops a server DIR still has from an earlier run and makes a fresh
cluster.
"""
import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PSQL = "/usr/bin/psql"
USER = "nobody"  # the account the server runs as when we are root
ROLE = "mailroom"
DATABASE = "mailroom"

# Written to postgresql.conf by initdb's caller; a standby gets them with the
# base backup. port, listen_addresses and unix_socket_directories differ per
# server and are given on the command line.
SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_connections": "200",
    "shared_buffers": "16MB",
    "huge_pages": "off",
    "wal_level": "replica",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "wal_keep_size": "128MB",
    "hot_standby": "on",
    "logging_collector": "off",
    "log_line_prefix": "'%m [%p] '",
    "datestyle": "'iso, ymd'",
    "timezone": "'UTC'",
}
HBA = """\
# pgserver.py: the test role over loopback, no password
local all all trust
host all %(role)s 127.0.0.1/32 trust
host replication %(role)s 127.0.0.1/32 trust
""" % {"role": ROLE}

START_TIMEOUT = 30
_live = []  # servers of this process not cleaned up (stopped, folders removed)


def _stop_all():
    for srv in list(reversed(_live)):
        try:
            srv.cleanup()
        except Exception as e:  # at exit: say it, stop the others
            print("pgserver: stopping %s: %s" % (srv.data_dir, e), file=sys.stderr)


atexit.register(_stop_all)

# Ports come from the registry of the protocol tests (harness.free_port):
# below the kernel's ephemeral range, never one another test holds.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "proto"))
from harness import free_port  # noqa: E402


def _port_free(port, wait=5):
    """Whether postgres can listen on the port (it sets SO_REUSEADDR, so
    connections of an earlier server in TIME_WAIT do not count), waiting a
    little for one that is just going away."""
    deadline = time.monotonic() + wait
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
        time.sleep(0.1)


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _alive(pid):
    """Whether pid is a process that has not exited (a zombie has)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _children(pid):
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def _postmaster_pid(data_dir):
    """The PID postmaster.pid of data_dir names if that process is postgres
    working in data_dir (a postmaster's working folder); else None."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            pid = int(f.readline())
        exe = os.readlink("/proc/%d/exe" % pid)
        cwd = os.readlink("/proc/%d/cwd" % pid)
    except (OSError, ValueError):
        return None
    if os.path.basename(exe) != "postgres" or cwd != os.path.realpath(data_dir):
        return None
    return pid if _alive(pid) else None


def _wait_gone(pid, proc, timeout):
    """Wait until pid has exited (reaping it when proc, its Popen, is ours)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            try:
                proc.wait(timeout=0.05)
                return True
            except subprocess.TimeoutExpired:
                continue
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def kill_pid(pid, proc=None):
    """SIGKILL a postmaster and its children; wait (bounded) for them."""
    kids = _children(pid)
    for p in [pid] + kids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _wait_gone(pid, proc, 10)
    deadline = time.monotonic() + 10
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.05)


def stop_pid(pid, proc=None, smart=5, fast=15):
    """Stop a postmaster by PID: SIGTERM (smart shutdown), SIGINT (fast)
    after smart seconds, SIGKILL after fast more. True unless killed."""
    # gone already? (a child of ours, once reaped, is never signalled: its
    # PID may be another process's by now)
    gone = proc.poll() is not None if proc is not None else not _alive(pid)
    if gone:
        return True
    os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, proc, smart):
        return True
    os.kill(pid, signal.SIGINT)
    if _wait_gone(pid, proc, fast):
        return True
    kill_pid(pid, proc)
    return False


def _reachable(path, uid, gid):
    """Whether user uid (group gid) may reach path: x on every folder above."""
    path = os.path.abspath(path)
    while True:
        path = os.path.dirname(path)
        st = os.stat(path)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
        if path == "/":
            return True


class PgServer:
    """A private PostgreSQL. base_dir (made when None, removed by cleanup())
    holds data/, sock/ and postgres.log. detach=True: the server outlives
    this process (a session of its own, no parent-death signal, not stopped
    at exit); the CLI's start uses it."""

    def __init__(self, port=None, base_dir=None, user=USER, detach=False, _primary=None):
        if port is not None and not 0 < port < 32768:
            raise ValueError("port %d: give one below 32768, the ephemeral range" % port)
        self.uid = self.gid = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam(user)
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.port = port or free_port()
        self.detach = detach
        self.primary = _primary
        self.own_base = base_dir is None
        self.base_dir = base_dir or tempfile.mkdtemp(prefix="mailroom-pg.")
        os.makedirs(self.base_dir, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self.tmp_data = None
        home = self.base_dir
        if self.uid is not None and not _reachable(os.path.join(home, "data"),
                                                   self.uid, self.gid):
            # a folder above base_dir is closed to USER: data and socket in /tmp
            self.tmp_data = home = tempfile.mkdtemp(prefix="mailroom-pgdata.")
            os.chmod(home, 0o755)
        self.data_dir = os.path.join(home, "data")
        self.sock_dir = os.path.join(home, "sock")
        if len(self.sock_dir) + len("/.s.PGSQL.65535.lock") > 100:
            self.sock_dir = None  # too long for sun_path: TCP only
        self.log_path = os.path.join(self.base_dir, "postgres.log")
        self.proc = None
        self.pid = None
        if not detach:
            _live.append(self)

    @property
    def dsn(self):
        return "postgresql://%s@127.0.0.1:%d/%s" % (ROLE, self.port, DATABASE)

    def dsn_for(self, database):
        return "postgresql://%s@127.0.0.1:%d/%s" % (ROLE, self.port, database)

    # -- running programs as the server's user --

    def _demote(self):
        if self.uid is not None:
            os.setgroups([])
            os.setgid(self.gid)
            os.setuid(self.uid)

    def _run(self, argv, timeout=60):
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=_env(), cwd=self.base_dir,
                           preexec_fn=self._demote, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("%s: rc=%d\n%s" % (" ".join(argv), p.returncode,
                                                  p.stdout.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def _own(self, path):
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)

    def _preexec(self):
        self._demote()
        if not self.detach:
            # after setuid, which clears it; SIGINT is a fast shutdown
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG

    # -- the cluster --

    def _make_data_dir(self):
        os.makedirs(self.data_dir, 0o700)
        self._own(self.data_dir)

    def initialized(self):
        return os.path.exists(os.path.join(self.data_dir, "PG_VERSION"))

    def _init_cluster(self):
        self._make_data_dir()
        # -N (here and in pg_basebackup): no fsync of the files made at
        # creation, as in PostgreSQL's own TAP tests; the server itself runs
        # with fsync on, and a test's crash (SIGKILL) keeps the page cache
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data_dir, "-U", ROLE,
                   "-A", "trust", "-E", "UTF8", "--locale=C", "-N", "--no-instructions"])
        with open(os.path.join(self.data_dir, "postgresql.conf"), "a") as f:
            f.write("\n# pgserver.py\n")
            for k, v in SETTINGS.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.data_dir, "pg_hba.conf"), "w") as f:
            f.write(HBA)

    def _base_backup(self):
        self._make_data_dir()  # empty, USER's: pg_basebackup fills it
        self._run([os.path.join(PG_BIN, "pg_basebackup"), "-D", self.data_dir,
                   "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", ROLE,
                   "-R", "-X", "stream", "-c", "fast", "-N"], timeout=120)

    def start(self):
        """Start the server (making the cluster on the first start) and
        wait until it accepts connections; returns self."""
        if self.pid is not None and _alive(self.pid):
            return self
        fresh = not self.initialized()
        if fresh:
            if self.primary is None:
                self._init_cluster()
            else:
                self._base_backup()
        if not _port_free(self.port):
            raise RuntimeError("port %d on 127.0.0.1 is in use" % self.port)
        argv = [os.path.join(PG_BIN, "postgres"), "-D", self.data_dir,
                "-c", "port=%d" % self.port, "-c", "listen_addresses=127.0.0.1",
                "-c", "unix_socket_directories=%s" % (self.sock_dir or "")]
        if self.sock_dir:
            os.makedirs(self.sock_dir, exist_ok=True)
            self._own(self.sock_dir)
            os.chmod(self.sock_dir, 0o755)
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=_env(), cwd=self.base_dir,
                                         preexec_fn=self._preexec,
                                         start_new_session=self.detach)
        finally:
            log.close()
        self.pid = self.proc.pid
        self._wait_ready()
        if fresh and self.primary is None:
            # as the admin guide says (PostgreSQL): bytes kept as they are
            self.psql("CREATE DATABASE %s OWNER %s ENCODING 'SQL_ASCII' LOCALE 'C' "
                      "TEMPLATE template0" % (DATABASE, ROLE), database="postgres")
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        isready = os.path.join(PG_BIN, "pg_isready")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("postgres exited (rc=%s) on start:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            p = subprocess.run([isready, "-q", "-h", "127.0.0.1", "-p", str(self.port),
                                "-d", "postgres", "-U", ROLE, "-t", "1"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=_env(), timeout=10)
            if p.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("postgres not accepting connections on port %d within %ds:\n%s"
                           % (self.port, START_TIMEOUT, self.log_tail()))

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def psql(self, sql, database=DATABASE, timeout=30):
        """Run sql with psql (-X, tuples only, unaligned, stop on error);
        returns its output without the last newline."""
        p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.dsn_for(database), "-c", sql],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=_env(), timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("psql %r on port %d: rc=%d: %s" % (
                sql, self.port, p.returncode, p.stderr.decode(errors="replace").strip()))
        return p.stdout.decode().rstrip("\n")

    # -- replication --

    def make_standby(self, port=None, base_dir=None):
        """A streaming standby of this server (pg_basebackup -R), started."""
        standby = PgServer(port=port, base_dir=base_dir, detach=self.detach, _primary=self)
        return standby.start()

    def in_recovery(self):
        return self.psql("SELECT pg_is_in_recovery()") == "t"

    def promote(self, timeout=30):
        """Make this standby a primary; returns once it takes writes."""
        out = self.psql("SELECT pg_promote(true, %d)" % timeout, timeout=timeout + 10)
        if out != "t":
            raise RuntimeError("pg_promote on port %d: %s\n%s" % (self.port, out,
                                                                  self.log_tail()))
        deadline = time.monotonic() + timeout
        while self.in_recovery():
            if time.monotonic() > deadline:
                raise RuntimeError("port %d still in recovery after promote" % self.port)
            time.sleep(0.1)

    # -- stopping by PID --

    def stop(self, smart=5, fast=15):
        """Stop the server by its PID: SIGTERM, after smart seconds SIGINT,
        after fast more SIGKILL (children too). True if it shut down
        cleanly (by SIGTERM or SIGINT)."""
        clean = self.pid is None or stop_pid(self.pid, self.proc, smart, fast)
        self.pid = self.proc = None
        return clean

    def kill(self):
        """A crash: SIGKILL the postmaster and its children, wait for them."""
        if self.pid is not None:
            kill_pid(self.pid, self.proc)
        self.pid = self.proc = None

    def cleanup(self):
        """Stop, and remove the folders this object made."""
        if self in _live:
            _live.remove(self)
        self.stop()
        if self.tmp_data:
            shutil.rmtree(self.tmp_data, ignore_errors=True)
        if self.own_base:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


# -- the command line: a server for a ctest fixture --

def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _stop_dir(folder):
    """Stop the server of folder by its PID; remove its data, keep its log.
    Returns 0, or 1 when it had to be killed."""
    rc = 0
    data = _read(os.path.join(folder, "data_dir")) or os.path.join(folder, "data")
    # the PID start wrote, or (start died before writing it) the one in
    # postmaster.pid; either only when it is postgres running in data
    pid = _postmaster_pid(data)
    if pid is not None and _read(os.path.join(folder, "pid")) not in (None, str(pid)):
        print("pgserver: %s/pid does not name the postmaster of %s (PID %d)"
              % (folder, data, pid), file=sys.stderr)
    if pid is not None and not stop_pid(pid):
        print("pgserver: PID %d killed" % pid, file=sys.stderr)
        rc = 1
    for name in ("pid", "dsn", "data_dir"):
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass
    if os.path.basename(os.path.dirname(data)).startswith("mailroom-pgdata."):
        shutil.rmtree(os.path.dirname(data), ignore_errors=True)
    else:
        shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(os.path.join(folder, "sock"), ignore_errors=True)
    return rc


def main(argv):
    usage = "usage: pgserver.py start DIR [PORT] | stop DIR"
    if len(argv) < 3 or argv[1] not in ("start", "stop"):
        print(usage, file=sys.stderr)
        return 2
    folder = os.path.abspath(argv[2])
    if argv[1] == "stop":
        return _stop_dir(folder)
    if len(argv) > 4:
        print(usage, file=sys.stderr)
        return 2
    port = int(argv[3]) if len(argv) == 4 else None
    if port is not None and not 0 < port < 32768:
        print("pgserver: port %d: give one below 32768" % port, file=sys.stderr)
        return 2
    os.makedirs(folder, exist_ok=True)
    _stop_dir(folder)  # an earlier run's server and data
    srv = PgServer(port=port, base_dir=folder, detach=True)
    if srv.tmp_data:  # so that stop finds (and removes) it
        with open(os.path.join(folder, "data_dir"), "w") as f:
            f.write(srv.data_dir + "\n")
    try:
        srv.start()
    except Exception as e:
        print("pgserver: %s" % e, file=sys.stderr)
        srv.stop()
        _stop_dir(folder)
        return 1
    with open(os.path.join(folder, "pid"), "w") as f:
        f.write("%d\n" % srv.pid)
    with open(os.path.join(folder, "dsn"), "w") as f:
        f.write(srv.dsn + "\n")
    print(srv.dsn, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

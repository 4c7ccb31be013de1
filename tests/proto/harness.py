# SPDX-License-Identifier: MIT
"""harness.py - start `mailroom serve` on loopback and talk to it.

A Server owns a temp folder with a config (free ports on 127.0.0.1), a store
made by `mailroom init`, and the serve process. Every wait is bounded. On
stop the server gets SIGTERM and must exit 0 within 10 s; its stderr must
carry no sanitizer report (ASan/UBSan builds run the same tests).

Run as root (as CI does), the config names TEST_USER as [server] user, made
with useradd(8) when missing: serve binds its listeners as root and then runs
as that user, and the CLI works on the store as that user too. A key given as
None in `extra` is left out of the config.

Tests are plain functions named test_*; run_tests() runs those of a module
and prints one line per test and "N passed, N failed". A test that cannot
run here raises Skip("why"): it is reported as "skip NAME (why)" and
counted neither as passed nor as failed (a run whose every test skipped
exits 77, what ctest takes for "skipped").

The store is SQLite (DATA_DIR/mailroom.db) unless MAILROOM_TEST_STORE_DSN
names a PostgreSQL database (PG is then true): each Server then has a schema
of its own there. Tests read and change the store behind the server's back
with Server.db_query() and db_exec(), and play another writer with
hold_store_lock(); a test about the SQLite file itself skips on PostgreSQL
with require_sqlite().
"""
import contextlib
import fcntl
import imaplib
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

BIN = os.environ.get("MAILROOM_BIN", "build/mailroom")
SRC = os.environ.get("MAILROOM_SRC", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
PASSWORD = "secret-pw-1"
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:",
                   "UndefinedBehaviorSanitizer")
# the protocol tests' store engine: PostgreSQL when a DSN is given
PG = bool(os.environ.get("MAILROOM_TEST_STORE_DSN"))
PSQL = "/usr/bin/psql"
# the advisory lock every writer of a PostgreSQL store takes (src/store/store_pg.c)
STORE_LOCK_KEY = 1835100524


class Skip(Exception):
    """Raised by a test that cannot run here; run_tests() reports the reason."""


def require_sqlite(why):
    """Skips the calling test on PostgreSQL: it is about the SQLite file."""
    if PG:
        raise Skip("SQLite only: %s" % why)


def _sql_literal(v):
    """v as a PostgreSQL literal (standard_conforming_strings: a backslash
    in '...' is itself)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"  # the store's flags are integers, as in SQLite
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "'\\x%s'::bytea" % bytes(v).hex()
    if isinstance(v, str):
        if "\0" in v:
            raise ValueError("PostgreSQL text cannot hold NUL: %r" % v)
        return "'%s'" % v.replace("'", "''")
    raise TypeError("no SQL literal for %r" % (v,))


def _bind(sql, params):
    """sql with each ? placeholder (outside quotes, comments and dollar
    quoting) replaced by the literal of the next parameter."""
    params = list(params)
    out, i, n = [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # '' or "" inside
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif ch == "$":
            m = re.match(r"\$[A-Za-z_]*\$", sql[i:])
            if m:
                j = sql.find(m.group(0), i + len(m.group(0)))
                j = n if j < 0 else j + len(m.group(0))
                out.append(sql[i:j])
                i = j
            else:
                out.append(ch)
                i += 1
        elif ch == "?":
            if not params:
                raise ValueError("more ? than parameters in %r" % sql)
            out.append(_sql_literal(params.pop(0)))
            i += 1
        else:
            out.append(ch)
            i += 1
    if params:
        raise ValueError("%d parameters left over for %r" % (len(params), sql))
    return "".join(out)


def _from_json(v, blob):
    if isinstance(v, bool):
        return int(v)  # as SQLite gives a comparison's result
    if blob and isinstance(v, str) and v.startswith("\\x"):
        try:
            return bytes.fromhex(v[2:])
        except ValueError:
            return v
    return v


# Ports for test listeners come from below the kernel's ephemeral range:
# a port the kernel hands out (bind to 0) is free only until some client
# socket gets it as its local port, which happens all the time in a suite
# whose tests run in parallel. A port that binds now may still be drawn by
# another test process before its server binds it, so every port given is
# written, under flock, to one registry file that all test processes share;
# an entry is kept for _PORT_HOLD seconds, longer than any test holds it.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_PORT_HOLD = 3600
_PORT_REGISTRY = os.path.join(tempfile.gettempdir(), "mailroom-test-ports")
_port_rng = random.Random(os.getpid() ^ time.monotonic_ns())


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_binds(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def metrics_text(port):
    """The body of GET /metrics from a [metrics] listener on 127.0.0.1."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[-1].decode()


def free_port():
    high = min(_PORT_HIGH, _ephemeral_low())
    fd = os.open(_PORT_REGISTRY, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        os.fchmod(fd, 0o666)  # shared by root's runs and a user's
    except OSError:
        pass
    with os.fdopen(fd, "r+") as reg:
        fcntl.flock(reg, fcntl.LOCK_EX)  # released when the file closes
        now = time.time()
        held = {}
        for line in reg.read().split("\n"):
            try:
                port, since = line.split()
                if now - float(since) < _PORT_HOLD:
                    held[int(port)] = since
            except ValueError:
                continue
        for _ in range(500):
            port = _port_rng.randrange(_PORT_LOW, high)
            if port in held or not _port_binds(port):
                continue
            held[port] = "%.0f" % now
            reg.seek(0)
            reg.truncate()
            reg.write("".join("%d %s\n" % kv for kv in held.items()))
            reg.flush()
            return port
    raise AssertionError("no free port in %d-%d" % (_PORT_LOW, high))


TEST_USER = "mailroom-test"


def unprivileged_user():
    """The unprivileged account tests run serve as when they run as root."""
    for _ in range(50):  # useradd fails while a parallel test holds the lock
        try:
            pwd.getpwnam(TEST_USER)
            return TEST_USER
        except KeyError:
            pass
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        TEST_USER], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=30)
        time.sleep(0.1)
    raise AssertionError("cannot create the test user %s" % TEST_USER)


def tls_client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def die_with_parent():
    """preexec_fn for a peer daemon: it gets SIGTERM when the test process
    dies, even by SIGKILL (ctest's timeout), instead of living on as an
    orphan. The kernel clears this when a process changes its user, so a
    daemon that drops root (serve, Dovecot's children) is stopped through
    its master or by cleanup()."""
    import ctypes
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Daemon:
    """A private peer daemon a test starts (slapd, krb5kdc): a subclass
    sets self.dir (its temp folder) and defines start() and stop();
    cleanup() stops it and removes the folder, and `with` does both ends.
    log() is the end of self.log_path unless the subclass says otherwise."""

    def wait_listening(self, port, what, log, timeout=20):
        """Bounded wait until self.proc accepts on port; raises with log()
        if the process exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %d: %s" % (what, self.proc.returncode, log()))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("%s does not listen on %d: %s" % (what, port, log()))
                time.sleep(0.05)

    def log(self):
        """The end of self.log_path, for a failure's message."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()


class Server:
    def __init__(self, extra=None, pop3=True, pop3s=True, smtp=False, imap=False):
        self.command_prefix = []  # a wrapper the server runs under (unshare, say)
        self.dir = tempfile.mkdtemp(prefix="mailroom-proto.")
        self.pop3_port = free_port() if pop3 else None
        self.pop3s_port = free_port() if pop3s else None
        self.smtp_port = free_port() if smtp else None
        self.submission_port = free_port() if smtp else None
        self.submissions_port = free_port() if smtp else None
        self.imap_port = free_port() if imap else None
        self.imaps_port = free_port() if imap else None
        self.conf = os.path.join(self.dir, "mailroom.conf")
        self.log_path = os.path.join(self.dir, "serve.log")
        self.proc = None
        self.pg_schema = None
        sections = {
            "server": {"hostname": "mail.example.test", "data_dir": "data",
                       "workers": "2"},
            "listen": {"smtp": self._addr(self.smtp_port),
                       "submission": self._addr(self.submission_port),
                       "submissions": self._addr(self.submissions_port),
                       "pop3": "127.0.0.1:%d" % self.pop3_port if pop3 else "off",
                       "pop3s": "127.0.0.1:%d" % self.pop3s_port if pop3s else "off",
                       "imap": self._addr(self.imap_port),
                       "imaps": self._addr(self.imaps_port)},
            "limits": {"auth_fail_delay_max": "0"},
            # no outbound delivery unless a test asks: remote test domains
            # must stay in the queue where the tests look for them
            "delivery": {"enabled": "no"},
            # no sender checks unless a test asks: they would ask the
            # system's DNS about the tests' made-up domains
            "filter": {"spf": "no", "dkim_verify": "no", "dmarc": "no"},
        }
        # the protocol tests run on PostgreSQL too: each server in a schema of
        # its own in the test database, made by `mailroom init`
        pg = os.environ.get("MAILROOM_TEST_STORE_DSN")
        if pg:
            schema = "p_%d_%s" % (os.getpid(), os.path.basename(self.dir).split(".")[-1].lower())
            sep = "&" if "?" in pg else "?"
            sections["store"] = {"backend": "postgresql",
                                 "dsn": "%s%soptions=-csearch_path%%3D%s" % (pg, sep, schema)}
            self.pg_schema = schema
        if os.geteuid() == 0:
            sections["server"]["user"] = unprivileged_user()
            os.chmod(self.dir, 0o711)  # the user must reach its data dir
        for key, value in (extra or {}).items():
            sec, name = key.split(".", 1)
            sections.setdefault(sec, {})[name] = value
            if value is None:
                del sections[sec][name]
        # where db_query() and friends find the store
        store = sections.get("store", {})
        self.pg_dsn = store.get("dsn") if store.get("backend") == "postgresql" else None
        self.data_dir = os.path.join(self.dir, sections["server"].get("data_dir", "data"))
        with open(self.conf, "w") as f:
            for sec, kv in sections.items():
                f.write("[%s]\n" % sec)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
        self.cli("init")

    @staticmethod
    def _addr(port):
        return "127.0.0.1:%d" % port if port else "off"

    # --- CLI -------------------------------------------------------------
    def cli(self, *args, stdin=None, check=True):
        p = subprocess.run([BIN, "-c", self.conf] + list(args), input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check_sanitizer(p.stderr.decode(errors="replace"), "mailroom " + " ".join(args))
        if check and p.returncode != 0:
            raise AssertionError("mailroom %s: exit %d: %s" % (
                " ".join(args), p.returncode, p.stderr.decode(errors="replace")))
        return p

    def add_user(self, address, password=PASSWORD, *opts):
        domain = address.split("@", 1)[1]
        if self.cli("domain", "list", "--json").stdout.decode().find(
                '"%s"' % domain) < 0:
            self.cli("domain", "add", domain)
        self.cli("user", "add", address, "--password-stdin", *opts,
                 stdin=(password + "\n").encode())

    def deliver(self, address, message, *opts):
        if isinstance(message, str):
            message = message.encode()
        return self.cli("deliver", address, *opts, stdin=message)

    # --- the store behind the server's back ---------------------------------
    # A test reads and changes the store's tables directly, whichever engine
    # holds them: SQLite through Python's sqlite3 on DATA_DIR/mailroom.db,
    # PostgreSQL through psql with the Server's dsn (its schema first in the
    # search_path). SQL placeholders are ?; on PostgreSQL each becomes a
    # quoted literal (bytes: a bytea). Write SQL both engines take.
    def db_path(self):
        """The SQLite store's file, DATA_DIR/mailroom.db."""
        return os.path.join(self.data_dir, "mailroom.db")

    def _sqlite(self, timeout=10):
        # mode=rw: a store that is not there is an error, not a new empty file
        from urllib.parse import quote
        return sqlite3.connect("file:%s?mode=rw" % quote(self.db_path()), uri=True,
                               timeout=timeout, isolation_level=None)

    def _psql(self, sql, timeout=60):
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        p = subprocess.run([PSQL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", self.pg_dsn], input=sql.encode(), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError("psql exit %d on %r: %s" % (
                p.returncode, sql[:500], p.stderr.decode(errors="replace")))
        # an SQL_ASCII database gives text columns' bytes as they are
        return p.stdout.decode(errors="surrogateescape")

    def db_query(self, sql, params=(), blob=False):
        """The rows (a list of tuples) of one query (SELECT, WITH or VALUES).
        Integers come as int and NULL as None on both engines; a BLOB/bytea
        comes as bytes from SQLite and, with blob=True, from PostgreSQL too
        (without it, as psql's \\x... text)."""
        if self.pg_dsn is None:
            db = self._sqlite()
            try:
                return db.execute(sql, tuple(params)).fetchall()
            finally:
                db.close()
        # one JSON object per row: its columns in order, typed, newlines escaped
        inner = _bind(sql, params).strip().rstrip(";")
        out = self._psql("SELECT row_to_json(q) FROM (%s\n) q;\n" % inner)
        return [tuple(_from_json(v, blob) for _, v in json.loads(line, object_pairs_hook=list))
                for line in out.split("\n") if line]

    def db_exec(self, sql, params=()):
        """Runs SQL that changes the store (with params: one statement; without:
        any number, separated by ;) as one more writer, committed when it
        returns."""
        if self.pg_dsn is None:
            db = self._sqlite()
            try:
                if params:
                    db.execute(sql, tuple(params))
                else:
                    db.executescript(sql)
            finally:
                db.close()
            return
        self._pg_write([_bind(sql, params)])

    def db_executemany(self, sql, seq_of_params):
        """One statement run for each set of parameters, in one transaction."""
        if self.pg_dsn is None:
            db = self._sqlite()
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(sql, [tuple(p) for p in seq_of_params])
                db.execute("COMMIT")
            finally:
                db.close()
            return
        self._pg_write([_bind(sql, p) for p in seq_of_params])

    def _pg_write(self, statements):
        # a writer as the server's are: the writers' lock first, waited for
        # as long as the server waits
        self._psql("SET lock_timeout TO '10s';\nBEGIN;\nSELECT pg_advisory_xact_lock(%d, "
                   "hashtext(current_schema())) "
                   "\\g /dev/null\n%s\nCOMMIT;\n" % (STORE_LOCK_KEY, "".join(
                       st.rstrip().rstrip(";") + ";\n" for st in statements)))

    @contextlib.contextmanager
    def hold_store_lock(self, timeout=15):
        """Holds the store's write lock as another writer would while the
        body of the with runs: on SQLite a transaction begun IMMEDIATE, on
        PostgreSQL a psql session holding the writers' advisory lock."""
        if self.pg_dsn is None:
            db = self._sqlite(timeout)
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                finally:
                    db.execute("ROLLBACK")
            finally:
                db.close()
            return
        import select
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        p = subprocess.Popen([PSQL, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                              "-d", self.pg_dsn], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            p.stdin.write(b"SET lock_timeout TO '%ds';\n"
                          b"SELECT 'locked' FROM "
                          b"pg_advisory_lock(%d, hashtext(current_schema()));\n"
                          % (timeout, STORE_LOCK_KEY))
            p.stdin.flush()
            got = b""
            deadline = time.monotonic() + timeout + 5
            while b"locked\n" not in got:
                left = deadline - time.monotonic()
                if left <= 0 or p.poll() is not None:
                    raise AssertionError("psql did not take the store lock (exit %s): %r %s" % (
                        p.poll(), got, _read_some(p.stderr)))
                ready, _, _ = select.select([p.stdout], [], [], min(left, 0.5))
                if ready:
                    chunk = os.read(p.stdout.fileno(), 4096)
                    if not chunk:
                        continue  # EOF: psql exits; poll() says so next round
                    got += chunk
            yield
            p.stdin.write(b"SELECT pg_advisory_unlock_all();\n\\q\n")
            p.stdin.close()
            if p.wait(timeout=10) != 0:
                raise AssertionError("psql holding the store lock exited %d: %s" % (
                    p.returncode, _read_some(p.stderr)))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
            for f in (p.stdin, p.stdout, p.stderr):
                try:
                    f.close()
                except (OSError, ValueError):
                    pass

    # --- process -----------------------------------------------------------
    def start(self):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.command_prefix + [BIN, "-c", self.conf, "serve"],
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        ports = [p for p in (self.pop3_port, self.pop3s_port, self.smtp_port,
                             self.submission_port, self.submissions_port,
                             self.imap_port, self.imaps_port) if p]
        n0 = self.sessions_ended()
        deadline = time.monotonic() + 15
        for port in ports:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("serve exited %d: %s" % (
                        self.proc.returncode, self.log_text()))
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError("serve does not listen on %d" % port)
                    time.sleep(0.05)
        # the probes above count against the connection limits until the
        # server has seen them go
        deadline = time.monotonic() + 10
        while self.sessions_ended() < n0 + len(ports):
            if time.monotonic() > deadline:
                raise AssertionError("probe connections not closed")
            time.sleep(0.02)
        return self

    def sessions_ended(self):
        """The session records in the log so far (text or json form)."""
        return len(re.findall(r'sid=\w+ \w+ session |"event":"session"', self.log_text()))

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log_text()):
                return True
            time.sleep(0.05)
        raise AssertionError("log never matched %r:\n%s" % (pattern, self.log_text()[-3000:]))

    def stop(self, expect_rc=0):
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("serve did not stop within 10 s of SIGTERM")
        elif self.proc is not None:
            rc = self.proc.returncode
        if self.proc is not None:
            self.log.close()
            text = self.log_text()
            check_sanitizer(text, "mailroom serve")
            if expect_rc is not None and rc != expect_rc:
                raise AssertionError("serve exited %s:\n%s" % (rc, text[-3000:]))
            self.proc = None
        return rc

    def cleanup(self):
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if exc[0] is None:
                self.stop()
        finally:
            self.cleanup()

    # --- clients ---------------------------------------------------------------
    def raw(self, tls=False, timeout=5, port=None):
        return Raw(port or (self.pop3s_port if tls else self.pop3_port), tls, timeout)

    def smtp(self, port=None, ehlo=True):
        import smtplib
        c = smtplib.SMTP("127.0.0.1", port or self.smtp_port, timeout=10)
        if ehlo:
            c.ehlo("client.example")
        return c

    def submission(self, user=None, password=PASSWORD, implicit=False):
        import smtplib
        if implicit:
            c = smtplib.SMTP_SSL("127.0.0.1", self.submissions_port, timeout=10,
                                 context=tls_client_context())
            c.ehlo("client.example")
        else:
            c = smtplib.SMTP("127.0.0.1", self.submission_port, timeout=10)
            c.ehlo("client.example")
            c.starttls(context=tls_client_context())
            c.ehlo("client.example")
        if user:
            c.login(user, password)
        return c

    def messages(self, user, password=PASSWORD):
        """Every message of a mailbox over POP3, in wire form (bytes)."""
        c = self.poplib_stls(user, password)
        out = [b"\r\n".join(c.retr(i + 1)[1]) + b"\r\n" for i in range(c.stat()[0])]
        c.quit()
        return out

    def poplib_stls(self, user=None, password=PASSWORD):
        import poplib
        c = poplib.POP3("127.0.0.1", self.pop3_port, timeout=10)
        c.stls(tls_client_context())
        if user:
            c.user(user)
            c.pass_(password)
        return c

    def imaplib_stls(self, user=None, password=PASSWORD):
        """An IMAP4 client on the STARTTLS port, logged in when user is given."""
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        c.starttls(ssl_context=tls_client_context())
        if user is not None:
            c.login(user, password)
        return c

    def imap_login(self, user, password=PASSWORD):
        """The tagged reply ("OK ...", "NO [...] ...") to LOGIN over STARTTLS,
        or to AUTHENTICATE PLAIN for a name or password that is not ASCII
        (as clients do: LOGIN's strings would need literals); the session is
        dropped after it."""
        c = self.imaplib_stls()
        try:
            if (user + password).isascii():
                typ, data = c._simple_command("LOGIN", c._quote(user), c._quote(password))
                return "%s %s" % (typ, data[-1].decode(errors="replace") if data else "")
            cred = b"\0" + user.encode() + b"\0" + password.encode()
            try:
                typ, data = c.authenticate("PLAIN", lambda _: cred)
                return "%s %s" % (typ, data[-1].decode(errors="replace") if data else "")
            except imaplib.IMAP4.error as e:
                return "NO %s" % e
        except imaplib.IMAP4.error as e:
            return "BAD %s" % e
        finally:
            try:
                c.shutdown()
            except OSError:
                pass

    def imaplib_ssl(self, user=None, password=PASSWORD):
        c = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=tls_client_context(),
                              timeout=10)
        if user is not None:
            c.login(user, password)
        return c

    def poplib_ssl(self, user=None, password=PASSWORD):
        import poplib
        c = poplib.POP3_SSL("127.0.0.1", self.pop3s_port, timeout=10,
                            context=tls_client_context())
        if user:
            c.user(user)
            c.pass_(password)
        return c


def _read_some(f, timeout=1):
    """What a pipe has to say within timeout (for an error message)."""
    import select
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([f], [], [], deadline - time.monotonic())
        if not ready:
            break
        chunk = os.read(f.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def check_sanitizer(text, what):
    for mark in SANITIZER_MARKS:
        if mark in text:
            raise AssertionError("%s: sanitizer report:\n%s" % (what, text[-4000:]))


class Raw:
    """A line-level POP3 client over a plain or TLS socket, every read bounded."""

    def __init__(self, port, tls=False, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""

    def starttls(self):
        self.sock = tls_client_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multiline(self):
        lines = []
        while True:
            ln = self.line()
            if ln == b".":
                return lines
            lines.append(ln)

    def closed(self, timeout=5):
        """True if the server closes the connection (EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run_tests(module_globals):
    tests = [(n, f) for n, f in sorted(module_globals.items())
             if n.startswith("test_") and callable(f)]
    only = os.environ.get("TEST_ONLY")
    passed = failed = skipped = 0
    for name, fn in tests:
        if only and only not in name:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("ok   %s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
        except Skip as e:
            skipped += 1
            print("skip %s (%s)" % (name, e), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % name, flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (passed, failed))
    if skipped and not passed and not failed:
        sys.exit(77)  # every test run was skipped: ctest's SKIP_RETURN_CODE
    sys.exit(1 if failed or not passed else 0)

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_store_pg.py - the PostgreSQL engine of the store with a real
PostgreSQL 15 started here (tests/common/pgserver.py), whatever engine the
rest of the suite runs on.

- Two mailroom servers with their own data dirs on one PostgreSQL store:
  mail accepted over SMTP by one is read over POP3 from the other, and a
  user added with one server's CLI logs in on the other.
- The PostgreSQL server restarts under a running mailroom: while it is
  down SMTP says 451 4.3.0 and POP3 -ERR [SYS/TEMP]; once it is back the
  same mailroom serves again without a restart, and nothing that got a 250
  is lost.
- Failover: a standby made with pg_basebackup, synchronous replication,
  a dsn naming both hosts with target_session_attrs=read-write. The
  primary is killed with SIGKILL mid-stream, the standby promoted; mailroom
  reconnects to it, and every message that got a 250 before the kill is
  there, none twice.
- The writers' lock held by another session: DATA waits the lock timeout
  and answers 451 4.3.0; nothing of the message is kept; then it works.
- A database that would check or convert text (UTF8) is refused by init,
  with the createdb command that makes a right one.
- Two servers run queue managers over the one queue: each of 40 messages
  reaches the next hop once. A server killed with SIGKILL in the middle of
  a delivery leaves its claim; another server delivers the message once the
  claim ([node] lease) has run out, and only once.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, run_tests  # noqa: E402

COMMON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "common")
sys.path.insert(0, COMMON)
import pgserver  # noqa: E402

ALICE = "alice@example.test"
WRITE_LOCK = 1835100524  # store_pg.c PG_WRITE_LOCK, with the schema's hash


def need_pg():
    if not os.path.exists(os.path.join(pgserver.PG_BIN, "initdb")):
        print("skip: PostgreSQL 15 is not installed (scripts/deps.sh test)")
        sys.exit(77)


def store_extra(dsn, schema):
    """[store] keys for a server on this dsn, in a schema of its own."""
    if dsn.startswith("postgresql://"):
        sep = "&" if "?" in dsn else "?"
        full = "%s%soptions=-csearch_path%%3D%s" % (dsn, sep, schema)
    else:
        full = "%s options=-csearch_path=%s" % (dsn, schema)
    return {"store.backend": "postgresql", "store.dsn": full}


def msg(n):
    return ("From: bob@remote.test\r\nTo: %s\r\nSubject: m%d\r\nMessage-ID: <m%d@remote.test>"
            "\r\n\r\nbody of message %d\r\n" % (ALICE, n, n, n)).encode()


def send(srv, n, timeout=10):
    """One message over SMTP; the reply code of DATA (250, or the error's)."""
    import smtplib
    try:
        c = smtplib.SMTP("127.0.0.1", srv.smtp_port, timeout=timeout)
        c.ehlo("client.example")
        c.sendmail("bob@remote.test", [ALICE], msg(n))
        c.quit()
        return 250
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients[ALICE][0]
    except smtplib.SMTPResponseException as e:
        return e.smtp_code
    except (smtplib.SMTPException, OSError):
        return 0


def subjects(srv):
    out = []
    for m in srv.messages(ALICE):
        for line in m.split(b"\r\n"):
            if line.startswith(b"Subject: "):
                out.append(line[9:].decode())
                break
    return out


def wait_for(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.2)
    raise AssertionError("no %s within %ss" % (what, timeout))


def psql(dsn, sql):
    p = subprocess.run([pgserver.PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                        "-d", dsn, "-c", sql], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "psql %r: %s" % (sql, p.stdout.decode(errors="replace"))
    return p.stdout.decode().strip()


def test_two_servers_one_store():
    need_pg()
    with pgserver.PgServer(port=free_port()) as pg:
        extra = store_extra(pg.dsn, "shared")
        extra["delivery.enabled"] = "no"
        with Server(dict(extra), smtp=True) as a, Server(dict(extra), smtp=True) as b:
            a.add_user(ALICE)  # made with a's CLI, seen by b
            a.start()
            b.start()
            assert send(a, 1) == 250
            assert send(b, 2) == 250
            assert sorted(subjects(b)) == ["m1", "m2"]
            assert sorted(subjects(a)) == ["m1", "m2"]
            p = a.cli("config", "check")
            assert b"postgresql 127.0.0.1:%d/mailroom, schema shared: ok" % pg.port \
                in p.stdout, p.stdout


def test_postgresql_restart_under_a_running_server():
    need_pg()
    with pgserver.PgServer(port=free_port()) as pg:
        with Server(store_extra(pg.dsn, "restart"), smtp=True) as srv:
            srv.add_user(ALICE)
            srv.start()
            assert send(srv, 1) == 250
            assert pg.stop()
            code = send(srv, 2)
            assert code in (421, 451), (code, srv.log_text()[-3000:])
            import poplib
            try:
                srv.messages(ALICE)
                raise AssertionError("POP3 login worked with the store down")
            except poplib.error_proto as e:
                assert b"[SYS/TEMP]" in str(e).encode() or b"SYS/TEMP" in e.args[0], e
            log = srv.log_text()
            assert "warn store: the PostgreSQL store cannot be reached" in log, log[-3000:]
            pg.start()
            # the handles make their connections again at their next statement
            wait_for("a 250 after the restart", lambda: send(srv, 3) == 250)
            got = subjects(srv)
            assert got.count("m1") == 1 and got.count("m3") == 1, got
            assert "m2" not in got, got


def test_failover_to_a_promoted_standby():
    need_pg()
    with pgserver.PgServer(port=free_port()) as primary:
        standby = primary.make_standby(port=free_port())
        try:
            # synchronous: a commit returns once the standby has its WAL
            psql(primary.dsn, "ALTER SYSTEM SET synchronous_standby_names = '*'")
            psql(primary.dsn, "SELECT pg_reload_conf()")
            wait_for("a synchronous standby", lambda: psql(
                primary.dsn, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = "
                "'sync'") == "1")
            dsn = ("host=127.0.0.1,127.0.0.1 port=%d,%d user=mailroom dbname=mailroom "
                   "target_session_attrs=read-write connect_timeout=3"
                   % (primary.port, standby.port))
            with Server(store_extra(dsn, "failover"), smtp=True) as srv:
                srv.add_user(ALICE)
                srv.start()
                acked = []
                for n in range(1, 21):
                    if send(srv, n) == 250:
                        acked.append("m%d" % n)
                assert len(acked) == 20, acked
                primary.kill()  # SIGKILL: no shutdown, no last WAL
                standby.promote()
                wait_for("the standby to take writes",
                         lambda: psql(standby.dsn, "SELECT pg_is_in_recovery()") == "f")
                n = 21
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    code = send(srv, n)
                    if code == 250:
                        acked.append("m%d" % n)
                        break
                    assert code in (0, 421, 451), code
                    n += 1
                    time.sleep(0.5)
                assert acked[-1] == "m%d" % n, acked
                for k in range(n + 1, n + 6):
                    assert send(srv, k) == 250
                    acked.append("m%d" % k)
                got = subjects(srv)
                for s in acked:
                    assert got.count(s) == 1, (s, got)
                assert "reconnect" in srv.log_text() or "made again" in srv.log_text()
        finally:
            standby.cleanup()


def test_writers_lock_held_elsewhere():
    need_pg()
    with pgserver.PgServer(port=free_port()) as pg:
        with Server(store_extra(pg.dsn, "busy"), smtp=True) as srv:
            srv.add_user(ALICE)
            srv.start()
            holder = subprocess.Popen(
                [pgserver.PSQL, "-X", "-q", "-A", "-t", "-d", pg.dsn],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                holder.stdin.write(b"SELECT pg_advisory_lock(%d, hashtext('busy'));\n"
                                   b"SELECT 'held';\n" % WRITE_LOCK)
                holder.stdin.flush()
                line = b""
                deadline = time.monotonic() + 20
                while b"held" not in line and time.monotonic() < deadline:
                    line = holder.stdout.readline()
                assert b"held" in line, line
                t0 = time.monotonic()
                code = send(srv, 1, timeout=40)  # longer than the lock timeout
                waited = time.monotonic() - t0
                assert code == 451, code
                assert waited >= 5, waited  # the lock timeout, not at once
            finally:
                holder.stdin.write(b"SELECT pg_advisory_unlock_all();\n\\q\n")
                holder.stdin.close()
                try:
                    holder.wait(10)
                except subprocess.TimeoutExpired:
                    holder.kill()
                    holder.wait(5)
            assert send(srv, 2) == 250
            assert subjects(srv) == ["m2"]
            assert psql(pg.dsn, "SELECT count(*) FROM busy.bodies") == "1"


def test_database_that_would_change_bytes_is_refused():
    need_pg()
    with pgserver.PgServer(port=free_port()) as pg:
        psql(pg.dsn, "CREATE DATABASE utf8db ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0")
        dsn = pg.dsn.rsplit("/", 1)[0] + "/utf8db"
        try:
            Server(store_extra(dsn, "x"))
            raise AssertionError("init worked on a UTF8 database")
        except AssertionError as e:
            text = str(e)
            assert "mailroom init: exit" in text, text
            assert "has encoding UTF8" in text and "createdb -E SQL_ASCII --locale=C" in text, text


def delivering(dsn, schema, sink_port=None, **extra):
    conf = store_extra(dsn, schema)
    conf.update({"delivery.enabled": "yes", "delivery.scan_interval": "1s",
                 "delivery.retry_min": "1s", "delivery.retry_max": "2s",
                 "delivery.connect_timeout": "3s", "delivery.command_timeout": "20s"})
    conf.update(extra)
    return Server(conf, smtp=True)


def submit(srv, n):
    c = srv.submission(ALICE)
    c.sendmail(ALICE, ["bob@remote.test"],
               ("From: %s\r\nTo: bob@remote.test\r\nSubject: out%d\r\nMessage-ID: "
                "<out%d@example.test>\r\n\r\nbody %d\r\n" % (ALICE, n, n, n)).encode())
    c.quit()


def test_two_queue_managers_deliver_each_message_once():
    need_pg()
    from test_delivery import start_sink
    ctl, sink, port = start_sink()
    try:
        with pgserver.PgServer(port=free_port()) as pg:
            with delivering(pg.dsn, "twoq", **{"node.name": "a"}) as a, \
                    delivering(pg.dsn, "twoq", **{"node.name": "b"}) as b:
                a.add_user(ALICE)
                a.cli("route", "add", "remote.test", "127.0.0.1:%d" % port, "--tls", "none")
                a.start()
                b.start()
                for n in range(40):
                    submit(a if n % 2 else b, n)
                wait_for("40 deliveries", lambda: len(sink.messages) >= 40, timeout=60)
                time.sleep(3)  # two more scans of each: nothing is sent again
                ids = [m[2].split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in sink.messages]
                assert len(ids) == 40 and len(set(ids)) == 40, sorted(ids)
                assert json.loads(a.cli("queue", "list", "--json").stdout) == []
    finally:
        ctl.stop()


class SlowSink:
    """Holds the first RCPT until released: a delivery in progress."""

    def __init__(self):
        import threading
        self.messages, self.rcpts = [], 0
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio
        self.rcpts += 1
        if self.rcpts == 1:
            for _ in range(300):
                if self.release.is_set():
                    break
                await asyncio.sleep(0.1)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 2.0.0 Ok: stored"


def test_a_killed_nodes_claims_are_taken_over():
    need_pg()
    from test_delivery import start_sink
    sink = SlowSink()
    ctl, sink, port = start_sink(sink=sink)
    try:
        with pgserver.PgServer(port=free_port()) as pg:
            with delivering(pg.dsn, "takeover", **{"node.name": "a", "node.lease": "4s"}) as a:
                a.add_user(ALICE)
                a.cli("route", "add", "remote.test", "127.0.0.1:%d" % port, "--tls", "none")
                a.start()
                submit(a, 1)
                wait_for("a in its delivery", lambda: sink.rcpts >= 1)
                a.proc.kill()  # SIGKILL: its claim stays behind
                a.proc.wait(10)
                a.stop(expect_rc=None)
                sink.release.set()
                with delivering(pg.dsn, "takeover",
                                **{"node.name": "b", "node.lease": "4s"}) as b:
                    b.start()
                    t0 = time.monotonic()
                    wait_for("b's delivery", lambda: len(sink.messages) == 1, timeout=30)
                    # not before a's claim ran out
                    assert time.monotonic() - t0 >= 1, time.monotonic() - t0
                    time.sleep(3)
                    assert len(sink.messages) == 1
                    assert json.loads(b.cli("queue", "list", "--json").stdout) == []
    finally:
        ctl.stop()


if __name__ == "__main__":
    run_tests(globals())

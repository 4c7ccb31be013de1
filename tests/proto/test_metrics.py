#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_metrics.py - [metrics] listen: /metrics and /health over HTTP.

A server with the endpoint on a free loopback port. The exposition is read
by a strict parser of the text format 0.0.4 (and by promtool when it is
installed); the counters must move as real clients work: a POP3 login and
RETR (poplib over STLS), a submission (smtplib with STARTTLS and AUTH) to a
local mailbox and one to a remote address (it stays queued: delivery is
off), and the store gauges follow once their 5 s cache has run out.
Hostile clients: a head sent slowly (closed at the 10 s deadline), a 1 MB
head (431), garbage and a TLS hello (400), 100 connections at once (the
ones over the cap get 503); the endpoint answers afterwards each time.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, free_port, run_tests  # noqa: E402

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? ([-+]?(?:[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|NaN))$"
                    % (NAME, LABEL, LABEL))


def parse(text):
    """Strict: HELP then TYPE before every family, samples only of the family
    named last (a histogram's _bucket/_sum/_count), each family once, every
    line ends in LF. Returns {series: value}; the series as rendered."""
    assert text.endswith("\n"), "the exposition must end with a line feed"
    series, families = {}, set()
    family = ftype = None
    lines = text.split("\n")[:-1]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            assert re.fullmatch(NAME, name), line
            assert name not in families, "family %s twice" % name
            families.add(name)
            t = lines[i + 1].split(" ")
            assert t[:3] == ["#", "TYPE", name] and len(t) == 4, lines[i + 1]
            assert t[3] in ("counter", "gauge", "histogram"), lines[i + 1]
            family, ftype = name, t[3]
            i += 2
            continue
        m = SAMPLE.match(line)
        assert m, "bad sample line %r" % line
        name = m.group(1)
        allowed = {family}
        if ftype == "histogram":
            allowed = {family + "_bucket", family + "_sum", family + "_count"}
        assert name in allowed, "%s outside its family %s" % (name, family)
        key = name + (m.group(2) or "")
        assert key not in series, "series %s twice" % key
        series[key] = float(m.group(3))
        i += 1
    return series


def http(port, path="/metrics", method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def scrape(port):
    status, headers, body = http(port)
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    assert headers["Connection"] == "close"
    return parse(body)


def promtool(text):
    if shutil.which("promtool") is None:
        return
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0, "promtool: %s" % p.stdout.decode()


def metrics_server(**kw):
    port = free_port()
    s = Server(extra={"metrics.listen": "127.0.0.1:%d" % port}, **kw)
    s.metrics_port = port
    return s


def raw_exchange(port, data, timeout=12):
    """Sends data, reads until the server closes; returns (reply, seconds)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        try:
            c.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                out += chunk
        except ConnectionResetError:
            pass
    return out, time.monotonic() - t0


# --- format and routes ---------------------------------------------------------

def test_format_and_routes():
    with metrics_server() as s:
        s.start()
        s.wait_log(r"listening service=metrics addr=127\.0\.0\.1:%d" % s.metrics_port)
        status, headers, body = http(s.metrics_port)
        assert status == 200
        promtool(body)
        m = parse(body)
        assert m["mailroom_up"] == 1
        assert m["mailroom_store_up"] == 1
        assert m["mailroom_queue_messages"] == 0
        assert m["mailroom_store_bytes"] > 0
        assert any(k.startswith("mailroom_build_info{version=") for k in m)
        assert abs(m["mailroom_process_start_time_seconds"] - time.time()) < 120
        for fam in ("login_duration_seconds", "retr_duration_seconds", "data_to_250_seconds"):
            assert m["mailroom_%s_bucket{le=\"+Inf\"}" % fam] == m["mailroom_%s_count" % fam]
        for result in ("sent", "deferred", "bounced", "expired", "local", "report"):
            assert 'mailroom_deliveries_total{result="%s"}' % result in m

        assert http(s.metrics_port, "/health") == (200, http(s.metrics_port, "/health")[1], "ok\n")
        status, headers, body = http(s.metrics_port, "/metrics", "HEAD")
        assert status == 200 and body == "" and int(headers["Content-Length"]) > 1000
        assert http(s.metrics_port, "/metrics?x=1")[0] == 200
        assert http(s.metrics_port, "/")[0] == 404
        assert http(s.metrics_port, "/metricsx")[0] == 404
        status, headers, _ = http(s.metrics_port, "/metrics", "POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        # the endpoint counts its own requests
        m = scrape(s.metrics_port)
        ok = 'mailroom_commands_total{service="metrics",command="GET",result="ok"}'
        err = 'mailroom_commands_total{service="metrics",command="GET",result="err"}'
        assert m[ok] >= 4 and m[err] >= 2, m


def test_health_store_unreadable():
    """/health is 503 and store_up 0 once the store cannot be read (its
    files emptied behind the server's back), after the 5 s cache at most."""
    with metrics_server() as s:
        s.start()
        assert http(s.metrics_port, "/health")[0] == 200
        data = os.path.join(s.dir, "data")
        for name in ("mailroom.db-wal", "mailroom.db"):
            if os.path.exists(os.path.join(data, name)):
                os.truncate(os.path.join(data, name), 0)
        deadline = time.monotonic() + 15
        while http(s.metrics_port, "/health")[:3:2] != (503, "store unreadable\n"):
            assert time.monotonic() < deadline, "/health never said 503"
            time.sleep(0.3)
        m = scrape(s.metrics_port)
        assert m["mailroom_store_up"] == 0 and "mailroom_queue_messages" not in m, m
        s.wait_log(r"warn metrics: the store does not answer: ")
        s.stop(expect_rc=None)  # the store is gone; only a clean exit matters


# --- counters move as clients work --------------------------------------------------

def wait_moved(port, base, want, timeout=10):
    """Scrapes until every series in want has moved by at least its amount
    from base; returns the last scrape, or fails naming what did not move."""
    deadline = time.monotonic() + timeout
    while True:
        m = scrape(port)
        short = {k: (m.get(k, 0) - base.get(k, 0), d) for k, d in want.items()
                 if m.get(k, 0) - base.get(k, 0) < d}
        if not short:
            return m
        if time.monotonic() > deadline:
            raise AssertionError("series that did not move (moved, wanted): %r" % short)
        time.sleep(0.3)


# Counted from the records of the pop3/, smtp/, net/ and server/ parts
# (util/log.h): connections, TLS, commands, logins, messages, sessions.
CLIENT_SERIES = {
    'mailroom_connections_total{service="pop3",result="accepted"}': 1,
    'mailroom_sessions_total{service="pop3"}': 1,
    'mailroom_tls_handshakes_total{service="pop3",version="TLSv1.3",result="ok"}': 1,
    'mailroom_logins_total{service="pop3",mech="USER",result="ok"}': 1,
    'mailroom_commands_total{service="pop3",command="RETR",result="ok"}': 1,
    'mailroom_commands_total{service="pop3",command="STLS",result="ok"}': 1,
    'mailroom_retr_duration_seconds_count': 1,
    'mailroom_connections_total{service="submission",result="accepted"}': 2,
    'mailroom_logins_total{service="submission",mech="PLAIN",result="ok"}': 2,
    'mailroom_commands_total{service="submission",command="DATA",result="ok"}': 2,
    'mailroom_messages_received_total{service="submission"}': 2,
    'mailroom_data_to_250_seconds_count': 2,
    'mailroom_login_duration_seconds_count': 3,
    'mailroom_logins_total{service="pop3",mech="USER",result="failed"}': 1,
}
# Read from the store on a worker (5 s cache).
STORE_SERIES = {
    "mailroom_store_bodies": 2,
    "mailroom_queue_messages": 1,
}


def test_counters_move():
    with metrics_server(smtp=True) as s:
        s.add_user("alice@example.test")
        s.deliver("alice@example.test", "Subject: one\r\n\r\nfirst\r\n")
        s.start()
        base = scrape(s.metrics_port)
        assert base["mailroom_store_bodies"] == 1

        c = s.poplib_stls("alice@example.test")
        assert c.stat()[0] == 1
        assert b"first" in b"\n".join(c.retr(1)[1])
        c.quit()
        import poplib
        bad = s.poplib_stls()
        bad.user("alice@example.test")
        try:
            bad.pass_("wrong")
            raise AssertionError("a wrong password logged in")
        except poplib.error_proto:
            pass
        bad.quit()
        for rcpt in ("alice@example.test", "carol@remote.test"):
            sub = s.submission("alice@example.test")
            sub.sendmail("alice@example.test", [rcpt],
                         "From: alice@example.test\r\nTo: %s\r\nSubject: two\r\n\r\n"
                         "second\r\n" % rcpt)
            sub.quit()

        # the store gauges first: they need only this part
        m = wait_moved(s.metrics_port, base, STORE_SERIES, timeout=15)
        assert m["mailroom_queue_oldest_age_seconds"] < 120
        m = wait_moved(s.metrics_port, base, CLIENT_SERIES)
        promtool(http(s.metrics_port)[2])  # with every family filled in
        for fam in ("login_duration_seconds", "retr_duration_seconds", "data_to_250_seconds"):
            assert m["mailroom_%s_bucket{le=\"+Inf\"}" % fam] == m["mailroom_%s_count" % fam]
            assert m["mailroom_%s_sum" % fam] > 0


# --- hostile clients -------------------------------------------------------------------

def still_answers(s):
    m = scrape(s.metrics_port)
    assert m["mailroom_up"] == 1


def test_hostile_heads():
    with metrics_server() as s:
        s.start()
        port = s.metrics_port
        # garbage and a TLS hello: 400 at once, then closed
        out, _ = raw_exchange(port, b"garbage\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 "), out
        out, secs = raw_exchange(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert out.startswith(b"HTTP/1.1 400 ") and secs < 5, (out, secs)
        out, _ = raw_exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n")  # no Host
        assert out.startswith(b"HTTP/1.1 400 "), out
        out, _ = raw_exchange(port, b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 505 "), out
        # HTTP/1.0 without Host; a second request on the line is not answered
        out, _ = raw_exchange(port, b"GET /health HTTP/1.0\r\n\r\nGET /health HTTP/1.0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 ") and out.count(b"HTTP/1.1") == 1, out
        assert b"\r\nConnection: close\r\n" in out
        # 1 MB of head: 431 once 8 KiB are in, the connection closed
        big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n"
        out, secs = raw_exchange(port, big)
        assert out.startswith(b"HTTP/1.1 431 ") and secs < 5, (out[:80], secs)
        still_answers(s)


def test_slow_head():
    with metrics_server() as s:
        s.start()
        port = s.metrics_port
        t0 = time.monotonic()
        c = socket.create_connection(("127.0.0.1", port), timeout=15)
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        closed = None
        for b in head:  # one octet every 0.1 s: the head never ends in time
            try:
                c.sendall(bytes([b]))
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - t0
                break
            if b % 7 == 0:
                still_answers(s)  # the loop is not held up meanwhile
            time.sleep(0.1)
        if closed is None:
            c.settimeout(15)
            try:
                assert c.recv(100) == b""
            except ConnectionResetError:
                pass
            closed = time.monotonic() - t0
        c.close()
        assert 9 <= closed <= 13, "closed after %.1f s, not at the 10 s deadline" % closed
        still_answers(s)


def test_many_connections():
    with metrics_server() as s:
        s.start()
        port = s.metrics_port
        socks = []
        for _ in range(100):
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)
        refused = 0
        for c in socks:
            c.settimeout(0.2)
            try:
                data = c.recv(200)
                if data.startswith(b"HTTP/1.1 503 "):
                    refused += 1
            except (socket.timeout, ConnectionResetError):
                pass
        # the cap holds 16; the rest got 503 and were closed
        assert refused >= 100 - 16, refused
        # the ones held open still get their answer
        answered = 0
        for c in socks:
            try:
                c.settimeout(5)
                c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                if c.recv(200).startswith(b"HTTP/1.1 200 "):
                    answered += 1
            except OSError:
                pass
            c.close()
        assert answered >= 1, answered
        deadline = time.monotonic() + 5
        while True:
            try:
                still_answers(s)
                break
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def test_listen_taken():
    """A [metrics] address another socket holds: serve refuses to start and
    names it."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    addr = "127.0.0.1:%d" % holder.getsockname()[1]
    try:
        with Server(extra={"metrics.listen": addr}) as s:
            p = subprocess.run([harness.BIN, "-c", s.conf, "serve"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=30)
            out = p.stdout.decode()
            assert p.returncode != 0, out
            assert "[metrics] listen: cannot listen on %s" % addr in out, out
            harness.check_sanitizer(out, "mailroom serve")
    finally:
        holder.close()


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""Outbound delivery: the queue manager hands queued mail to a real second
SMTP server on loopback (aiosmtpd from Debian's python3-aiosmtpd), through
routes; refusals and unreachable hops give RFC 3464 reports in the sender's
POP3 mailbox; retries back off; reports never go to the null sender."""
import email
import json
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, free_port, run_tests  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

ALICE = "alice@example.test"


class Sink:
    """Records what arrives; refuses recipients whose local part starts with
    'refuse' (550) or 'later' (451)."""

    def __init__(self):
        self.messages = []
        self.sessions = set()  # connections that carried messages

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("refuse"):
            return "550 5.1.1 <%s>: no such user here" % address
        if local.startswith("later"):
            return "451 4.2.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                              session.authenticated))
        self.sessions.add(id(session))
        return "250 2.0.0 Ok: stored"


class SevenBitSink(Sink):
    """A next hop that does not offer 8BITMIME."""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [r for r in responses if "8BITMIME" not in r.upper()]


def start_sink(tls=False, auth=False, sink=None):
    sink = sink or Sink()
    port = free_port()
    kw = {}
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert = os.path.join(sink_dir(), "cert.pem")
        key = os.path.join(sink_dir(), "key.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "1", "-subj",
                            "/CN=sink.test"], check=True, capture_output=True)
        ctx.load_cert_chain(cert, key)
        kw["tls_context"] = ctx
        kw["require_starttls"] = False
    if auth:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"relayuser" \
                and auth_data.password == b"relay-pw"
            return AuthResult(success=ok)
        kw["authenticator"] = authenticator
        kw["auth_require_tls"] = True
    c = Controller(sink, hostname="127.0.0.1", port=port, **kw)
    c.start()
    return c, sink, port


_SINK_DIR = None


def sink_dir():
    global _SINK_DIR
    if _SINK_DIR is None:
        import atexit
        import shutil
        import tempfile
        _SINK_DIR = tempfile.mkdtemp(prefix="mailroom-sink.")
        os.chmod(_SINK_DIR, 0o755)  # serve reads ca_file as [server] user
        atexit.register(shutil.rmtree, _SINK_DIR, True)
    return _SINK_DIR


class routed:
    """A sink on loopback and a started server whose route for `space` leads
    there: `with routed("example.org") as (srv, sink, port):`."""

    def __init__(self, space, extra=None, tls="none"):
        self.space, self.extra, self.tls = space, extra, tls

    def __enter__(self):
        self.ctl, self.sink, self.port = start_sink()
        self.srv = server(self.extra)
        self.srv.cli("route", "add", self.space, "127.0.0.1:%d" % self.port, "--tls", self.tls)
        self.srv.start()
        return self.srv, self.sink, self.port

    def __exit__(self, *exc):
        try:
            self.srv.stop()
            self.srv.cleanup()
        finally:
            self.ctl.stop()


def server(extra=None):
    conf = {"delivery.enabled": "yes", "delivery.scan_interval": "1s",
            "delivery.retry_min": "1s", "delivery.retry_max": "2s",
            "delivery.connect_timeout": "3s", "delivery.command_timeout": "10s"}
    conf.update(extra or {})
    srv = Server(conf, smtp=True)
    srv.add_user(ALICE)
    return srv


def wait(pred, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def queue(srv):
    return json.loads(srv.cli("queue", "list", "--json").stdout)


def reports(srv):
    out = []
    for raw in srv.messages(ALICE):
        m = email.message_from_bytes(raw)
        if m.get_content_type() == "multipart/report":
            out.append(m)
    return out


def status_fields(report):
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            return part.get_payload()  # list of Message: per-message then per-recipient
    raise AssertionError("no delivery-status part")


def test_delivered_through_route():
    with routed("example.org") as (srv, sink, port):
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["bob@example.org", "carol@example.org"],
                   b"Subject: out\r\n\r\n.dot line\r\nhello\r\n")
        s.quit()
        wait(lambda: sink.messages, what="delivery")
        frm, tos, content, _ = sink.messages[0]
        assert frm == ALICE and sorted(tos) == ["bob@example.org", "carol@example.org"]
        assert b"\r\n.dot line\r\nhello\r\n" in content or b"\n.dot line\nhello" in content
        assert b"Received: from client.example" in content
        wait(lambda: queue(srv) == [], what="queue empty")
        srv.wait_log(r"queue delivery qid=\S+ result=sent ms=\S+ to=<bob@example.org> "
                     r"relay=127.0.0.1\[127.0.0.1\]:%d starttls=no " % port)
        assert reports(srv) == []


def test_success_report_when_next_hop_has_no_dsn():
    c, sink, port = start_sink()  # aiosmtpd offers no DSN
    try:
        srv = server()
        srv.cli("route", "add", "*", "127.0.0.1:%d" % port, "--tls", "none")
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["n@far.test"], b"Subject: notify\r\n\r\nx\r\n",
                       rcpt_options=["NOTIFY=SUCCESS"])
            s.sendmail(ALICE, ["q@far.test"], b"Subject: quiet\r\n\r\nx\r\n",
                       rcpt_options=["NOTIFY=NEVER"])
            s.quit()
            rep = wait(lambda: reports(srv), what="relayed report")[0]
            f = [x for x in status_fields(rep) if x.get("Final-Recipient")]
            assert [x["Action"] for x in f] == ["relayed"], f
            assert f[0]["Final-Recipient"] == "rfc822; n@far.test"
            wait(lambda: len(sink.messages) == 2 and queue(srv) == [], what="both sent")
            time.sleep(1)
            assert len(reports(srv)) == 1
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        c.stop()


def test_eight_bit_converted_for_a_seven_bit_next_hop():
    c, sink, port = start_sink(sink=SevenBitSink())
    try:
        srv = server()
        srv.cli("route", "add", "*", "127.0.0.1:%d" % port, "--tls", "none")
        srv.start()
        try:
            body = "gr\u00fc\u00df Gott = 1 \r\n.line\r\n".encode()
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["a@far.test"],
                       b"Subject: latin\r\nMIME-Version: 1.0\r\n"
                       b"Content-Type: text/plain; charset=utf-8\r\n"
                       b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body,
                       mail_options=["BODY=8BITMIME"])
            # 8-bit in a header field cannot be converted: a report
            s.sendmail(ALICE, ["b@far.test"], "Subject: gr\u00fc\u00df\r\n\r\nx\r\n".encode(),
                       mail_options=["BODY=8BITMIME"])
            s.quit()
            wait(lambda: len(sink.messages) == 1, what="converted message")
            got = sink.messages[0][2]
            assert all(b < 0x80 for b in got), got
            m = email.message_from_bytes(got)
            assert m["Content-Transfer-Encoding"] == "quoted-printable", got
            assert m.get_payload(decode=True) == body, got
            assert b"gr=C3=BC=C3=9F Gott =3D 1=20\r\n" in got, got
            srv.wait_log(r"result=sent ms=\S+ to=<a@far\.test> relay=\S+ starttls=no mime=downgraded ")
            rep = wait(lambda: reports(srv), what="failure report")[0]
            f = [x for x in status_fields(rep) if x.get("Final-Recipient")]
            assert f[0]["Final-Recipient"] == "rfc822; b@far.test"
            assert f[0]["Status"] == "5.6.3", f[0].items()
            assert "cannot be converted" in f[0]["Diagnostic-Code"], f
            assert len(sink.messages) == 1
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        c.stop()


def test_silent_next_hop_times_out():
    import socket
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)  # accepts (by the kernel) and never says a word
    try:
        srv = server({"delivery.command_timeout": "2s"})
        srv.cli("route", "add", "mute.test", "127.0.0.1:%d" % lsock.getsockname()[1])
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["x@mute.test"], b"Subject: mute\r\n\r\nx\r\n")
            s.quit()
            srv.wait_log(r"result=deferred ms=\S+ to=<x@mute.test> relay=127.0.0.1\[127.0.0.1\]:\d+ "
                         r".*reply=\"4.4.2 conversation with 127.0.0.1 timed "
                         r"out after 2s waiting for the greeting\"", timeout=20)
            assert [e["recipients"] for e in queue(srv)] == [["x@mute.test"]]
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        lsock.close()


def test_ipv6_next_hop():
    import socket
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        print("skipped: no IPv6 loopback here")
        return
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="::1", port=port)
    ctl.start()
    try:
        srv = server()
        srv.cli("route", "add", "v6.test", "[::1]:%d" % port, "--tls", "none")
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["x@v6.test"], b"Subject: v6\r\n\r\nx\r\n")
            s.quit()
            wait(lambda: sink.messages, what="delivery over IPv6")
            srv.wait_log(r"result=sent ms=\S+ to=<x@v6.test> relay=::1\[::1\]:%d starttls=no "
                         % port)
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        ctl.stop()


def test_one_connection_for_several_messages():
    with routed("many.test", {"delivery.per_destination": "1"}) as (srv, sink, port):
        s = srv.submission(ALICE)
        for i in range(6):
            s.sendmail(ALICE, ["m%d@many.test" % i], b"Subject: batch\r\n\r\nx\r\n")
        s.quit()
        wait(lambda: len(sink.messages) == 6, what="six deliveries")
        assert len(sink.sessions) < 6, sink.sessions  # connections were reused


def test_refused_recipient_gets_report():
    with routed("*") as (srv, sink, port):
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["ok@far.test", "refuse-me@far.test"],
                   b"Subject: mixed\r\nMessage-ID: <m1@example.test>\r\n\r\nbody\r\n")
        s.quit()
        rep = wait(lambda: reports(srv), what="failure report")[0]
        assert rep["From"].startswith("Mail Delivery System")
        assert rep["Auto-Submitted"] == "auto-replied"
        fields = status_fields(rep)
        rcpts = [f for f in fields if f.get("Final-Recipient")]
        assert len(rcpts) == 1, fields
        assert rcpts[0]["Final-Recipient"] == "rfc822; refuse-me@far.test"
        assert rcpts[0]["Action"] == "failed" and rcpts[0]["Status"] == "5.1.1"
        assert "no such user here" in rcpts[0]["Diagnostic-Code"]
        assert b"Message-ID: <m1@example.test>" in rep.as_bytes()  # the original
        assert len(sink.messages) == 1 and sink.messages[0][1] == ["ok@far.test"]
        wait(lambda: queue(srv) == [], what="queue empty")
        # the null sender never gets a report
        s = srv.submission(ALICE)
        s.sendmail("", ["refuse-again@far.test"], b"Subject: bounce\r\n\r\nx\r\n")
        s.quit()
        wait(lambda: queue(srv) == [], what="queue empty")
        time.sleep(1)
        assert len(reports(srv)) == 1


def test_unreachable_retries_delay_then_failure():
    dead = free_port()  # nothing listens here
    srv = server({"delivery.delay_warning": "2s", "delivery.lifetime": "6s"})
    srv.cli("route", "add", "far.test", "127.0.0.1:%d" % dead)
    srv.start()
    try:
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["x@far.test"], b"Subject: stuck\r\n\r\nx\r\n")
        s.quit()
        q = wait(lambda: [e for e in queue(srv) if e["attempts"] >= 2], what="retries")
        assert q[0]["recipients"] == ["x@far.test"]
        delay = wait(lambda: [r for r in reports(srv)
                              if "Delayed" in r["Subject"]], what="delay notice")[0]
        rc = [f for f in status_fields(delay) if f.get("Final-Recipient")][0]
        assert rc["Action"] == "delayed" and rc["Status"].startswith("4.")
        fail = wait(lambda: [r for r in reports(srv)
                             if "Undelivered" in r["Subject"]], timeout=30,
                    what="failure report")[0]
        rc = [f for f in status_fields(fail) if f.get("Final-Recipient")][0]
        assert rc["Action"] == "failed" and "expired" in rc["Diagnostic-Code"]
        assert queue(srv) == []
        assert len([r for r in reports(srv) if "Delayed" in r["Subject"]]) == 1  # once
        srv.wait_log(r"result=deferred .*reply=\"4.4.1 connect to 127.0.0.1: ")
    finally:
        srv.stop()
        srv.cleanup()


def test_tls_required_and_auth_to_smart_host():
    plain, psink, pport = start_sink()
    tls, tsink, tport = start_sink(tls=True, auth=True)
    try:
        srv = server()
        srv.cli("route", "add", "needs-tls.test", "127.0.0.1:%d" % pport, "--tls", "encrypt")
        srv.cli("route", "add", "smart.test", "127.0.0.1:%d" % tport, "--tls", "encrypt",
                "--auth-user", "relayuser", "--password-stdin", stdin=b"relay-pw\n")
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["a@needs-tls.test"], b"Subject: tls\r\n\r\nx\r\n")
            s.sendmail(ALICE, ["b@smart.test"], b"Subject: smart\r\n\r\nx\r\n")
            s.quit()
            wait(lambda: tsink.messages, what="delivery over TLS with AUTH")
            assert tsink.messages[0][1] == ["b@smart.test"]
            assert tsink.messages[0][3] is True  # authenticated
            srv.wait_log(r"result=sent ms=\S+ to=<b@smart.test> relay=127.0.0.1\[127.0.0.1\]:%d "
                         r"starttls=yes " % tport)
            srv.wait_log(r"result=deferred ms=\S+ to=<a@needs-tls.test> .*reply=\"4.7.4 ")
            assert psink.messages == []  # never sent in the clear
            assert [e["recipients"] for e in queue(srv)] == [["a@needs-tls.test"]]
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        plain.stop()
        tls.stop()


class SlowSink(Sink):
    async def handle_DATA(self, server, session, envelope):
        import asyncio
        await asyncio.sleep(0.4)
        return await Sink.handle_DATA(self, server, session, envelope)


def test_sigterm_mid_run_delivers_each_once():
    sink = SlowSink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    srv = server({"delivery.threads": "2", "delivery.per_destination": "2"})
    srv.cli("route", "add", "slow.test", "127.0.0.1:%d" % port, "--tls", "none")
    srv.start()
    try:
        s = srv.submission(ALICE)
        for i in range(8):
            s.sendmail(ALICE, ["r%d@slow.test" % i], b"Subject: slow\r\n\r\nx\r\n")
        s.quit()
        wait(lambda: sink.messages, what="first delivery")
        srv.stop()  # SIGTERM while deliveries run: they finish, the rest waits
        left = len(queue(srv))
        assert 0 < left < 8, left
        srv.start()
        wait(lambda: queue(srv) == [], timeout=30, what="the rest after the restart")
        tos = sorted(t for m in sink.messages for t in m[1])
        assert tos == sorted("r%d@slow.test" % i for i in range(8)), tos  # each once
    finally:
        srv.stop()
        srv.cleanup()
        ctl.stop()


def test_tls_verify_refuses_an_unverifiable_certificate():
    tls, tsink, tport = start_sink(tls=True)  # self-signed: cannot verify
    try:
        srv = server()
        srv.cli("route", "add", "strict.test", "localhost:%d" % tport, "--tls", "verify")
        srv.cli("route", "add", "lax.test", "localhost:%d" % tport, "--tls", "may")
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["a@strict.test"], b"Subject: strict\r\n\r\nx\r\n")
            s.sendmail(ALICE, ["b@lax.test"], b"Subject: lax\r\n\r\nx\r\n")
            s.quit()
            srv.wait_log(r"result=deferred ms=\S+ to=<a@strict.test> .*reply=\"4.7.5 TLS handshake "
                         r"with localhost failed: self-signed certificate")
            wait(lambda: tsink.messages, what="opportunistic TLS delivery")
            assert [m[1] for m in tsink.messages] == [["b@lax.test"]]
            srv.wait_log(r"result=sent ms=\S+ to=<b@lax.test> .*starttls=yes ")
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        tls.stop()


def test_tls_verify_with_a_private_ca():
    d = sink_dir()
    ca_key, ca, key, csr, crt = (os.path.join(d, n) for n in (
        "ca.key", "ca.pem", "v.key", "v.csr", "v.pem"))
    ext = os.path.join(d, "v.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName = DNS:localhost\n")
    for cmd in (["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
                 "-out", ca, "-days", "1", "-subj", "/CN=mailroom test CA"],
                ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", "/CN=localhost"],
                ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                 "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext]):
        subprocess.run(cmd, check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, tls_context=ctx,
                     require_starttls=False)
    ctl.start()
    try:
        srv = server({"delivery.ca_file": ca})
        srv.cli("route", "add", "verified.test", "localhost:%d" % port, "--tls", "verify")
        srv.start()
        try:
            s = srv.submission(ALICE)
            s.sendmail(ALICE, ["a@verified.test"], b"Subject: verified\r\n\r\nx\r\n")
            s.quit()
            wait(lambda: sink.messages, what="delivery with a verified certificate")
            srv.wait_log(r"result=sent ms=\S+ to=<a@verified.test> relay=localhost\[127.0.0.1\]:%d "
                         r"starttls=yes " % port)
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        ctl.stop()


def test_restart_keeps_queue_and_delivers_once():
    dead = free_port()
    srv = server()
    srv.cli("route", "add", "later.test", "127.0.0.1:%d" % dead)
    srv.start()
    try:
        s = srv.submission(ALICE)
        for i in range(5):
            s.sendmail(ALICE, ["x%d@later.test" % i], b"Subject: q\r\n\r\nx\r\n")
        s.quit()
        wait(lambda: all(e["attempts"] >= 1 for e in queue(srv)) and len(queue(srv)) == 5,
             what="first attempts")
        srv.stop()
        c, sink, port = start_sink()
        try:
            srv.cli("route", "add", "later.test", "127.0.0.1:%d" % port, "--tls", "none")
            srv.start()
            wait(lambda: queue(srv) == [], what="queue drained after restart")
            time.sleep(2)
            tos = sorted(t for m in sink.messages for t in m[1])
            assert tos == ["x%d@later.test" % i for i in range(5)], tos  # each once
        finally:
            c.stop()
    finally:
        srv.stop()
        srv.cleanup()


class Hop:
    """A hand-made next hop on loopback: each connection is served by
    self.serve(sock) on a thread of its own; close() ends them all."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.conns = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        import socket
        import threading
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self.serve(c)
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


class Tarpit(Hop):
    """Accepts, then drips its greeting one octet every 0.3 s and never
    ends it (bounded: 60 s per connection)."""

    def serve(self, c):
        c.sendall(b"220 ")
        for _ in range(200):
            if self.stopping.wait(0.3):
                break
            c.sendall(b"x")


def test_tarpit_never_holds_every_slot():
    tar = Tarpit()
    ctl, sink, port = start_sink()
    srv = server({"delivery.threads": "2", "delivery.per_destination": "2",
                  "delivery.slow_after": "1s", "delivery.command_timeout": "30s"})
    try:
        srv.cli("route", "add", "tar1.test", "127.0.0.1:%d" % tar.port)
        srv.cli("route", "add", "tar2.test", "127.0.0.1:%d" % tar.port)
        srv.cli("route", "add", "ok.test", "127.0.0.1:%d" % port, "--tls", "none")
        srv.start()
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["a@tar1.test"], b"Subject: t1\r\n\r\nx\r\n")
        s.sendmail(ALICE, ["b@tar2.test"], b"Subject: t2\r\n\r\nx\r\n")
        wait(lambda: tar.conns >= 2, what="both agents in the tarpit")
        t0 = time.monotonic()
        s.sendmail(ALICE, ["c@ok.test"], b"Subject: healthy\r\n\r\nx\r\n")
        s.quit()
        wait(lambda: sink.messages, timeout=10, what="healthy mail past the tarpit")
        assert time.monotonic() - t0 < 8, time.monotonic() - t0
        assert [m[1] for m in sink.messages] == [["c@ok.test"]]
        assert sorted(r for e in queue(srv) for r in e["recipients"]) == \
            ["a@tar1.test", "b@tar2.test"]  # still dripping: not given up
    finally:
        tar.close()  # ends the drips, so the stop does not wait for them
        srv.stop()
        srv.cleanup()
        ctl.stop()


def test_reply_deadline_defers_a_dripping_next_hop():
    tar = Tarpit()
    srv = server({"delivery.command_timeout": "2s", "delivery.retry_min": "30s",
                  "delivery.per_destination": "1"})  # b@ waits for a@, bundled or not
    try:
        srv.cli("route", "add", "drip.test", "127.0.0.1:%d" % tar.port)
        srv.start()
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["a@drip.test"], b"Subject: d1\r\n\r\nx\r\n")
        s.sendmail(ALICE, ["b@drip.test"], b"Subject: d2\r\n\r\nx\r\n")
        s.quit()
        # octets keep coming, but the greeting as a whole is late
        srv.wait_log(r"result=deferred ms=\S+ to=<a@drip.test> relay=127.0.0.1\[127.0.0.1\]:%d "
                     r".*reply=\"4.4.2 conversation with 127.0.0.1 timed out "
                     r"after 2s waiting for the greeting\"" % tar.port, timeout=8)
        srv.wait_log(r"queue destination=drip.test suspended for 30s")
        time.sleep(1.5)
        assert tar.conns == 1, tar.conns  # b@ waits for the suspension, untried
        assert sorted(r for e in queue(srv) for r in e["recipients"]) == \
            ["a@drip.test", "b@drip.test"]
        assert "b@drip.test> relay=" not in srv.log_text()
    finally:
        tar.close()
        srv.stop()
        srv.cleanup()


class Scripted(Hop):
    """Answers each command from a table (prefix -> raw reply, or None for
    no answer at all) and records the commands it got."""

    def __init__(self, replies, greeting=b"220 scripted.test ESMTP\r\n"):
        self.replies, self.greeting = replies, greeting
        self.commands = []
        Hop.__init__(self)

    def serve(self, c):
        c.settimeout(5)
        c.sendall(self.greeting)
        f = c.makefile("rb")
        for _ in range(50):
            line = f.readline()
            if not line:
                return
            self.commands.append(line.strip().decode("latin-1"))
            for prefix, reply in self.replies:
                if line.upper().startswith(prefix):
                    if reply is None:  # silence, until the client gives up
                        self.stopping.wait(30)
                        return
                    c.sendall(reply)
                    break
            else:
                c.sendall(b"250 ok\r\n")
            if line.upper().startswith(b"QUIT"):
                return


def test_reply_deadline_in_the_transaction():
    hop = Scripted([(b"EHLO", b"250-scripted.test\r\n250 PIPELINING\r\n"),
                    (b"RCPT", None)])
    srv = server({"delivery.command_timeout": "2s"})
    try:
        srv.cli("route", "add", "quiet.test", "127.0.0.1:%d" % hop.port, "--tls", "none")
        srv.start()
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["x@quiet.test"], b"Subject: q\r\n\r\nx\r\n")
        s.quit()
        srv.wait_log(r"result=deferred ms=\S+ to=<x@quiet.test> relay=127.0.0.1\[127.0.0.1\]:%d "
                     r".*reply=\"4.4.2 conversation with 127.0.0.1 timed out "
                     r"after 2s waiting for the reply to RCPT\"" % hop.port, timeout=8)
        assert [e["recipients"] for e in queue(srv)] == [["x@quiet.test"]]
    finally:
        hop.close()
        srv.stop()
        srv.cleanup()


def test_malformed_multiline_reply_is_a_temporary_failure():
    # "250-" then "550 ": one reply must carry one code (RFC 5321 §4.2.1)
    hop = Scripted([(b"EHLO", b"250-scripted.test\r\n250 HELP\r\n"),
                    (b"RCPT", b"250-2.1.5 fine\r\n550 5.1.1 or not\r\n")])
    srv = server({"delivery.delay_warning": "1s"})
    try:
        srv.cli("route", "add", "odd.test", "127.0.0.1:%d" % hop.port, "--tls", "none")
        srv.start()
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["x@odd.test"], b"Subject: odd\r\n\r\nx\r\n")
        s.quit()
        why = (r"4.5.0 127.0.0.1 sent a malformed reply \(different reply codes in one "
               r"reply\) waiting for the reply to RCPT")
        srv.wait_log(r"result=deferred ms=\S+ to=<x@odd.test> relay=127.0.0.1\[127.0.0.1\]:%d "
                     r".*reply=\"%s\"" % (hop.port, why))
        assert [e["recipients"] for e in queue(srv)] == [["x@odd.test"]]  # not bounced
        rep = wait(lambda: reports(srv), what="delay notice")[0]
        assert "Delayed" in rep["Subject"], rep["Subject"]
        rc = [f for f in status_fields(rep) if f.get("Final-Recipient")][0]
        assert rc["Action"] == "delayed" and rc["Status"] == "4.5.0", rc.items()
        assert "malformed reply" in rc["Diagnostic-Code"], rc["Diagnostic-Code"]
        assert rc["Diagnostic-Code"].startswith("X-mailroom;"), rc["Diagnostic-Code"]
        assert not any(c.startswith("DATA") for c in hop.commands), hop.commands
        assert "QUIT" not in hop.commands  # out of step: the connection is dropped
    finally:
        srv.stop()
        srv.cleanup()
        hop.close()


def test_long_line_is_encoded_for_the_next_hop():
    import re
    words = " ".join("w%d" % i for i in range(400))  # about 2,300 octets, spaces
    text = ("A" * 2000 + "\r\nshort line\r\n" + "b=c " * 600 + "\r\n").encode()
    msg = ("Subject: long\r\nX-Long: %s\r\n\r\n" % words).encode() + text
    assert max(len(x) for x in msg.split(b"\r\n")) > 2000
    with routed("*") as (srv, sink, port):  # aiosmtpd answers 500 to lines over 1001
        s = srv.submission(ALICE)
        s.sendmail(ALICE, ["far@long.test"], msg)
        s.quit()
        wait(lambda: sink.messages, what="the encoded message")
        got = sink.messages[0][2]
        lines = got.replace(b"\r\n", b"\n").split(b"\n")
        assert max(len(x) for x in lines) <= 998, max(len(x) for x in lines)
        m = email.message_from_bytes(got)
        assert m["Content-Transfer-Encoding"] == "quoted-printable", got[:300]
        assert m.get_payload(decode=True).replace(b"\r\n", b"\n") == \
            text.replace(b"\r\n", b"\n"), got[:300]
        assert re.sub(r"\r?\n", "", m["X-Long"]) == words
        srv.wait_log(r"result=sent ms=\S+ to=<far@long.test> relay=\S+ starttls=no mime=reencoded ")
        assert reports(srv) == []


def test_unencodable_long_line_is_refused_at_data():
    import smtplib
    msg = b"Subject: x\r\nX-Token: " + b"t" * 1500 + b"\r\n\r\nbody\r\n"
    with routed("*") as (srv, sink, port):
        s = srv.submission(ALICE)
        try:
            s.sendmail(ALICE, ["far@long.test"], msg)
            raise AssertionError("accepted")
        except smtplib.SMTPDataError as e:
            assert e.smtp_code == 554 and b"998" in e.smtp_error, e
        s.sendmail(ALICE, [ALICE], msg)  # delivered here: no next hop involved
        s.quit()
        time.sleep(1)
        assert queue(srv) == [] and sink.messages == []
        assert any(b"t" * 1500 in raw for raw in srv.messages(ALICE))


if __name__ == "__main__":
    run_tests(globals())

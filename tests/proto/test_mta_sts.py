# SPDX-License-Identifier: MIT
"""MTA-STS (RFC 8461) on outbound delivery, against real pieces on loopback:
Debian's unbound answers the _mta-sts TXT records, the MX records and the
policy hosts (mta-sts.<domain> -> 127.0.0.1); Python's http.server over ssl
serves the policies with a certificate from a test CA made with the openssl
command ([delivery] ca_file, mta_sts_port); aiosmtpd sinks on port 25 of
127.0.213.x are the MX hosts, with STARTTLS and certificates from the same
CA, or without STARTTLS. So this test needs root, like test_dns.py.

Each domain is one case: enforce with a matching MX and a valid certificate
(delivered, the log names the policy); enforce with an MX the policy does
not list, with an MX without STARTTLS, with an MX whose certificate names
another host (all deferred "4.7.5 MTA-STS"); testing mode (delivered, what
would have failed logged: the MX, no TLS, a certificate for another name);
no TXT record (no policy, even though a policy is served); policies that
cannot be had (404, a redirect, not text/plain, over 64 KiB, invalid:
logged, no policy, and not fetched again on a retry). Then the cache: with
the policy server stopped the cached policies stay enforced, across a
restart too (the disk cache); a new TXT id makes the policy fetched again."""
import http.server
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import die_with_parent, run_tests  # noqa: E402
import test_delivery as D  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

# the sinks' failed handshakes are this test's point, not news
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

# this test's ports (21300-21399) and loopback addresses (127.0.213.x)
PORTS = range(21300, 21400)
MX_GOOD, MX_STRAY, MX_PLAIN = "127.0.213.1", "127.0.213.2", "127.0.213.3"
DOMAINS = ("good.test", "stray.test", "plain.test", "trial.test", "notxt.test", "badcert.test",
           "trialcert.test")
# policies that cannot be had: each domain is delivered as without one
BROKEN = {"missing.test": "HTTP status 404", "moved.test": "HTTP status 301",
          "html.test": "Content-Type text/html, not text/plain",
          "huge.test": "the policy is larger than 65536 octets",
          "garbled.test": "invalid policy: version is not STSv1"}
ALL = DOMAINS + tuple(BROKEN)


def zones(ids):
    z = ['  local-zone: "test." static']
    for d in ALL:
        z.append('  local-data: "mta-sts.%s. A 127.0.0.1"' % d)
        if d in ids:
            z.append("  local-data: '_mta-sts.%s. TXT \"v=STSv1; id=%s;\"'" % (d, ids[d]))
    z += ['  local-data: "good.test. MX 10 mx.good.test."',
          '  local-data: "mx.good.test. A %s"' % MX_GOOD,
          '  local-data: "stray.test. MX 10 mx.stray.test."',
          '  local-data: "mx.stray.test. A %s"' % MX_STRAY,
          '  local-data: "plain.test. MX 10 mx.plain.test."',
          '  local-data: "mx.plain.test. A %s"' % MX_PLAIN,
          '  local-data: "trial.test. MX 10 mx.plain.test."',
          '  local-data: "notxt.test. MX 10 mx.plain.test."',
          # its MX answers with mx.stray.test's certificate
          '  local-data: "badcert.test. MX 10 mx.badcert.test."',
          '  local-data: "mx.badcert.test. A %s"' % MX_STRAY,
          '  local-data: "trialcert.test. MX 10 mx.trialcert.test."',
          '  local-data: "mx.trialcert.test. A %s"' % MX_STRAY,
          # a spf-like record beside the policy's: only v=STSv1 ones count
          "  local-data: '_mta-sts.good.test. TXT \"v=spf1 -all\"'"]
    z += ['  local-data: "%s. MX 10 mx.plain.test."' % d for d in BROKEN]
    return "\n".join(z) + "\n"


POLICIES = {
    "good.test": "version: STSv1\r\nmode: enforce\r\nmx: mx.good.test\r\nmax_age: 86400\r\n",
    "stray.test": "version: STSv1\nmode: enforce\nmx: *.good.test\nmax_age: 86400\n",
    "plain.test": "version: STSv1\nmode: enforce\nmx: mx.plain.test\nmax_age: 86400\n",
    "trial.test": "version: STSv1\nmode: testing\nmx: mx.good.test\nmax_age: 86400\n",
    "notxt.test": "version: STSv1\nmode: enforce\nmx: mx.good.test\nmax_age: 86400\n",
    "badcert.test": "version: STSv1\nmode: enforce\nmx: mx.badcert.test\nmax_age: 86400\n",
    "trialcert.test": "version: STSv1\nmode: testing\nmx: mx.trialcert.test\nmax_age: 86400\n",
    # (status, Content-Type, body, more header fields)
    "moved.test": (301, "text/plain", "", {"Location": "/elsewhere.txt"}),
    "html.test": (200, "text/html", "version: STSv1\nmode: enforce\nmx: x.test\nmax_age: 9\n",
                  {}),
    "huge.test": (200, "text/plain", "version: STSv1\nmode: enforce\nmx: x.test\nmax_age: 9\n"
                  + "x-pad: %s\n" % ("x" * 70000), {}),
    "garbled.test": "version: STSv2\nmode: enforce\nmx: x.test\nmax_age: 9\n",
}


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_port(taken=()):
    for p in PORTS:
        if p not in taken and port_free(p):
            return p
    raise AssertionError("no free port in 21300-21399")


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


class CA:
    """A test CA and certificates it signs (openssl), in a folder serve can read."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-mta-sts.")
        os.chmod(self.dir, 0o755)
        self.key, self.pem = self.path("ca.key"), self.path("ca.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
             "-out", self.pem, "-days", "1", "-subj", "/CN=mailroom MTA-STS test CA"])
        os.chmod(self.pem, 0o644)

    def path(self, name):
        return os.path.join(self.dir, name)

    def issue(self, name, sans):
        key, csr, crt, ext = (self.path(name + s) for s in (".key", ".csr", ".pem", ".ext"))
        with open(ext, "w") as f:
            f.write("subjectAltName = %s\n" % ",".join("DNS:" + s for s in sans))
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", "/CN=" + sans[0]])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.pem, "-CAkey", self.key,
             "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext])
        return crt, key

    def context(self, name, sans):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.issue(name, sans))
        return ctx


class Unbound:
    def __init__(self, port, ids):
        self.dir = tempfile.mkdtemp(prefix="mailroom-mta-sts-dns.")
        self.port = port
        self.start(ids)

    def start(self, ids):
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("server:\n  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n"
                    "  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n"
                    "  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n"
                    "  pidfile: \"%s/unbound.pid\"\n  access-control: 127.0.0.0/8 allow\n"
                    "  module-config: \"iterator\"\n%s"
                    "remote-control:\n  control-enable: no\n"
                    % (self.port, self.dir, self.dir, zones(ids)))
        self.proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        query = bytes.fromhex("123401000001000000000000026d78046465616400000f0001")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("unbound exited: %s" % self.proc.stderr.read(2000))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.3)
                try:
                    s.sendto(query, ("127.0.0.1", self.port))
                    s.recv(512)
                    return
                except OSError:
                    time.sleep(0.1)
        raise AssertionError("unbound did not answer")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)

    def restart(self, ids):
        self.stop()
        self.start(ids)

    def cleanup(self):
        shutil.rmtree(self.dir, True)


class PolicyServer:
    """HTTPS on 127.0.0.1:port; the policy by the Host header's domain."""

    def __init__(self, port, ctx):
        self.policies = dict(POLICIES)
        self.fetches = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host = (self.headers.get("Host") or "").split(":")[0]
                domain = host[len("mta-sts."):] if host.startswith("mta-sts.") else ""
                body = outer.policies.get(domain)
                outer.fetches[domain] = outer.fetches.get(domain, 0) + 1
                if self.path != "/.well-known/mta-sts.txt" or body is None:
                    self.send_error(404)
                    return
                status, ctype, text, more = body if isinstance(body, tuple) else (
                    200, "text/plain; charset=utf-8", body, {})
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in more.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        # a client that hangs up mid-body (the policy over 64 KiB) is expected
        self.httpd.handle_error = lambda request, address: None
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def sink_on(ip, ctx=None):
    sink = D.Sink()
    kw = {"tls_context": ctx, "require_starttls": False} if ctx is not None else {}
    c = Controller(sink, hostname=ip, port=25, **kw)
    c.start()
    return c, sink


def rcpts(sink):
    return sorted(t for m in sink.messages for t in m[1])


def stray_rcpts(sink):
    return [t for t in rcpts(sink) if t.endswith("@stray.test")]


def test_policies_enforced_cached_and_refetched():
    if os.geteuid() != 0:
        print("skipped: needs root for port 25 on 127.0.213.x")
        return
    ca = CA()
    dns_port = pick_port()
    https_port = pick_port((dns_port,))
    ids = {d: "1" for d in ALL if d != "notxt.test"}
    dns = Unbound(dns_port, ids)
    web = PolicyServer(https_port, ca.context("policy", ["mta-sts." + d for d in ALL]))
    stops = [dns.stop, dns.cleanup]
    srv = None
    try:
        good, gsink = sink_on(MX_GOOD, ca.context("mx-good", ["mx.good.test"]))
        stops.append(good.stop)
        stray, ssink = sink_on(MX_STRAY, ca.context("mx-stray", ["mx.stray.test"]))
        stops.append(stray.stop)
        plain, psink = sink_on(MX_PLAIN)
        stops.append(plain.stop)
        conf = {"delivery.resolver": "127.0.0.1:%d" % dns_port, "delivery.ca_file": ca.pem,
                "delivery.mta_sts_port": str(https_port),
                "delivery.mta_sts_connect_timeout": "3s", "delivery.mta_sts_timeout": "10s"}
        srv = D.server(conf)
        srv.start()
        s = srv.submission(D.ALICE)
        for d in ALL:
            s.sendmail(D.ALICE, ["a@" + d], b"Subject: %s\r\n\r\nx\r\n" % d.encode())
        # the sink answers 451 to later@: retried, but not fetched again
        s.sendmail(D.ALICE, ["later@missing.test"], b"Subject: retried\r\n\r\nx\r\n")
        s.quit()
        # enforce, the MX in the policy, a valid certificate: delivered
        D.wait(lambda: "a@good.test" in rcpts(gsink), what="delivery to good.test")
        srv.wait_log(r"result=sent ms=\S+ to=<a@good.test> relay=mx.good.test\[%s\]:25 "
                     r"starttls=yes mta-sts=enforce mta-sts-id=1 " % MX_GOOD)
        srv.wait_log(r"mta-sts domain=good.test id=1: policy fetched: mode=enforce "
                     r"max_age=86400 mx=1")
        # enforce, an MX the policy does not list: deferred, never tried
        assert srv.wait_log(r"result=deferred ms=\S+ to=<a@stray.test> relay=none "
                            r"mta-sts=enforce mta-sts-id=1 status=4.7.5 reply=\"4.7.5 MTA-STS: "
                            r"MX host mx.stray.test does not match the policy\""), srv.log_text()
        # enforce, an MX without STARTTLS: deferred
        assert srv.wait_log(r"result=deferred ms=\S+ to=<a@plain.test> relay=mx.plain.test"
                            r"\[%s\]:25 starttls=no mta-sts=enforce mta-sts-id=1 status=4.7.5 "
                            r"reply=\"4.7.5 MTA-STS: mx.plain.test does not offer STARTTLS"
                            % MX_PLAIN), srv.log_text()
        # enforce, a certificate for another name: deferred
        assert srv.wait_log(r"result=deferred ms=\S+ to=<a@badcert.test> relay=none "
                            r"mta-sts=enforce mta-sts-id=1 status=4.7.5 reply=\"4.7.5 MTA-STS: "
                            r"TLS handshake with mx.badcert.test failed: [^\"]*mismatch"), \
            srv.log_text()
        # testing: delivered as usual, what failed logged
        D.wait(lambda: "a@trial.test" in rcpts(psink), what="delivery to trial.test")
        srv.wait_log(r"result=sent ms=\S+ to=<a@trial.test> relay=mx.plain.test\[%s\]:25 "
                     r"starttls=no mta-sts=testing mta-sts-id=1 "
                     r"mta-sts-fail=\"MX host not in the policy; no TLS\" " % MX_PLAIN)
        # no TXT record: no policy, and none fetched
        D.wait(lambda: "a@notxt.test" in rcpts(psink), what="delivery to notxt.test")
        srv.wait_log(r"result=sent ms=\S+ to=<a@notxt.test> relay=mx.plain.test\[%s\]:25 "
                     r"starttls=no status=" % MX_PLAIN)
        assert "notxt.test" not in web.fetches, web.fetches
        # a policy that cannot be had: logged, and no policy
        for d, why in BROKEN.items():
            D.wait(lambda: "a@" + d in rcpts(psink), what="delivery to " + d)
            assert srv.wait_log(r"mta-sts domain=%s id=1: cannot fetch the policy: mta-sts.%s: "
                                % (d, d) + why.replace("(", r"\(")), srv.log_text()
            srv.wait_log(r"result=sent ms=\S+ to=<a@%s> relay=mx.plain.test\S+ starttls=no "
                         r"status=" % d)
        assert web.fetches.get("moved.test") == 1, web.fetches  # not followed
        D.wait(lambda: len(re.findall(r"result=deferred ms=\S+ to=<later@missing.test>",
                              srv.log_text())) >= 3, what="retries to missing.test")
        assert web.fetches.get("missing.test") == 1, web.fetches
        # testing, a certificate for another name: delivered, the fault logged
        D.wait(lambda: "a@trialcert.test" in rcpts(ssink), what="delivery to trialcert.test")
        srv.wait_log(r"result=sent ms=\S+ to=<a@trialcert.test> relay=mx.trialcert.test\[%s\]:25 "
                     r"starttls=yes mta-sts=testing mta-sts-id=1 mta-sts-fail=\"certificate of "
                     r"mx.trialcert.test: hostname mismatch\" " % MX_STRAY)
        assert stray_rcpts(ssink) == [] and "a@plain.test" not in rcpts(psink)
        fetched = dict(web.fetches)

        # the policy server goes away: the cached policies stay in force
        web.stop()
        s = srv.submission(D.ALICE)
        s.sendmail(D.ALICE, ["b@good.test"], b"Subject: cached\r\n\r\nx\r\n")
        s.sendmail(D.ALICE, ["b@stray.test"], b"Subject: cached\r\n\r\nx\r\n")
        s.quit()
        D.wait(lambda: "b@good.test" in rcpts(gsink), what="delivery under the cached policy")
        srv.wait_log(r"result=sent ms=\S+ to=<b@good.test> .*mta-sts=enforce mta-sts-id=1 ")
        assert srv.wait_log(r"result=deferred ms=\S+ to=<b@stray.test> relay=none "
                            r"mta-sts=enforce mta-sts-id=1 status=4.7.5 ")
        # ... across a restart too: the disk cache
        srv.stop()
        assert os.path.exists(os.path.join(srv.dir, "data", "mta-sts", "stray.test"))
        mark = len(srv.log_text())
        srv.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                "to=<b@stray.test> relay=none mta-sts=enforce" not in srv.log_text()[mark:]:
            time.sleep(0.1)
        assert "to=<b@stray.test> relay=none mta-sts=enforce mta-sts-id=1 status=4.7.5" in \
            srv.log_text()[mark:], srv.log_text()[mark:]
        assert stray_rcpts(ssink) == []

        # a new id: the policy is fetched again (now it lists mx.stray.test)
        web = PolicyServer(https_port, ca.context("policy2", ["mta-sts." + d for d in ALL]))
        web.policies["stray.test"] = ("version: STSv1\nmode: enforce\nmx: mx.stray.test\n"
                                      "max_age: 86400\n")
        ids["stray.test"] = "2"
        dns.restart(ids)
        D.wait(lambda: stray_rcpts(ssink) == ["a@stray.test", "b@stray.test"],
               what="delivery after the new policy", timeout=30)
        srv.wait_log(r"result=sent ms=\S+ to=<a@stray.test> relay=mx.stray.test\[%s\]:25 "
                     r"starttls=yes mta-sts=enforce mta-sts-id=2 " % MX_STRAY)
        assert web.fetches.get("stray.test") == 1, web.fetches
        assert "good.test" not in web.fetches  # id unchanged: the cache serves
        assert fetched.get("good.test") == 1, fetched
        web.stop()
    finally:
        if srv is not None:
            srv.stop()
            srv.cleanup()
        for f in reversed(stops):
            f()
        shutil.rmtree(ca.dir, True)


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""MX delivery through a DNS server on loopback (Debian's unbound with test
zones): preference order and fallback, implicit MX, null MX (RFC 7505), and a
domain that does not exist. The next hops listen on port 25 of other loopback
addresses (127.0.0.2 ...), so this test needs root."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import die_with_parent, free_port, run_tests  # noqa: E402
import test_delivery as D  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402

ZONES = """
  local-zone: "mx.test." static
  local-data: "mx.test. MX 10 primary.mx.test."
  local-data: "mx.test. MX 20 backup.mx.test."
  local-data: "primary.mx.test. A 127.0.0.2"
  local-data: "backup.mx.test. A 127.0.0.3"
  local-zone: "nomx.test." static
  local-data: "nomx.test. A 127.0.0.4"
  local-zone: "nullmx.test." static
  local-data: "nullmx.test. MX 0 ."
  local-zone: "test." static
"""


class Unbound:
    """unbound on a loopback port with the server-clause lines `zones` and
    the top-level clauses `clauses` (auth-zone: ...); `prepare(dir)` runs
    first in its folder (to write zone files there)."""

    def __init__(self, zones=None, clauses="", prepare=None, addr="127.0.0.1", port=None):
        if zones is None:  # read now: a test may set this module's ZONES
            zones = ZONES
        self.dir = tempfile.mkdtemp(prefix="mailroom-dns.")
        if prepare is not None:
            clauses += prepare(self.dir)
        self.addr, self.port = addr, port or free_port()
        conf = os.path.join(self.dir, "unbound.conf")
        with open(conf, "w") as f:
            f.write("server:\n  interface: %s\n  port: %d\n  do-ip6: no\n"
                    "  do-daemonize: no\n  use-syslog: no\n  logfile: \"\"\n"
                    "  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n"
                    "  pidfile: \"%s/unbound.pid\"\n  access-control: 127.0.0.0/8 allow\n"
                    "  module-config: \"iterator\"\n%s%s"
                    "remote-control:\n  control-enable: no\n"
                    % (self.addr, self.port, self.dir, self.dir, zones, clauses))
        self.proc = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            p = subprocess.run(["python3", "-c", "import socket; s=socket.socket(socket.AF_INET,"
                                " socket.SOCK_DGRAM); s.settimeout(0.5); s.sendto(bytes.fromhex("
                                "'12340100000100000000000002747804746573740000010001'), "
                                "('%s', %d)); s.recv(512)" % (self.addr, self.port)],
                               capture_output=True)
            if p.returncode == 0:
                return
            time.sleep(0.1)
        raise AssertionError("unbound did not start: %s" % self.proc.stderr.read(2000))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        subprocess.run(["rm", "-rf", self.dir])


def sink_on(ip):
    sink = D.Sink()
    c = Controller(sink, hostname=ip, port=25)
    c.start()
    return c, sink


def test_mx_order_implicit_and_null():
    if os.geteuid() != 0:
        print("skipped: needs root for port 25 on 127.0.0.x")
        return
    dns = Unbound()
    backup, bsink = sink_on("127.0.0.3")
    implicit, isink = sink_on("127.0.0.4")
    primary = None
    srv = D.server({"delivery.resolver": "127.0.0.1:%d" % dns.port})
    srv.start()
    try:
        s = srv.submission(D.ALICE)
        # the preferred host does not answer: the next one gets it
        s.sendmail(D.ALICE, ["a@mx.test"], b"Subject: one\r\n\r\nx\r\n")
        D.wait(lambda: bsink.messages, what="delivery to the backup MX")
        srv.wait_log(r"result=deferred ms=\S+ to=<a@mx.test> "
                     r"relay=primary.mx.test\[127.0.0.2\]:25 ")
        srv.wait_log(r"result=sent ms=\S+ to=<a@mx.test> "
                     r"relay=backup.mx.test\[127.0.0.3\]:25 starttls=no ")
        primary, psink = sink_on("127.0.0.2")
        s.sendmail(D.ALICE, ["b@mx.test"], b"Subject: two\r\n\r\nx\r\n")
        D.wait(lambda: psink.messages, what="delivery to the primary MX")
        assert len(bsink.messages) == 1
        # no MX record: the domain's own address
        s.sendmail(D.ALICE, ["c@nomx.test"], b"Subject: three\r\n\r\nx\r\n")
        D.wait(lambda: isink.messages, what="implicit MX")
        # null MX and a domain that does not exist: reports at once
        s.sendmail(D.ALICE, ["d@nullmx.test"], b"Subject: four\r\n\r\nx\r\n")
        s.sendmail(D.ALICE, ["e@nowhere.test"], b"Subject: five\r\n\r\nx\r\n")
        s.quit()
        reps = D.wait(lambda: len(D.reports(srv)) >= 2 and D.reports(srv), what="reports")
        status = sorted(f["Status"] for r in reps for f in D.status_fields(r)
                        if f.get("Final-Recipient"))
        assert status == ["5.1.10", "5.1.2"], status
        assert D.queue(srv) == []
    finally:
        srv.stop()
        srv.cleanup()
        for c in (backup, implicit, primary):
            if c is not None:
                c.stop()
        dns.stop()


if __name__ == "__main__":
    run_tests(globals())

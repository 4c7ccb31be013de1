# SPDX-License-Identifier: MIT
"""Delivery reports (RFC 3464 §2.3.6): the Diagnostic-Code says who found the
reason. A next hop's own reply is `smtp; 550 5.1.1 ...`; a reason mailroom
found itself (the domain does not exist, a null MX, a lost connection, no
8BITMIME, the message expired) is `X-mailroom; 5.1.2 ...`, never dressed up
as an SMTP reply. Every path is driven end to end: real next hops on
loopback, a DNS server on loopback (Debian's unbound), reports read back
over POP3 from the sender's mailbox."""
import os
import shutil
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_tests  # noqa: E402
import test_delivery as D  # noqa: E402


class DroppingHop:
    """A next hop that greets, answers EHLO, and hangs up at MAIL: the
    client sees its connection lost mid-transaction."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            try:
                c.settimeout(5)
                c.sendall(b"220 drop.test ESMTP\r\n")
                buf = b""
                while b"\r\n" not in buf:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                c.sendall(b"250 drop.test\r\n")  # EHLO: nothing offered
                c.recv(4096)  # MAIL FROM: and then nothing
            except OSError:
                pass
            finally:
                c.close()

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=5)
        self.sock.close()


def diagnostics(srv):
    """Final-Recipient -> (Action, Status, Diagnostic-Code) over every report."""
    out = {}
    for rep in D.reports(srv):
        for f in D.status_fields(rep):
            if f.get("Final-Recipient"):
                rcpt = f["Final-Recipient"].split(";", 1)[1].strip()
                out.setdefault(rcpt, []).append(
                    (f["Action"], f["Status"], " ".join(f.get("Diagnostic-Code", "").split())))
    return out


def test_diagnostic_code_names_who_found_the_reason():
    dns = None
    if shutil.which("unbound") is not None:
        import test_dns
        dns = test_dns.Unbound()
    else:
        print("unbound not installed: the null MX and no-such-domain paths are skipped")
    seven, _, seven_port = D.start_sink(sink=D.SevenBitSink())
    refusing, _, refusing_port = D.start_sink()
    drop = DroppingHop()
    extra = {"delivery.delay_warning": "2s", "delivery.lifetime": "6s"}
    if dns is not None:
        extra["delivery.resolver"] = "127.0.0.1:%d" % dns.port
    srv = D.server(extra)
    try:
        srv.cli("route", "add", "seven.test", "127.0.0.1:%d" % seven_port, "--tls", "none")
        srv.cli("route", "add", "refuse.test", "127.0.0.1:%d" % refusing_port, "--tls", "none")
        srv.cli("route", "add", "drop.test", "127.0.0.1:%d" % drop.port, "--tls", "none")
        srv.start()
        s = srv.submission(D.ALICE)
        s.sendmail(D.ALICE, ["refuse-me@refuse.test"], b"Subject: refused\r\n\r\nx\r\n")
        s.sendmail(D.ALICE, ["b@seven.test"], "Subject: gr\u00fc\u00df\r\n\r\nx\r\n".encode(),
                   mail_options=["BODY=8BITMIME"])
        s.sendmail(D.ALICE, ["x@drop.test"], b"Subject: dropped\r\n\r\nx\r\n")
        if dns is not None:
            s.sendmail(D.ALICE, ["d@nullmx.test"], b"Subject: null mx\r\n\r\nx\r\n")
            s.sendmail(D.ALICE, ["e@nowhere.test"], b"Subject: nowhere\r\n\r\nx\r\n")
        s.quit()
        want = {
            "refuse-me@refuse.test": [
                ("failed", "5.1.1", "smtp; 550 5.1.1 <refuse-me@refuse.test>: no such user here")],
            "b@seven.test": [
                ("failed", "5.6.3", "X-mailroom; 5.6.3 127.0.0.1 does not accept 8-bit "
                 "content (no 8BITMIME), and this message cannot be converted to 7 bits")],
            "x@drop.test": [
                ("delayed", "4.4.2", "X-mailroom; 4.4.2 127.0.0.1: lost connection waiting for "
                 "the reply to MAIL"),
                ("failed", "5.4.7", "X-mailroom; 4.4.7 Message expired after 0 days in the "
                 "queue; last error: 4.4.2 127.0.0.1: lost connection waiting for the reply "
                 "to MAIL")],
        }
        if dns is not None:
            want["d@nullmx.test"] = [("failed", "5.1.10", "X-mailroom; 5.1.10 Recipient domain "
                                      "has a null MX: it accepts no mail")]
            want["e@nowhere.test"] = [("failed", "5.1.2", "X-mailroom; 5.1.2 Recipient domain "
                                       "not found")]
        got = D.wait(lambda: (lambda g: g if all(len(g.get(r, [])) >= len(v)
                                                 for r, v in want.items()) else None)(
            diagnostics(srv)), timeout=40, what="every report")
        for rcpt, reports in want.items():
            assert sorted(got[rcpt]) == sorted(reports), (rcpt, got[rcpt])
    finally:
        srv.stop()
        srv.cleanup()
        seven.stop()
        refusing.stop()
        drop.stop()
        if dns is not None:
            dns.stop()


if __name__ == "__main__":
    run_tests(globals())

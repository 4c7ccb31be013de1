# SPDX-License-Identifier: MIT
"""test_rspamd.py - Debian's rspamd as a real milter in front of mailroom:
rspamd's proxy worker speaking the milter protocol on loopback (its own
config dir, DB dir and ports; its checks that need the Internet find no DNS
server and are skipped), and a running mailroom with [filter] milter naming
it, driven by smtplib.

- GTUBE, rspamd's test pattern, is refused at the end of DATA with rspamd's
  own reply (554 5.7.1 Gtube pattern) and nothing is stored;
- a clean message is stored with the fields rspamd's milter_headers module
  adds (X-Spamd-Result, X-Rspamd-Queue-Id naming mailroom's queue id, so the
  macros reached it);
- submission goes through it too.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, free_port, run_tests  # noqa: E402
import test_smtp_filter as F  # noqa: E402

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
GTUBE = (b"From: spammer@remote.test\r\nTo: plain@example.test\r\nSubject: spam\r\n"
         b"Message-ID: <gtube@remote.test>\r\n\r\n"
         b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")


class Rspamd(Daemon):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-rspamd.")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "rspamd.log")
        local = os.path.join(self.dir, "local.d")
        for d in ("local.d", "db", "run"):
            os.makedirs(os.path.join(self.dir, d))
        files = {
            "worker-proxy.inc": 'bind_socket = "127.0.0.1:%d";\nmilter = yes;\ntimeout = 120s;\n'
                                'upstream "local" { default = yes; self_scan = yes; }\n'
                                'count = 1;\n' % self.port,
            "worker-normal.inc": "enabled = false;\n",
            "worker-fuzzy.inc": "enabled = false;\n",
            "worker-controller.inc": 'bind_socket = "127.0.0.1:%d";\ncount = 1;\n' % free_port(),
            "logging.inc": 'type = "file";\nfilename = "%s";\nlevel = "info";\n' % self.log_path,
            # nothing answers there: look-ups fail fast instead of reaching out
            "options.inc": 'dns { nameserver = ["127.0.0.1:%d"]; timeout = 0.2s; '
                           'retransmits = 1; }\npidfile = "%s/run/rspamd.pid";\n'
                           % (free_port(), self.dir),
            "milter_headers.conf": 'use = ["x-spamd-result", "x-rspamd-queue-id"];\n'
                                   "skip_local = false;\nskip_authenticated = false;\n",
        }
        for name, text in files.items():
            with open(os.path.join(local, name), "w") as f:
                f.write(text)

    def start(self):
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        # its own session: rspamd forks workers, all stopped with the group
        self.proc = subprocess.Popen(
            [RSPAMD, "-f", "-i", "-u", "root", "-g", "root", "-c", "/etc/rspamd/rspamd.conf",
             "--var=LOCAL_CONFDIR=" + self.dir, "--var=DBDIR=" + self.dir + "/db",
             "--var=RUNDIR=" + self.dir + "/run", "--var=LOGDIR=" + self.dir],
            stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        # the first start compiles its regular expressions: allow a minute
        return self.wait_listening(self.port, "rspamd", self.log, timeout=90)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        try:  # workers that outlived the main process
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.out.close()


RSPAMD_D = None


def rspamd():
    global RSPAMD_D
    if RSPAMD_D is None:
        RSPAMD_D = Rspamd().start()
    return RSPAMD_D


def rspamd_server():
    return F.server(**{"filter.milter": "inet:127.0.0.1:%d" % rspamd().port,
                       "filter.milter_timeout": "30s"})


def test_gtube_refused():
    with rspamd_server() as s:
        code, text = F.send(s, ["plain@example.test"], msg=GTUBE)
        assert code == 554 and text == "5.7.1 Gtube pattern", (code, text)
        assert F.box(s, "plain") == []
        s.wait_log(r"milter=inet:127\.0\.0\.1:\d+ action=reject")


def test_clean_gets_rspamd_fields():
    with rspamd_server() as s:
        code, text = F.send(s, ["plain@example.test"])
        assert code == 250, (code, text)
        qid = text.rsplit(" ", 1)[1]
        m = F.box(s, "plain")
        assert len(m) == 1, m
        head = m[0].partition(b"\r\n\r\n")[0] + b"\r\n"
        assert b"\r\nX-Spamd-Result: default: False [" in head, head
        assert ("\r\nX-Rspamd-Queue-Id: %s\r\n" % qid).encode() in head, head


def test_submission_through_rspamd():
    with rspamd_server() as s:
        c = s.submission("plain@example.test")
        try:
            c.mail("plain@example.test")
            c.rcpt("other@example.test")
            code, text = c.data(GTUBE)
            assert code == 554 and b"Gtube pattern" in text, (code, text)
        finally:
            c.quit()
        assert F.box(s, "other") == []


def main():
    if not os.path.exists(RSPAMD):
        print("skipped: rspamd is missing")
        sys.exit(77)
    try:
        run_tests(globals())
    finally:
        if RSPAMD_D is not None:
            RSPAMD_D.cleanup()


if __name__ == "__main__":
    main()

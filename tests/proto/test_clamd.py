# SPDX-License-Identifier: MIT
"""test_clamd.py - mailroom's clamd client (src/filter/clamd.c) against
clamav-daemon's clamd, through the test tool filter_probe (tests/tools/).

clamd runs privately: its own folder, config, loopback port and unix socket,
in the foreground, stopped by PID. Its signature database is made here: one
.ndb body signature for a test string (nothing is downloaded, freshclam never
runs), and clamd's StreamMaxLength is 1M so the limit can be reached.
Checked: a clean message, an infected one (FOUND with the signature name, over
TCP and over the unix socket), clamd down (connection refused) under both
failure policies, a message over StreamMaxLength (clamd's own error, told
apart from a lost connection, under both policies), and one over
max_scan_size (not sent). Exit 77 only when clamd or the probe is missing.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check_sanitizer, die_with_parent, free_port, run_tests  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "filter_probe")
CLAMD = shutil.which("clamd") or "/usr/sbin/clamd"

TEST_STRING = b"MAILROOM-TEST-SIGNATURE-7f3a9c2e-THIS-IS-NOT-A-VIRUS"
SIG_NAME = "Mailroom.Test.Signature"

CLEAN = (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: clean\r\n\r\n"
         b"Nothing to see here.\r\n")
INFECTED = (b"From: a@example.test\r\nTo: b@example.test\r\nSubject: infected\r\n\r\n"
            b"Here it comes: " + TEST_STRING + b"\r\n")


class Clamd(Daemon):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-clamd.")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "clamd.sock")
        self.proc = None
        self.log_path = os.path.join(self.dir, "clamd.log")

    def start(self):
        db = os.path.join(self.dir, "db")
        os.mkdir(db)
        os.mkdir(os.path.join(self.dir, "tmp"))
        # .ndb: name, target type 0 (any file), offset * (anywhere), hex
        with open(os.path.join(db, "mailroom-test.ndb"), "w") as f:
            f.write("%s:0:*:%s\n" % (SIG_NAME, TEST_STRING.hex()))
        conf = os.path.join(self.dir, "clamd.conf")
        with open(conf, "w") as f:
            f.write("Foreground yes\nTCPSocket %d\nTCPAddr 127.0.0.1\nLocalSocket %s\n"
                    "DatabaseDirectory %s\nTemporaryDirectory %s/tmp\nLogFile %s\n"
                    "PidFile %s/clamd.pid\nStreamMaxLength 1M\nMaxThreads 2\n"
                    "Bytecode no\n"
                    % (self.port, self.sock, db, self.dir, self.log_path, self.dir))
        self.out = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen([CLAMD, "-c", conf], stdout=self.out,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        self.wait_listening(self.port, "clamd", self.log, timeout=60)
        deadline = time.monotonic() + 20
        while True:  # the unix socket too
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("clamd has no unix socket: " + self.log())
                time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.out.close()


def scan(socket_spec, message, policy="tempfail", max_scan_size="10M"):
    d = tempfile.mkdtemp(prefix="mailroom-probe.")
    try:
        conf = os.path.join(d, "mailroom.conf")
        with open(conf, "w") as f:
            f.write("[server]\nhostname = mail.example.test\ndata_dir = data\n"
                    "[filter]\nclamd = %s\nclamd_timeout = 30s\nclamd_default_action = %s\n"
                    "max_scan_size = %s\n" % (socket_spec, policy, max_scan_size))
        msg = os.path.join(d, "message")
        with open(msg, "wb") as f:
            f.write(message)
        p = subprocess.run([PROBE, "-c", conf, "-r", "b@example.test", msg],
                           capture_output=True, timeout=120)
        check_sanitizer(p.stderr.decode(errors="replace"), "filter_probe")
        assert p.returncode == 0, p.stderr
        m = re.search(r'^clamd verdict=(\w+) action=(\w+) signature=(\S*) size_limit=(\w+) '
                      r'reason="([^"]*)" reply="([^"]*)"$', p.stdout.decode(), re.M)
        assert m, p.stdout
        return dict(zip(("verdict", "action", "signature", "size_limit", "reason", "reply"),
                        m.groups()), log=p.stderr.decode(errors="replace"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


CLAMD_D = None


def clamd():
    global CLAMD_D
    if CLAMD_D is None:
        CLAMD_D = Clamd().start()
    return CLAMD_D


def tcp():
    return "inet:127.0.0.1:%d" % clamd().port


def test_clean():
    r = scan(tcp(), CLEAN)
    assert r["verdict"] == "clean" and r["action"] == "accept", r


def test_infected_over_tcp_and_unix():
    for spec in (tcp(), "unix:" + clamd().sock):
        r = scan(spec, INFECTED)
        assert r["verdict"] == "infected" and r["action"] == "reject", r
        # clamd names signatures of an unsigned database ".UNOFFICIAL"
        assert r["signature"] in (SIG_NAME, SIG_NAME + ".UNOFFICIAL"), r
        assert r["reply"] == "554 5.7.1 Virus found: " + r["signature"], r


def test_clamd_down_both_policies():
    port = free_port()  # nothing listens there
    closed = scan("inet:127.0.0.1:%d" % port, CLEAN, policy="tempfail")
    assert closed["verdict"] == "error" and closed["action"] == "tempfail", closed
    assert "Connection refused" in closed["reason"], closed
    assert closed["reply"].startswith("451 4.7.1 "), closed
    assert "policy=tempfail" in closed["log"], closed["log"]
    opened = scan("inet:127.0.0.1:%d" % port, INFECTED, policy="accept")
    assert opened["verdict"] == "error" and opened["action"] == "accept", opened
    assert "policy=accept" in opened["log"], opened["log"]


def test_stream_max_length():
    big = CLEAN + b"x" * 1000 + b"\r\n" + (b"y" * 998 + b"\r\n") * 2100  # about 2 MiB
    for policy, action in (("tempfail", "tempfail"), ("accept", "accept")):
        r = scan(tcp(), big, policy=policy)
        assert r["verdict"] == "error" and r["size_limit"] == "yes", r
        assert "size limit exceeded" in r["reason"], r
        assert r["action"] == action, r
        assert "StreamMaxLength" in r["log"], r["log"]


def test_over_max_scan_size_is_not_sent():
    big = INFECTED + b"z" * 4096
    r = scan(tcp(), big, max_scan_size="2K")
    assert r["verdict"] == "skipped" and r["action"] == "accept", r
    assert "max_scan_size" in r["reason"], r


def main():
    for prog in (PROBE, CLAMD):
        if not os.path.exists(prog):
            print("skipped: %s is missing" % prog)
            sys.exit(77)
    try:
        run_tests(globals())
    finally:
        if CLAMD_D is not None:
            CLAMD_D.cleanup()


if __name__ == "__main__":
    main()

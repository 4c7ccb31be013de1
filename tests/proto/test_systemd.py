# SPDX-License-Identifier: MIT
"""serve under a service manager: the sd_notify protocol (READY=1 once the
listeners answer, RELOADING=1 then READY=1 around a SIGHUP reload,
STOPPING=1 on SIGTERM, WATCHDOG=1 pings when WATCHDOG_USEC is set) on a
datagram socket the test made, as systemd would; the capabilities a unit's
AmbientCapabilities= gives are all dropped once the listeners are bound
(run as root: setpriv starts serve as an unprivileged account holding
CAP_NET_BIND_SERVICE on a port below 1024); and the packaged unit passes
`systemd-analyze verify` and keeps its `systemd-analyze security` exposure
at 2.0 or below."""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, SRC, Server, check_sanitizer, run_tests,  # noqa: E402
                     unprivileged_user)

ROOT = os.geteuid() == 0
UNIT = os.path.join(SRC, "dist", "mailroom.service")


class Manager:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-notify.")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=10, skip_watchdog=True):
        """The next datagram as text; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no notification within %d s" % timeout)
            self.sock.settimeout(left)
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            if skip_watchdog and msg == "WATCHDOG=1":
                continue
            return msg

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def spawn(srv, prefix=(), env=None):
    """Starts serve as Server.start() would, with a command prefix and an
    environment of our own; returns without waiting for the ports."""
    srv.log = open(srv.log_path, "wb")
    srv.proc = subprocess.Popen(list(prefix) + [BIN, "-c", srv.conf, "serve"],
                                stdout=srv.log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))


def reap(srv, timeout=15):
    """Waits for a serve that exits by itself; returns its exit code."""
    rc = srv.proc.wait(timeout=timeout)
    srv.proc = None
    srv.log.close()
    check_sanitizer(srv.log_text(), "mailroom serve")
    return rc


def answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


def test_notify_ready_reload_stop():
    m = Manager()
    try:
        with Server(smtp=True) as srv:
            spawn(srv, env={"NOTIFY_SOCKET": m.path})
            msg = m.next(timeout=20)
            # READY comes once every listener is bound and the loop runs
            assert msg.startswith("READY=1\n"), msg
            assert re.search(r"^STATUS=serving on 5 listeners as user \S+$", msg, re.M), msg
            for port in (srv.pop3_port, srv.pop3s_port, srv.smtp_port,
                         srv.submission_port, srv.submissions_port):
                assert answers(port), port
            assert "mailroom ready" in srv.log_text()

            srv.proc.send_signal(signal.SIGHUP)
            msg = m.next()
            lines = msg.split("\n")
            assert lines[0] == "RELOADING=1", msg
            usec = int(lines[1].split("=", 1)[1])
            assert lines[1].startswith("MONOTONIC_USEC=")
            assert abs(usec - time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000) < 10**7
            msg = m.next()
            assert msg == "READY=1\nSTATUS=serving; reloaded", msg

            # a reload the config refuses: READY again, the reason in STATUS
            with open(srv.conf, "a") as f:
                f.write("[server]\nno_such_key = 1\n")
            srv.proc.send_signal(signal.SIGHUP)
            assert m.next().startswith("RELOADING=1\n")
            msg = m.next()
            assert msg.startswith("READY=1\nSTATUS=serving; reload refused: ") and \
                "no_such_key" in msg, msg
            assert answers(srv.pop3_port)

            srv.proc.send_signal(signal.SIGTERM)
            msg = m.next()
            assert msg.startswith("STOPPING=1\nSTATUS=stopping: "), msg
            assert reap(srv) == 0
            assert "mailroom stopped" in srv.log_text()
    finally:
        m.close()


def test_watchdog():
    m = Manager()
    try:
        with Server() as srv:
            spawn(srv, env={"NOTIFY_SOCKET": m.path, "WATCHDOG_USEC": "200000"})
            assert m.next(timeout=20).startswith("READY=1")
            t0 = time.monotonic()
            pings = 0
            while time.monotonic() - t0 < 1.0:
                if m.next(skip_watchdog=False) == "WATCHDOG=1":
                    pings += 1
            # every 100 ms: about ten in a second, on a busy machine fewer
            assert 4 <= pings <= 14, pings
            assert "watchdog every 100 ms" in srv.log_text()
        m.close()
        # WATCHDOG_PID naming another process: no pings
        m = Manager()
        with Server() as srv:
            spawn(srv, env={"NOTIFY_SOCKET": m.path, "WATCHDOG_USEC": "200000",
                            "WATCHDOG_PID": "1"})
            assert m.next(timeout=20).startswith("READY=1")
            try:
                msg = m.next(timeout=1, skip_watchdog=False)
            except AssertionError:
                msg = None
            assert msg is None, msg
    finally:
        m.close()


def test_bad_notify_socket():
    """An unusable NOTIFY_SOCKET is logged; serve runs all the same."""
    with Server() as srv:
        spawn(srv, env={"NOTIFY_SOCKET": "/nonexistent/notify"})
        srv.wait_log("mailroom ready", timeout=20)
        assert "NOTIFY_SOCKET=/nonexistent/notify: No such file or directory" in \
            srv.log_text()
        assert answers(srv.pop3_port)


def low_port():
    """A free port below 1024 on 127.0.0.1 (root only)."""
    ports = list(range(600, 1024))
    random.shuffle(ports)
    for port in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below 1024")


def caps_of(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Cap"):
                k, v = line.split(":", 1)
                out[k] = int(v.strip(), 16)
    return out


def test_ambient_capability_dropped():
    if not ROOT:
        print("skip: needs root to give an account CAP_NET_BIND_SERVICE")
        return
    if shutil.which("setpriv") is None:
        raise AssertionError("setpriv (util-linux) is missing")
    user = unprivileged_user()
    port = low_port()
    with Server(extra={"listen.pop3": "127.0.0.1:%d" % port}) as srv:
        srv.pop3_port = port
        spawn(srv, prefix=["setpriv", "--reuid=" + user, "--regid=" + user,
                           "--init-groups", "--inh-caps=+net_bind_service",
                           "--ambient-caps=+net_bind_service"])
        srv.wait_log("mailroom ready", timeout=20)
        assert answers(port), port
        caps = caps_of(srv.proc.pid)
        for key in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
            assert caps[key] == 0, (key, caps)
        # what it held is named once: net_bind_service is bit 10
        assert re.search(r"capabilities dropped permitted=0x400 effective=0x400 "
                         r"inheritable=0x400 ambient=0x400", srv.log_text()), srv.log_text()
        c = srv.poplib_stls()
        c.quit()
    # without the capability the low port is refused with a clear message
    port = low_port()
    with Server(extra={"listen.pop3": "127.0.0.1:%d" % port}) as srv:
        spawn(srv, prefix=["setpriv", "--reuid=" + user, "--regid=" + user,
                           "--init-groups"])
        assert reap(srv, timeout=20) != 0
        assert "cannot listen on 127.0.0.1:%d: Permission denied" % port in srv.log_text()


def unit_for_here(tmp):
    """dist/mailroom.service with its programs pointing at this build."""
    with open(UNIT) as f:
        text = f.read()
    text = text.replace("/usr/sbin/mailroom", os.path.abspath(BIN))
    path = os.path.join(tmp, "mailroom.service")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_unit_verifies():
    if shutil.which("systemd-analyze") is None:
        raise AssertionError("systemd-analyze is missing (package systemd)")
    tmp = tempfile.mkdtemp(prefix="mailroom-unit.")
    try:
        path = unit_for_here(tmp)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = p.stdout.decode(errors="replace")
        # without systemd as PID 1 verify still parses the unit; only lines
        # about this unit count
        ours = [ln for ln in out.splitlines() if "mailroom.service" in ln]
        assert p.returncode == 0 and not ours, out
        # the exposure score, offline (no systemd as PID 1 needed): 1.6 when
        # written; a change that weakens the hardening shows here
        p = subprocess.run(["systemd-analyze", "security", "--offline=true", path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        m = re.search(r"Overall exposure level for mailroom\.service: ([0-9.]+)",
                      p.stdout.decode(errors="replace"))
        if m is None:
            print("note: systemd-analyze security --offline does not run here")
        else:
            print("systemd-analyze security: exposure %s" % m.group(1))
            assert float(m.group(1)) <= 2.0, p.stdout.decode(errors="replace")[-3000:]
        with open(UNIT) as f:
            unit = f.read()
        for line in ("Type=notify", "User=mailroom", "NoNewPrivileges=yes",
                     "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                     "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                     "ExecStart=/usr/sbin/mailroom -c /etc/mailroom/mailroom.conf serve",
                     "ExecReload=/bin/kill -HUP $MAINPID"):
            assert re.search("^" + re.escape(line) + "$", unit, re.M), line
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run_tests(globals())

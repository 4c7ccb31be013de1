# SPDX-License-Identifier: MIT
"""test_milter.py - mailroom's milter client (src/filter/milter.c) against real
filters on loopback, through the test tool filter_probe (tests/tools/), which
runs a message through the [filter] milters of a config and prints the
verdict, the changes, the envelope and the message as changed.

(a) A milter on Debian's python3-milter (libmilter under Python:
    tests/proto/pymilter_peer.py) that, by recipient, gives every verdict and
    asks for every change: accept, reject with its own reply, tempfail,
    discard, quarantine, add/insert/change/delete header, add recipients
    (with and without ESMTP arguments), delete one, replace the body, change
    the sender, refuse one recipient at RCPT; it also reports the macros and
    the header values it was given.
(b) opendkim signing with a key the test makes (opendkim-genkey): the message
    comes back with a DKIM-Signature, which python3-dkim then verifies against
    the public key record from opendkim-genkey's file (no DNS); a chain of the
    Python milter then opendkim shows the second filter signing what the first
    changed, over a unix socket.
(c) A milter that is not there, under both failure policies.
Daemons run with their own folder and port and are stopped by PID. Exit 77
only when a required program is missing.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Daemon, check_sanitizer, die_with_parent, free_port, run_tests  # noqa: E402

TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
PROBE = os.path.join(TOOLS, "filter_probe")
PY = "/usr/bin/python3"
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pymilter_peer.py")

MESSAGE = (b"From: Sender <sender@example.test>\r\n"
           b"To: someone@example.test\r\n"
           b"Subject: a test\r\n"
           b"\tfolded line\r\n"
           b"X-Remove: this goes\r\n"
           b"Message-ID: <1@example.test>\r\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
           b"\r\n"
           b"The body.\r\n"
           b"Second line.\r\n")


def have(*progs):
    for p in progs:
        if shutil.which(p) is None and not os.path.exists(p):
            return p
    return None


def python_has(module):
    return subprocess.run([PY, "-c", "import " + module], capture_output=True,
                          timeout=30).returncode == 0


class PyMilter(Daemon):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-pymilter.")
        self.port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "milter.log")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def start(self):
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen([PY, PEER, "inet:%d@127.0.0.1" % self.port],
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     preexec_fn=die_with_parent)
        return self.wait_listening(self.port, "pymilter", self.log)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.logf.close()


class OpenDKIM(Daemon):
    """opendkim in signing mode for `domain` (example.test), selector
    `selector` ("test"); on a port or, with unix=True, on a socket in its
    folder."""

    def __init__(self, unix=False, domain="example.test", selector="test", bits=1024):
        self.domain, self.selector, self.bits = domain, selector, bits
        self.dir = tempfile.mkdtemp(prefix="mailroom-opendkim.")
        os.chmod(self.dir, 0o755)
        self.port = None if unix else free_port()
        self.sock = os.path.join(self.dir, "opendkim.sock") if unix else None
        self.proc = None
        self.log_path = os.path.join(self.dir, "opendkim.log")

    def spec(self):
        return "unix:%s" % self.sock if self.sock else "inet:127.0.0.1:%d" % self.port

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def start(self):
        subprocess.run(["opendkim-genkey", "-D", self.dir, "-d", self.domain, "-s",
                        self.selector, "-b", str(self.bits)], check=True, capture_output=True,
                       timeout=60)
        os.chmod(os.path.join(self.dir, self.selector + ".private"), 0o600)
        conf = os.path.join(self.dir, "opendkim.conf")
        sock = "local:%s" % self.sock if self.sock else "inet:%d@127.0.0.1" % self.port
        with open(conf, "w") as f:
            f.write("Mode s\nDomain %s\nSelector %s\n"
                    "KeyFile %s/%s.private\nSocket %s\nPidFile %s/opendkim.pid\n"
                    "Background no\nSyslog no\nCanonicalization relaxed/simple\n"
                    "InternalHosts 127.0.0.1\nRequireSafeKeys no\nUMask 000\n"
                    % (self.domain, self.selector, self.dir, self.selector, sock, self.dir))
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(["opendkim", "-f", "-x", conf], stdout=self.logf,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        if self.port:
            return self.wait_listening(self.port, "opendkim", self.log)
        import socket
        import time
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("opendkim exited: " + self.log())
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                s.close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("opendkim does not listen: " + self.log())
                time.sleep(0.05)

    def key_record(self):
        """The TXT record opendkim-genkey wrote, its strings joined."""
        with open(os.path.join(self.dir, self.selector + ".txt")) as f:
            return "".join(re.findall(r'"([^"]*)"', f.read())).encode()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self.logf.close()


def probe(milters, rcpts, message=MESSAGE, policy="tempfail", extra=()):
    d = tempfile.mkdtemp(prefix="mailroom-probe.")
    try:
        conf = os.path.join(d, "mailroom.conf")
        with open(conf, "w") as f:
            f.write("[server]\nhostname = mail.example.test\ndata_dir = data\n"
                    "[filter]\nmilter = %s\nmilter_timeout = 10s\n"
                    "milter_default_action = %s\n" % (", ".join(milters), policy))
        msg = os.path.join(d, "message")
        with open(msg, "wb") as f:
            f.write(message)
        args = [PROBE, "-c", conf, "-f", "sender@example.test"]
        for r in rcpts:
            args += ["-r", r]
        p = subprocess.run(args + list(extra) + [msg], capture_output=True, timeout=120)
        check_sanitizer(p.stderr.decode(errors="replace"), "filter_probe")
        assert p.returncode == 0, p.stderr
        head, _, body = p.stdout.partition(b"\nmessage:\n")
        return Result(head.decode(), body, p.stderr.decode(errors="replace"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Result:
    def __init__(self, text, message, log):
        self.text, self.message, self.log = text, message, log
        self.lines = text.splitlines()
        m = re.search(r'^chain action=(\w+) reply="([^"]*)" quarantine="([^"]*)" failed=(\d+)$',
                      text, re.M)
        assert m, text
        self.action, self.reply, self.quarantine, self.failed = (
            m.group(1), m.group(2), m.group(3), int(m.group(4)))
        self.rcpts = [ln.split()[1:] for ln in self.lines if ln.startswith("rcpt ")]
        self.sender = [ln.split()[1:] for ln in self.lines if ln.startswith("sender ")][0]
        self.mods = [ln for ln in self.lines if ln.startswith("mod ")]

    def headers(self):
        return self.message.split(b"\r\n\r\n", 1)[0] + b"\r\n"

    def body(self):
        return self.message.split(b"\r\n\r\n", 1)[1]


PYM = None


def pymilter():
    global PYM
    if PYM is None:
        PYM = PyMilter().start()
    return PYM


def spec(m):
    return "inet:127.0.0.1:%d" % m.port


# --- (a) every verdict and change of a libmilter filter ------------------------------------

def test_accept():
    r = probe([spec(pymilter())], ["accept@example.test"])
    assert "milter inet:127.0.0.1:%d action=accept" % PYM.port in r.text, r.text
    assert r.action == "continue" and r.failed == 0
    assert r.message == MESSAGE


def test_reject_with_its_own_reply():
    r = probe([spec(pymilter())], ["reject@example.test"])
    assert r.action == "reject", r.text
    assert r.reply == "554 5.7.1 Custom refusal by the test milter", r.text


def test_tempfail():
    r = probe([spec(pymilter())], ["tempfail@example.test"])
    assert r.action == "tempfail" and r.reply.startswith("451 4.7.1"), r.text


def test_discard():
    r = probe([spec(pymilter())], ["discard@example.test"])
    assert r.action == "discard", r.text


def test_quarantine():
    r = probe([spec(pymilter())], ["quarantine@example.test"])
    assert r.action == "quarantine" and r.quarantine == "held by the test", r.text
    assert r.message == MESSAGE


def test_add_header():
    r = probe([spec(pymilter())], ["addheader@example.test"])
    assert r.action == "continue", r.text
    assert "mod add-header index=0 name=X-Test-Milter value=added" in r.mods, r.mods
    assert r.headers().endswith(b"\r\nX-Test-Milter: added\r\n"), r.message
    assert r.body() == b"The body.\r\nSecond line.\r\n"


def test_insert_header_at_the_top():
    r = probe([spec(pymilter())], ["insheader@example.test"])
    assert "mod insert-header index=0 name=X-Inserted value=at the top" in r.mods, r.mods
    assert r.message.startswith(b"X-Inserted: at the top\r\nFrom: Sender"), r.message


def test_change_and_delete_header():
    r = probe([spec(pymilter())], ["chgheader@example.test"])
    assert "mod change-header index=1 name=Subject value=changed subject" in r.mods, r.mods
    assert "mod change-header index=1 name=X-Remove value=" in r.mods, r.mods
    h = r.headers()
    assert b"Subject: changed subject\r\n" in h and b"folded line" not in h, h
    assert b"X-Remove" not in h, h
    assert h.startswith(b"From: Sender <sender@example.test>\r\nTo: someone@example.test\r\n")


def test_add_recipients():
    r = probe([spec(pymilter())], ["addrcpt@example.test"])
    assert "mod add-rcpt index=0 name=<added@example.test> value=" in r.mods, r.mods
    assert "mod add-rcpt index=0 name=<par@example.test> value=NOTIFY=NEVER" in r.mods, r.mods
    assert r.rcpts == [["addrcpt@example.test"], ["added@example.test"],
                       ["par@example.test", "NOTIFY=NEVER"]], r.rcpts


def test_delete_recipient():
    r = probe([spec(pymilter())], ["delrcpt@example.test", "other@example.test"])
    assert "mod delete-rcpt index=0 name=<other@example.test> value=" in r.mods, r.mods
    assert r.rcpts == [["delrcpt@example.test"]], r.rcpts


def test_replace_body():
    r = probe([spec(pymilter())], ["replbody@example.test"])
    assert any(m.startswith("mod replace-body") for m in r.mods), r.mods
    assert r.body() == b"replaced body\r\nsecond line\r\n", r.message
    assert r.headers() == MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n"


def test_change_sender():
    r = probe([spec(pymilter())], ["chgfrom@example.test"])
    assert "mod change-from index=0 name=<new-sender@example.test> value=" in r.mods, r.mods
    assert r.sender == ["new-sender@example.test"], r.sender


def test_one_recipient_refused_at_rcpt():
    r = probe([spec(pymilter())], ["rcptreject@example.test", "addheader@example.test"])
    assert "refused rcptreject@example.test 550 5.1.1 No such user here" in r.lines, r.text
    assert r.action == "continue" and r.rcpts == [["addheader@example.test"]], r.text
    assert b"X-Test-Milter: added\r\n" in r.headers()
    only = probe([spec(pymilter())], ["rcptreject@example.test"])
    assert only.action == "reject" and only.reply == "550 5.1.1 No such user here", only.text


def test_macros_and_header_values_it_was_given():
    r = probe([spec(pymilter())], ["macros@example.test", "headers@example.test"],
              extra=["-u", "alice@example.test"])
    seen = re.search(rb"X-Seen-Macros: (.*)\r\n", r.message).group(1).decode()
    for want in ("j=mail.example.test", "{daemon_name}=smtp", "{client_addr}=127.0.0.1",
                 "_=unknown [127.0.0.1]", "i=0123456789ABCDEF",
                 "{mail_addr}=sender@example.test", "{auth_authen}=alice@example.test",
                 "helo=client.example.test", "from=<sender@example.test>",
                 "{rcpt_addr}=headers@example.test"):
        assert want in seen, (want, seen)
    assert re.search(r"v=mailroom \d", seen), seen
    # the folded Subject as Sendmail and Postfix pass it: lines joined by LF
    assert b"X-Got-Subject: 'a test\\n\\tfolded line'\r\n" in r.message, r.message


# --- (b) opendkim signs; python3-dkim verifies --------------------------------------------

def verify(message, record):
    import dkim
    return dkim.verify(message, dnsfunc=lambda name, timeout=5: record)


def test_opendkim_signs():
    with OpenDKIM() as od:
        r = probe([od.spec()], ["someone@example.test"])
        assert r.action == "continue" and r.failed == 0, r.text + r.log
        assert any("name=DKIM-Signature" in m for m in r.mods), r.mods
        assert r.message.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;"), r.message[:300]
        assert b"d=example.test" in r.headers() and b"s=test" in r.headers()
        assert verify(r.message, od.key_record()), r.message
        # a changed message no longer verifies: the check is real
        assert not verify(r.message.replace(b"The body.", b"The bodY."), od.key_record())


def test_chain_python_milter_then_opendkim_over_unix_socket():
    with OpenDKIM(unix=True) as od:
        r = probe([spec(pymilter()), od.spec()], ["addheader@example.test"])
        assert r.failed == 0 and r.action == "continue", r.text + r.log
        assert "milter %s action=accept" % od.spec() in r.text, r.text
        h = r.headers()
        # opendkim saw the first filter's header (and signs the message as it
        # left the first filter, from our folded Subject on)
        assert b"X-Test-Milter: added\r\n" in h and b"DKIM-Signature:" in h, h
        assert verify(r.message, od.key_record()), r.message


# --- (c) a milter that is not there --------------------------------------------------------

def test_milter_down_both_policies():
    port = free_port()  # nothing listens there
    closed = probe(["inet:127.0.0.1:%d" % port], ["someone@example.test"], policy="tempfail")
    assert closed.action == "tempfail" and closed.failed == 1, closed.text
    assert closed.reply == "451 4.7.1 Service unavailable - try again later"
    assert "Connection refused" in closed.text and "policy=tempfail" in closed.log, closed.log
    opened = probe(["inet:127.0.0.1:%d" % port], ["someone@example.test"], policy="accept")
    assert opened.action == "continue" and opened.failed == 1, opened.text
    assert opened.message == MESSAGE and "policy=accept" in opened.log, opened.log


def main():
    missing = have(PROBE, "opendkim", "opendkim-genkey")
    if missing is None and not python_has("Milter"):
        missing = "python3-milter"
    if missing is None and not python_has("dkim"):
        missing = "python3-dkim"
    if missing is not None:
        print("skipped: %s is missing" % missing)
        sys.exit(77)
    try:
        run_tests(globals())
    finally:
        if PYM is not None:
            PYM.cleanup()


if __name__ == "__main__":
    main()

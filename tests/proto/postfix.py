# SPDX-License-Identifier: MIT
"""postfix.py - a private Postfix on 127.0.0.1 for the tests that use it as
a peer: the submission side of `mailroom check` (test_check.py, SASL by a
private Dovecot) and an independent MTA whose opendkim milter signs what it
relays to us (test_smtp_dmarc.py).

Postfix(main, services) makes a folder of its own (or uses `folder`, for a
test that must know the path before: a Dovecot auth socket in its queue)
with conf/, queue/ and data/ below it. conf/main.cf is BASE_MAIN (queue and
data there, loopback IPv4 only, no local delivery, the log on stdout) and
then `main`: a dict of settings or text of extra lines, with {pf} standing
for the folder. conf/master.cf is Debian's, without the port-25 smtpd and
with every chroot off, and then `services`: {"127.0.0.1:PORT": extra lines}
(each an smtpd listener; the extra lines are its "  -o name=value" options).
files={name: text} are written to conf/ (lookup tables). `postfix check`
then makes the queue folders, queue/private (where an auth socket lives)
among them.

start() runs `postfix -c conf start-fg` (the master in the foreground, so its
PID is ours) and waits until every service's port accepts; stop() asks
`postfix -c conf stop` and waits for that PID, killing it if it lingers.
log() is the end of what the master and its daemons wrote. A private
Postfix needs root (its daemons change user): need_postfix() skips (exit 77)
where it is not installed or the test is not root.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from harness import Daemon, die_with_parent

POSTFIX = "/usr/sbin/postfix"

BASE_MAIN = """compatibility_level = 3.6
queue_directory = {pf}/queue
data_directory = {pf}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
maillog_file = /dev/stdout
alias_maps =
alias_database =
local_recipient_maps =
biff = no
"""


def need_postfix():
    """Exit 77 (skipped) where Postfix is not installed or we are not root."""
    if not os.path.exists(POSTFIX):
        print("skip: %s not installed (postfix)" % POSTFIX)
        sys.exit(77)
    if os.geteuid() != 0:
        print("skip: a private Postfix needs root")
        sys.exit(77)


class Postfix(Daemon):
    def __init__(self, main, services, files=None, folder=None):
        if folder is None:
            folder = tempfile.mkdtemp(prefix="mailroom-postfix.")
        self.dir = folder
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)  # Postfix's daemons reach their queue below it
        self.conf = os.path.join(self.dir, "conf")
        self.ports = [int(addr.rsplit(":", 1)[1]) for addr in services]
        self.proc = None
        self.log_path = os.path.join(self.dir, "postfix.log")
        for sub in ("conf", "queue", "data"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        subprocess.run(["chown", "postfix", os.path.join(self.dir, "data")], check=True)
        if isinstance(main, dict):
            main = "".join("%s = %s\n" % kv for kv in main.items())
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(BASE_MAIN.format(pf=self.dir) + main.replace("{pf}", self.dir))
        for name, text in (files or {}).items():
            with open(os.path.join(self.conf, name), "w") as f:
                f.write(text)
        shutil.copy("/etc/postfix/master.cf", os.path.join(self.conf, "master.cf"))
        pconf = ["postconf", "-c", self.conf]
        subprocess.run(pconf + ["-X", "-M", "smtp/inet"], check=True, capture_output=True)
        subprocess.run(pconf + ["-F", "*/*/chroot = n"], check=True, capture_output=True)
        with open(os.path.join(self.conf, "master.cf"), "a") as f:
            for addr, options in services.items():
                f.write("%s inet n - n - - smtpd\n%s" % (addr, options))
        # the postfix command wants the default main.cf to exist, and a
        # bare install may lack it
        if not os.path.exists("/etc/postfix/main.cf"):
            open("/etc/postfix/main.cf", "a").close()
        # makes the queue folders (private/ for an auth socket among them)
        subprocess.run([POSTFIX, "-c", self.conf, "check"], capture_output=True, timeout=60)
        private = os.path.join(self.dir, "queue", "private")
        os.makedirs(private, exist_ok=True)
        subprocess.run(["chown", "postfix", private], check=True)
        os.chmod(private, 0o700)

    def start(self):
        self.out = open(self.log_path, "wb")
        self.proc = subprocess.Popen([POSTFIX, "-c", self.conf, "start-fg"], stdout=self.out,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        for port in self.ports:
            self.wait_listening(port, "postfix", self.log)
        return self

    def stop(self):
        if self.proc is None:
            return
        subprocess.run([POSTFIX, "-c", self.conf, "stop"], capture_output=True, timeout=60)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.out.close()
        self.proc = None

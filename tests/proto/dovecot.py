# SPDX-License-Identifier: MIT
"""dovecot.py - a private Dovecot POP3 or IMAP server (Debian dovecot-core
with dovecot-pop3d or dovecot-imapd) on 127.0.0.1 for the tests that use it
as a peer: the import, export and check tests (POP3), and the ENVELOPE /
BODYSTRUCTURE comparison of test_imap_struct.py (protocols="imap").

Dovecot(users) writes a dovecot.conf in a temp folder of its own (base_dir,
state_dir, log and instance name there, so it never touches the system
instance) with a passwd-file of {PLAIN} passwords. Mail is a Maildir:
  - by default every user's home is FOLDER/mail/USER, owned by nobody, with
    mail_location = maildir:~/Maildir (maildir_of(user) gives the path);
  - homes={user: path} and owner=a pwd entry make each home a Maildir of
    its own, read as that owner (with the indexes in memory, so Dovecot
    reads what is there and writes nothing beside it).
tls=True adds STLS on the pop3 port and a pop3s port (pop3s_port), with
plaintext logins refused before TLS, using cert/key when given or else a
self-signed certificate for localhost and 127.0.0.1 (self.cert). `extra` is
appended to the config as it is. protocols is Dovecot's setting of that
name ("pop3" by default, "imap", or "pop3 imap"); imap_port is the IMAP
listener's port when imap is among them. start() waits until the first
protocol's port accepts;
stop() sends the master SIGTERM, which stops its children; log() is the end
of its logs for a failure message.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import Daemon, die_with_parent, free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
POP3_BIN = "/usr/lib/dovecot/pop3"
IMAP_BIN = "/usr/lib/dovecot/imap"


def need_dovecot():
    """Exit 77 (skipped) where Dovecot's POP3 server is not installed."""
    for path in (DOVECOT, POP3_BIN):
        if not os.path.exists(path):
            print("skip: %s not installed (dovecot-core, dovecot-pop3d)" % path)
            sys.exit(77)


def need_dovecot_imap():
    """Exit 77 (skipped) where Dovecot's IMAP server is not installed."""
    for path in (DOVECOT, IMAP_BIN):
        if not os.path.exists(path):
            print("skip: %s not installed (dovecot-core, dovecot-imapd)" % path)
            sys.exit(77)


IMAP_SERVICE = """service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""

CONF = """protocols = {protocols}
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailroom-test-{pop3}
log_path = {d}/dovecot.log
first_valid_uid = 1
{tls}auth_mechanisms = {mechanisms}
passdb {{
  driver = passwd-file
  args = {d}/users
}}
{userdb}service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
{imap_service}{extra}"""


class Dovecot(Daemon):
    def __init__(self, users, homes=None, owner=None, tls=False, cert=None, key=None,
                 mechanisms="plain", extra="", protocols="pop3"):
        self.dir = tempfile.mkdtemp(prefix="mailroom-dovecot.")
        os.chmod(self.dir, 0o755)
        self.proc = None
        self.protocols = protocols.split()
        self.pop3_port = self.port = free_port()
        self.imap_port = free_port() if "imap" in self.protocols else None
        self.pop3s_port = free_port() if tls else None
        for sub in ("run", "state"):
            os.mkdir(os.path.join(self.dir, sub))
        users_file = os.path.join(self.dir, "users")
        with open(users_file, "w") as f:
            for user, password in users.items():
                if homes:
                    f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (
                        user, password, owner.pw_uid, owner.pw_gid, homes[user]))
                else:
                    f.write("%s:{PLAIN}%s\n" % (user, password))
        os.chmod(users_file, 0o644)
        if homes:
            userdb = ("userdb {\n  driver = passwd-file\n  args = %s\n}\n"
                      "mail_location = maildir:~:INDEX=MEMORY\n" % users_file)
        else:
            for user in users:
                for sub in ("cur", "new", "tmp"):
                    os.makedirs(os.path.join(self.maildir_of(user), sub))
            self.own()
            userdb = ("userdb {\n  driver = static\n"
                      "  args = uid=nobody gid=nogroup home=%s/mail/%%u\n}\n"
                      "mail_location = maildir:~/Maildir\n" % self.dir)
        tls_conf = "ssl = no\ndisable_plaintext_auth = no\n"
        if tls:
            if cert is None:
                cert = os.path.join(self.dir, "cert.pem")
                key = os.path.join(self.dir, "key.pem")
                subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                                "/CN=localhost", "-addext",
                                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                                "-keyout", key, "-out", cert], check=True, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.cert = cert
            tls_conf = ("ssl = required\nssl_cert = <%s\nssl_key = <%s\n"
                        "ssl_min_protocol = TLSv1.2\ndisable_plaintext_auth = yes\n"
                        % (cert, key))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(d=self.dir, pop3=self.pop3_port, pop3s=self.pop3s_port or 0,
                                tls=tls_conf, mechanisms=mechanisms, userdb=userdb,
                                extra=extra, protocols=protocols,
                                imap_service=IMAP_SERVICE.format(imap=self.imap_port)
                                if self.imap_port else ""))

    def maildir_of(self, user):
        return os.path.join(self.dir, "mail", user, "Maildir")

    def own(self):
        """Mail in the default homes belongs to the user Dovecot's mail
        processes run as."""
        subprocess.run(["chown", "-R", "nobody:nogroup", os.path.join(self.dir, "mail")],
                       check=True)

    def start(self):
        self.err = open(os.path.join(self.dir, "stderr"), "wb")
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf], stdout=self.err,
                                     stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        first = self.imap_port if self.protocols[0] == "imap" else self.pop3_port
        return self.wait_listening(first, "dovecot", self.log)

    def log(self):
        text = ""
        for name in ("stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f.read()[-3000:]
            except OSError:
                pass
        return text

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its children
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.err.close()
        self.proc = None

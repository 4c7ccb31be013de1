# SPDX-License-Identifier: MIT
"""krb5kdc.py - a private MIT Kerberos KDC on loopback for the GSSAPI tests.

A Kdc owns a temp folder with its own krb5.conf and kdc.conf (KRB5_CONFIG,
KRB5_KDC_PROFILE), a database made by kdb5_util for REALM, principals made
by kadmin.local, and a krb5kdc process (-n: in the foreground) listening on
127.0.0.1 at a port from free_port(), stopped by its PID. Every wait is
bounded.

Clients and the server use the same krb5.conf: the realm's KDC at that
port, no DNS lookups, and no host name canonicalization (rdns = false,
dns_canonicalize_hostname = false), so "pop@localhost" is the principal
pop/localhost@REALM everywhere. env() gives the variables for a client
(with its own credential cache) or for the server; the server itself only
reads the keytab and never talks to the KDC.
"""
import os
import pwd
import signal
import subprocess
import tempfile

from harness import Daemon, die_with_parent, free_port, unprivileged_user

REALM = "TEST.REALM"
ENCTYPES = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"


class Kdc(Daemon):
    def __init__(self, realm=REALM):
        self.realm = realm
        self.dir = tempfile.mkdtemp(prefix="mailroom-kdc.")
        os.chmod(self.dir, 0o711)  # the server's user reads its keytab here
        self.port = free_port()
        self.proc = None
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        self.ccache = os.path.join(self.dir, "ccache")
        with open(self.krb5_conf, "w") as f:
            f.write("[libdefaults]\n"
                    "  default_realm = %(r)s\n"
                    "  dns_lookup_kdc = false\n"
                    "  dns_lookup_realm = false\n"
                    "  dns_canonicalize_hostname = false\n"
                    "  rdns = false\n"
                    "  udp_preference_limit = 1\n"
                    "[realms]\n"
                    "  %(r)s = {\n    kdc = 127.0.0.1:%(p)d\n  }\n"
                    "[domain_realm]\n"
                    "  localhost = %(r)s\n"
                    % {"r": realm, "p": self.port})
        with open(self.kdc_conf, "w") as f:
            f.write("[kdcdefaults]\n"
                    "  kdc_listen = 127.0.0.1:%(p)d\n"
                    "  kdc_tcp_listen = 127.0.0.1:%(p)d\n"
                    "[realms]\n"
                    "  %(r)s = {\n"
                    "    database_name = %(d)s/principal\n"
                    "    key_stash_file = %(d)s/stash\n"
                    "    acl_file = %(d)s/kadm5.acl\n"
                    "    supported_enctypes = %(e)s\n"
                    "    kdc_listen = 127.0.0.1:%(p)d\n"
                    "    kdc_tcp_listen = 127.0.0.1:%(p)d\n"
                    "  }\n"
                    "[logging]\n"
                    "  kdc = FILE:%(d)s/kdc.log\n"
                    "  admin_server = FILE:%(d)s/kadmin.log\n"
                    % {"r": realm, "p": self.port, "d": self.dir, "e": ENCTYPES})
        open(os.path.join(self.dir, "kadm5.acl"), "w").close()
        self._run(["kdb5_util", "create", "-s", "-r", realm, "-P", "master-pw-1"])

    # --- environment ---------------------------------------------------------
    def env(self, ccache=None):
        """Variables for a Kerberos program: this realm, a private cache."""
        e = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf,
                 KRB5CCNAME="FILE:" + (ccache or self.ccache),
                 KRB5_TRACE=os.path.join(self.dir, "trace.log"))
        return e

    def _run(self, args, stdin=None, env=None):
        p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env or self.env(), timeout=30)
        if p.returncode != 0:
            raise AssertionError("%s: exit %d: %s %s" % (
                " ".join(args), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def kadmin(self, query):
        return self._run(["kadmin.local", "-r", self.realm, "-q", query])

    # --- principals ------------------------------------------------------------
    def add_user(self, name, password):
        self.kadmin("addprinc -pw %s %s" % (password, name))

    def add_service(self, *names):
        for n in names:
            self.kadmin("addprinc -randkey %s" % n)

    def keytab(self, path, *names):
        """Writes the keys of names to path, readable by the server's user.
        The keys stay as they are (-norandkey): earlier keytabs stay valid."""
        self.kadmin("ktadd -k %s -norandkey %s" % (path, " ".join(names)))
        os.chmod(path, 0o600)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(unprivileged_user())
            os.chown(path, pw.pw_uid, pw.pw_gid)
        return path

    def kinit(self, name, password, ccache=None):
        """A ticket-granting ticket for name in ccache (default: the Kdc's)."""
        env = self.env(ccache)
        self._run(["kinit", name], stdin=(password + "\n").encode(), env=env)
        return env

    # --- process ------------------------------------------------------------------
    def start(self):
        self.proc = subprocess.Popen(
            ["krb5kdc", "-n", "-r", self.realm, "-P", os.path.join(self.dir, "kdc.pid")],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "krb5kdc.err"), "wb"),
            env=self.env(), preexec_fn=die_with_parent)
        return self.wait_listening(self.port, "krb5kdc", self.log_text, timeout=15)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def log_text(self):
        text = ""
        for name in ("krb5kdc.err", "kdc.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    text += f.read().decode(errors="replace")
            except OSError:
                pass
        return text


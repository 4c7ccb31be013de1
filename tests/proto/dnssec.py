# SPDX-License-Identifier: MIT
"""DNSSEC-signed zones for the tests that serve them with unbound
(test_dns_async.py, test_dane.py): ldns-keygen makes an Ed25519 KSK and
ZSK, ldns-signzone signs, the KSK's DS line is the trust anchor."""
import os
import subprocess


def sign_zone(d, name, text, tamper=None):
    """Writes zone `name` (zone-file text) in d and signs it; tamper(text)
    may change the signed zone afterwards (its RRSIGs then no longer fit).
    Returns the DS line of its KSK."""
    path = os.path.join(d, name + ".zone")
    with open(path, "w") as f:
        f.write(text)
    run = dict(cwd=d, capture_output=True, text=True, check=True)
    ksk = subprocess.run(["ldns-keygen", "-a", "ED25519", "-k", name], **run).stdout.strip()
    zsk = subprocess.run(["ldns-keygen", "-a", "ED25519", name], **run).stdout.strip()
    subprocess.run(["ldns-signzone", "-o", name, path, ksk, zsk], **run)
    if tamper is not None:
        signed = path + ".signed"
        changed = tamper(open(signed).read())
        with open(signed, "w") as f:
            f.write(changed)
    with open(os.path.join(d, ksk + ".ds")) as f:
        return f.read()


def auth_zones(d, names):
    """The unbound auth-zone clauses that serve the signed zones `names` of d."""
    return "".join("auth-zone:\n  name: \"%s.\"\n  zonefile: \"%s/%s.zone.signed\"\n"
                   "  for-downstream: yes\n  for-upstream: no\n" % (z, d, z) for z in names)

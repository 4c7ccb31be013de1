#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh - install the Debian 12 packages mailroom needs, only those missing.
#   scripts/deps.sh build   compilers and libraries
#   scripts/deps.sh test    + the real clients the protocol tests drive, clang
#   scripts/deps.sh bench   + the peers the benchmarks compare against
# Packages go in with --no-install-recommends, so every package a command
# needs at run time is named here even where Debian only recommends it;
# To check: scripts/test.sh as root in a freshly debootstrapped bookworm.
set -eu
level=${1:-build}

# build: gcc, make (build-essential), cmake, pkg-config; OpenSSL, SQLite,
# libxcrypt; OpenLDAP's client library (libldap-dev) for [directory]
# backend = ldap; Linux-PAM (libpam0g-dev) for [directory] backend = pam;
# libargon2 for Dovecot's {ARGON2I}/{ARGON2ID} hashes; MIT Kerberos' GSS-API
# (libkrb5-dev) for SASL GSSAPI; libmilter-dev's <libmilter/mfdef.h> gives
# the milter protocol's constants (filter/milter_proto.c; the library itself
# is not linked); the openssl command makes the tests' certificates; python3 (/usr/bin/python3) runs man/mkman.py, which makes
# the manual pages mailroom(8) and mailroom.conf(5) at build time.
pkgs="build-essential cmake pkg-config libssl-dev libsqlite3-dev libcrypt-dev libldap-dev libpam0g-dev libargon2-dev libkrb5-dev libmilter-dev openssl python3"
# libunbound (libunbound-dev): the asynchronous, DNSSEC-validating resolver of dns/dns_async.c
pkgs="$pkgs libunbound-dev"
pkgs="$pkgs libpsl-dev publicsuffix"  # DMARC's organisational domain (filter/dmarc.c): libpsl and the list it reads
pkgs="$pkgs libcurl4-openssl-dev"  # libcurl: MTA-STS policies fetched over HTTPS (queue/mta_sts.c)
# libpq (libpq-dev): the PostgreSQL client library of [store] backend = postgresql
pkgs="$pkgs libpq-dev"
pkgs="$pkgs dns-root-data"  # /usr/share/dns/root.key: the default [delivery] dnssec_trust_anchor (DNSSEC, DANE)
case "$level" in
# test: clang-format checks the C sources' layout (style/clang-format);
# iproute2's ss counts the LDAP pool's connections in test_ldap.py;
# python3 and aiosmtpd run the protocol tests and their SMTP sinks;
# unbound answers the DNS tests; curl, fetchmail, mpop, s-nail, msmtp and
# swaks are the real clients, and swaks speaks TLS only with Net::SSLeay
# (libnet-ssleay-perl, a mere recommendation of swaks); clang with its
# runtime (libclang-rt-14-dev) builds the second compiler's configurations
# and the libFuzzer targets, and llvm's llvm-symbolizer gives their crash
# reports function names and lines instead of bare addresses. dovecot-core's
# doveadm writes the fresh passwd-file hashes of test_passwdfile.py, and with
# dovecot-pop3d it is the real Dovecot test_import.py migrates from (from disk),
# test_import_pop3.py imports from (over the wire) and test_export.py serves
# its export with; dovecot-imapd is the IMAP server whose ENVELOPE, BODY and
# BODYSTRUCTURE test_imap_struct.py compares ours with. slapd is
# the directory server of the LDAP tests, ldap-utils (ldapadd, ldapmodify)
# loads their entries. krb5-kdc (krb5kdc, kdb5_util) with krb5-admin-server
# (kadmin.local) is the private KDC of the GSSAPI tests; krb5-user's kinit,
# kvno and ktutil get their clients tickets and make keytabs. Perl's
# Mail::SRS (libmail-srs-perl) is the second SRS implementation
# test_srs_perl.py checks our addresses against. groff-base's groff and
# man-db's man render the manual pages and report their warnings
# (test_man.py). Prometheus (prometheus, with promtool) scrapes and checks
# the [metrics] endpoint in test_metrics.py and test_metrics_prometheus.py.
# postfix is the private submission server (SASL through the private
# Dovecot's auth socket) that test_check.py runs `mailroom check` against;
# as for bench, it is installed with the system mailer left unconfigured
# (the debconf answer below). The package step of test.sh builds the .deb
# with dpkg-buildpackage (debhelper, fakeroot), lints it (lintian) and
# installs it in a fresh root made by debootstrap; test_systemd.py checks
# the unit with systemd-analyze (systemd). The filter tests run real filter
# daemons privately: python3-milter (libmilter under Python) is the milter
# of test_milter.py, opendkim signs and verifies there (opendkim-tools'
# opendkim-genkey makes its key, python3-dkim checks the signature too), and
# clamav-daemon's clamd scans in test_clamd.py with a signature database
# the test writes (its clamav-freshclam dependency is never run); rspamd's
# milter proxy worker filters live SMTP in test_rspamd.py. The IMAP
# tests drive isync's mbsync, offlineimap3 and neomutt (IMAP, POP3 and SMTP
# submission) against the server, and compare FETCH structure items with
# Dovecot's own IMAP (dovecot-imapd). imapflow, the Node.js IMAP client of
# test_imap_imapflow.py, comes from the npm registry and needs node and npm:
# Debian's nodejs and npm, each only when its command is missing (NodeSource's
# nodejs brings its own npm and conflicts with Debian's npm package).
test)  pkgs="$pkgs ldnsutils"  # ldns-keygen, ldns-signzone: the signed zones of test_dns_async.py
	pkgs="$pkgs libmilter-dev python3-milter opendkim opendkim-tools python3-dkim clamav-daemon rspamd groff-base man-db debhelper fakeroot lintian debootstrap systemd clang-format iproute2 dovecot-core dovecot-pop3d dovecot-imapd isync offlineimap3 slapd ldap-utils krb5-kdc krb5-admin-server krb5-user python3 python3-aiosmtpd unbound curl fetchmail mpop s-nail msmtp swaks libnet-ssleay-perl clang libclang-rt-14-dev llvm libmail-srs-perl prometheus postfix neomutt"
	pkgs="$pkgs python3-spf"  # pyspf, the independent SPF implementation tests/proto/test_spf.py compares with
	pkgs="$pkgs postgresql-15"  # initdb, postgres, pg_basebackup and psql: the private PostgreSQL servers of the store tests (tests/common/pgserver.py)
	command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
	command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm" ;;
# bench: Dovecot (bench/run-pop3.sh, and dovecot-imapd with isync's mbsync for bench/run-imap.sh), Postfix (bench/run-smtp.sh), slapd and
# ldap-utils (bench/run-ldap.sh).
bench) pkgs="$pkgs python3 curl fetchmail mpop dovecot-pop3d dovecot-imapd isync postfix slapd ldap-utils" ;;
build) ;;
*) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "mailroom: missing Debian packages:$missing" >&2
	echo "mailroom: run as root, or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "mailroom: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages with daemons (dovecot, postfix, unbound, opendkim, clamd and
# freshclam, postgresql) must not start system
# services here: the tests and benchmarks run private instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Postfix leaves the system mailer unconfigured (bench/run-smtp.sh writes its own).
case "$missing" in *" postfix"*)
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
esac
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

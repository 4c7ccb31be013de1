#!/bin/sh
# SPDX-License-Identifier: MIT
# deps.sh - install the Debian 12 packages mailroom needs, only those missing.
#   scripts/deps.sh build   compilers and libraries
#   scripts/deps.sh test    + the real clients the protocol tests drive, clang
#   scripts/deps.sh bench   + the peers the benchmarks compare against
set -eu
level=${1:-build}

pkgs="build-essential cmake pkg-config libssl-dev libsqlite3-dev libcrypt-dev openssl"
case "$level" in
test)  pkgs="$pkgs python3 python3-aiosmtpd unbound curl fetchmail mpop s-nail swaks msmtp openssl clang libclang-rt-14-dev" ;;
bench) pkgs="$pkgs python3 curl fetchmail mpop dovecot-pop3d" ;;
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
# Packages with daemons (dovecot) must not start system services here:
# the benchmark runs its own private instance.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# SPDX-License-Identifier: MIT
# install-test.sh DEB - installs the mailroom package in a fresh Debian 12
# root and checks what it promises: the mailroom account and group, the data
# dir /var/lib/mailroom (0700, theirs) with a store and a self-signed
# certificate, /etc/mailroom/mailroom.conf as a conffile, the unit enabled;
# then starts the server the way the unit does (its own ExecStartPre and
# ExecStart lines, as the mailroom account holding CAP_NET_BIND_SERVICE
# only) in a private network namespace, so ports 25, 110, 465, 587 and 995
# are free, adds a mailbox, runs `mailroom check` against it (check_server)
# and talks to every port with Python's clients (check_clients). Everything is undone on exit: the server stopped, the
# mounts gone, the root removed. Every step is bounded by a timeout.
#
# Needs root, debootstrap and a Debian mirror: the one of /etc/apt's sources,
# else deb.debian.org (MAILROOM_MIRROR overrides). Downloaded packages are
# kept in MAILROOM_DEBOOTSTRAP_CACHE (default /var/cache/mailroom-test/
# debootstrap) so a second run downloads nothing.
set -eu

ADDR=probe@example.test
PASSWORD=install-test-pw-1

if [ "${1:-}" = --in-netns ]; then
	in_netns=1
	root=$2
else
	in_netns=0
	deb=${1:?usage: install-test.sh mailroom_VERSION_ARCH.deb}
fi
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "install-test: $*"; }
fail() {
	echo "install-test: FAILED: $*" >&2
	exit 1
}

# --- inside the network namespace: serve and check -----------------------------

# check_server: `mailroom check` from inside the root against the standard
# ports: POP3 with STLS (110) and over TLS (995), IMAP with STARTTLS (143)
# and over TLS (993), submission with STARTTLS (587) and over TLS (465), a
# probe sent, found over IMAP and fetched back over POP3. The certificate
# is the self-signed one init made for the host name, so it is its own CA.
check_server() {
	echo "$PASSWORD" | timeout 120 chroot "$root" mailroom check "$ADDR" --password-stdin \
		--host 127.0.0.1 --ca-file /var/lib/mailroom/tls/cert.pem --tls-name "$(uname -n)"
}

# check_clients: the same through Python's poplib and smtplib, plus inbound
# SMTP on 25 (which check does not test): a message through each SMTP port,
# fetched back over POP3 and deleted.
check_clients() {
	timeout 120 python3 - "$ADDR" "$PASSWORD" <<'PY'
import poplib, smtplib, ssl, sys, time
addr, pw = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

def pop(implicit):
    if implicit:
        c = poplib.POP3_SSL("127.0.0.1", 995, timeout=10, context=ctx)
    else:
        c = poplib.POP3("127.0.0.1", 110, timeout=10)
        c.stls(ctx)
    c.user(addr)
    c.pass_(pw)
    return c

def message(tag):
    return ("From: %s\r\nTo: %s\r\nSubject: install test %s\r\n\r\n"
            "probe %s\r\n" % (addr, addr, tag, tag))

sent = []
s = smtplib.SMTP("127.0.0.1", 25, timeout=10)
s.ehlo("client.example")
s.starttls(context=ctx)
s.ehlo("client.example")
s.sendmail("someone@remote.example", [addr], message("smtp-25"))
s.quit()
sent.append("smtp-25")
s = smtplib.SMTP("127.0.0.1", 587, timeout=10)
s.ehlo("client.example")
s.starttls(context=ctx)
s.ehlo("client.example")
s.login(addr, pw)
s.sendmail(addr, [addr], message("submission-587"))
s.quit()
sent.append("submission-587")
s = smtplib.SMTP_SSL("127.0.0.1", 465, timeout=10, context=ctx)
s.ehlo("client.example")
s.login(addr, pw)
s.sendmail(addr, [addr], message("submissions-465"))
s.quit()
sent.append("submissions-465")
print("check: sent through 25, 587 and 465")

deadline = time.monotonic() + 30
while True:
    c = pop(False)
    n = c.stat()[0]
    if n >= len(sent) or time.monotonic() > deadline:
        break
    c.quit()
    time.sleep(0.2)
got = [b"\n".join(c.retr(i + 1)[1]).decode() for i in range(n)]
for tag in sent:
    assert any("probe " + tag in m for m in got), (tag, got)
for i in range(n):
    c.dele(i + 1)
c.quit()
print("check: POP3 STLS on 110: %d messages fetched and deleted" % n)
c = pop(True)
assert c.stat()[0] == 0, c.stat()
c.quit()
print("check: POP3 over TLS on 995: mailbox empty")
PY
}

wait_ports() { # ports... : each accepts a connection within 20 s
	timeout 30 python3 - "$@" <<'PY' || return 1
import socket, sys, time
deadline = time.monotonic() + 20
for port in map(int, sys.argv[1:]):
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("port %d does not answer" % port)
            time.sleep(0.1)
PY
}

if [ "$in_netns" = 1 ]; then
	ip link set lo up
	unit=$root/lib/systemd/system/mailroom.service
	pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
	start=$(sed -n 's/^ExecStart=//p' "$unit")
	[ -n "$start" ] || fail "no ExecStart= in $unit"
	user=$(sed -n 's/^User=//p' "$unit")
	group=$(sed -n 's/^Group=//p' "$unit")
	caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr '[:upper:]' '[:lower:]' | sed 's/cap_/+/g; s/ /,/g')
	# as the unit runs it: the account, its groups, the ambient capability,
	# no new privileges
	as_unit="setpriv --reuid=$user --regid=$group --init-groups --inh-caps=$caps --ambient-caps=$caps --no-new-privs"
	say "ExecStartPre: $pre"
	# shellcheck disable=SC2086
	timeout 60 chroot "$root" $as_unit $pre || fail "ExecStartPre failed"
	say "ExecStart: $start (as $user, $caps)"
	# shellcheck disable=SC2086
	chroot "$root" $as_unit $start > "$root/tmp/serve.log" 2>&1 &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL $pid 2>/dev/null; true' EXIT
	if ! wait_ports 25 110 465 587 995; then
		cat "$root/tmp/serve.log"
		fail "the server does not answer on 25, 110, 465, 587 and 995"
	fi
	# the process the unit would watch: serve itself (chroot and setpriv exec)
	for k in CapEff CapPrm CapAmb; do
		v=$(sed -n "s/^$k:[[:space:]]*//p" "/proc/$pid/status")
		[ "$v" = 0000000000000000 ] || fail "$k of serve is $v after the start"
	done
	say "serve runs as uid $(stat -c %u "/proc/$pid") with no capability left"
	timeout 30 chroot "$root" mailroom domain add example.test
	echo "$PASSWORD" | timeout 30 chroot "$root" mailroom user add "$ADDR" --password-stdin
	for check in check_server check_clients; do
		if ! $check; then
			cat "$root/tmp/serve.log"
			fail "$check"
		fi
	done
	kill -TERM "$pid"
	rc=0
	timeout 20 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done" || rc=1
	trap - EXIT
	[ "$rc" = 0 ] || fail "serve did not stop within 20 s of SIGTERM"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "serve exited $rc after SIGTERM"
	grep -q "mailroom stopped" "$root/tmp/serve.log" || fail "no 'mailroom stopped' in the log"
	exit 0
fi

# --- outside: make the root, install, check files ------------------------------

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot, a network namespace)"
for t in debootstrap chroot unshare ip python3 setpriv; do
	command -v "$t" >/dev/null || fail "$t is missing"
done
[ -f "$deb" ] || fail "$deb: no such file"

mirror=${MAILROOM_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }')
fi
if [ -z "$mirror" ]; then
	mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }')
fi
mirror=${mirror:-http://deb.debian.org/debian}
cache=${MAILROOM_DEBOOTSTRAP_CACHE:-/var/cache/mailroom-test/debootstrap}
mkdir -p "$cache"

root=$(mktemp -d /var/tmp/mailroom-root.XXXXXX)
chmod 755 "$root" # it becomes /, which every account must enter
# Unmounts everything below the root and removes it - but only when nothing
# is mounted there any more: a bind-mounted /dev must never be rm'd.
cleanup() {
	for m in "$root/proc" "$root/dev/pts" "$root/dev"; do
		if mountpoint -q "$m" 2>/dev/null; then
			umount "$m" 2>/dev/null || umount -l "$m" || true
		fi
	done
	if grep -q " $root/" /proc/mounts; then
		echo "install-test: $root still has mounts; not removing it" >&2
		return
	fi
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

t0=$(date +%s)
say "debootstrap bookworm from $mirror into $root"
if ! timeout 600 debootstrap --variant=minbase --cache-dir="$cache" bookworm "$root" "$mirror" \
	> "$root.debootstrap.log" 2>&1; then
	tail -n 20 "$root.debootstrap.log"
	rm -f "$root.debootstrap.log"
	fail "debootstrap"
fi
rm -f "$root.debootstrap.log"
say "root made in $(($(date +%s) - t0)) s"

mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# no service manager runs in the root: nothing may try to start one
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp "$deb" "$root/tmp/"
name=$(basename "$deb")

say "apt-get install ./$name"
export DEBIAN_FRONTEND=noninteractive
timeout 120 chroot "$root" apt-get update -qq || fail "apt-get update"
if ! timeout 300 chroot "$root" sh -c "cd /tmp && apt-get install -y -qq --no-install-recommends ./$name" \
	> "$root/tmp/apt.log" 2>&1; then
	tail -n 30 "$root/tmp/apt.log"
	fail "apt-get install ./$name"
fi
grep -E "mailroom|self-signed" "$root/tmp/apt.log" | grep -v "^Get:\|^Selecting\|^Preparing\|^Unpacking" || true

# --- what the package made ---
chroot "$root" getent passwd mailroom >/dev/null || fail "no account mailroom"
chroot "$root" getent group mailroom >/dev/null || fail "no group mailroom"
[ "$(chroot "$root" id -gn mailroom)" = mailroom ] || fail "mailroom's primary group is not mailroom"
st=$(stat -c '%a %U %G' "$root/var/lib/mailroom" 2>/dev/null) || fail "no /var/lib/mailroom"
# names as the root knows them: the host may not have the account
uid=$(chroot "$root" id -u mailroom)
gid=$(chroot "$root" id -g mailroom)
st=$(stat -c '%a %u %g' "$root/var/lib/mailroom")
[ "$st" = "700 $uid $gid" ] || fail "/var/lib/mailroom is '$st', want '700 $uid $gid'"
[ -f "$root/var/lib/mailroom/mailroom.db" ] || fail "no store in /var/lib/mailroom"
[ -f "$root/var/lib/mailroom/tls/cert.pem" ] || fail "no /var/lib/mailroom/tls/cert.pem"
[ "$(stat -c %u "$root/var/lib/mailroom/tls/key.pem")" = "$uid" ] || fail "tls/key.pem is not mailroom's"
grep -qx /etc/mailroom/mailroom.conf "$root/var/lib/dpkg/info/mailroom.conffiles" ||
	fail "/etc/mailroom/mailroom.conf is not a conffile"
[ -x "$root/usr/sbin/mailroom" ] || fail "no /usr/sbin/mailroom"
for page in man8/mailroom.8.gz man5/mailroom.conf.5.gz; do
	[ -f "$root/usr/share/man/$page" ] || fail "no /usr/share/man/$page"
done
[ -L "$root/etc/systemd/system/multi-user.target.wants/mailroom.service" ] ||
	fail "the unit is not enabled"
say "account, data dir (0700), store, certificate, conffile, man pages and enabled unit are there"
# without -c the CLI reads the packaged config
chroot "$root" sh -c 'cd / && mailroom config show' | grep -qx 'data_dir = /var/lib/mailroom' ||
	fail "mailroom without -c does not read /etc/mailroom/mailroom.conf"

# --- serve as the unit would, in a network namespace of its own ---
timeout 180 unshare --net "$here/install-test.sh" --in-netns "$root" || fail "serve and check"

# --- purge removes the data ---
timeout 120 chroot "$root" apt-get purge -y -qq mailroom > "$root/tmp/purge.log" 2>&1 ||
	fail "apt-get purge mailroom"
[ ! -e "$root/var/lib/mailroom" ] || fail "/var/lib/mailroom is left after purge"
[ ! -e "$root/etc/mailroom/mailroom.conf" ] || fail "the config is left after purge"
say "purge removed /var/lib/mailroom and the config"
say "passed in $(($(date +%s) - t0)) s"

#!/bin/sh
# SPDX-License-Identifier: MIT
# run-smtp.sh - durable SMTP ingest: mailroom beside a private Postfix
# (Debian's postfix, delivering to Maildir), same load client, one run.
#
# For each server: CONNECTIONS clients each send MESSAGES messages of about
# SIZE octets to 1..3 of USERS local mailboxes, one after the other, each
# waiting for its 250. mailroom's 250 means the message is fsync'ed in every
# recipient's mailbox. Postfix's 250 means the queue file is fsync'ed; its
# delivery into the Maildirs happens afterwards, so the script reports both
# its acknowledged rate and its rate until the last Maildir file exists.
# Knobs (environment): CONNECTIONS (16), MESSAGES (200, per connection
# thread), SIZE (4096), USERS (20), PER_CONN (messages per SMTP session
# before QUIT and a new connection; default all of them, 1 is the shape of
# mail from the Internet: a connection per message), SENDER_CHECKS (on:
# mailroom's SPF, DKIM and DMARC checks as shipped, asking the system's
# resolver about the load's sender.test; off: none), STORE (sqlite, or
# postgresql: mailroom's store in a private PostgreSQL, bench/lib.sh; its
# CPU counts as mailroom's).
# Server CPU per message is the CPU time of each server's processes (for
# Postfix until the last Maildir file is written) over the messages.
# Both servers listen on 127.0.0.1 only and are stopped by PID on exit.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-16}
MESSAGES=${MESSAGES:-200}
SIZE=${SIZE:-4096}
USERS=${USERS:-20}
PER_CONN=${PER_CONN:-$MESSAGES}
SENDER_CHECKS=${SENDER_CHECKS:-on}
case $SENDER_CHECKS in
on) SENDER_CHECKS_CONF="" ;;
off) SENDER_CHECKS_CONF="[filter]
spf = no
dkim_verify = no
dmarc = no" ;;
*) echo "run-smtp: SENDER_CHECKS is on or off" >&2; exit 2 ;;
esac

say() { printf '%s\n' "$*"; }

# --- packages: Postfix without a system instance ---------------------------------
scripts/deps.sh build
if ! command -v postfix >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || { say "run-smtp: needs root to install postfix" >&2; exit 1; }
	say "== installing postfix (no system instance is configured or started)"
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	rc_made=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		rc_made=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null
	[ -n "$rc_made" ] && rm -f /usr/sbin/policy-rc.d
fi
[ -e /etc/postfix/main.cf ] || touch /etc/postfix/main.cf
bench_build run-smtp

T=$(mktemp -d /tmp/mailroom-smtpbench.XXXXXX)
chmod 755 "$T"
MR_PID="" PF_PID=""
cleanup() {
	[ -n "$MR_PID" ] && kill "$MR_PID" 2>/dev/null || true
	if [ -n "$PF_PID" ]; then
		postfix -c "$T/pf/conf" stop >/dev/null 2>&1 || kill "$PF_PID" 2>/dev/null || true
	fi
	sleep 1
	mr_pg_stop
	[ "${KEEP_TMP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT INT TERM
mr_pg_start

cc -O2 -Wall -pthread -o "$T/smtpload" bench/smtpload.c
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	n=0
	until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -gt 150 ] && { say "port $1 never opened" >&2; exit 1; }
		sleep 0.1
	done
}
MR_PORT=$(free_port)
PF_PORT=$(free_port)

# --- mailroom ---------------------------------------------------------------------
MR=build/mailroom
cat > "$T/mailroom.conf" <<EOF
$(mr_store_section "$T/mailroom-data")
[server]
hostname = mr.bench.test
data_dir = $T/mailroom-data
$(mr_user_line)
log_level = warn
[listen]
smtp = 127.0.0.1:$MR_PORT
submission = off
submissions = off
pop3 = off
pop3s = off
[limits]
max_connections_per_ip = 1000
[delivery]
enabled = no
$SENDER_CHECKS_CONF
EOF
$MR -c "$T/mailroom.conf" init >/dev/null 2>&1
$MR -c "$T/mailroom.conf" domain add bench.test >/dev/null
i=1
while [ "$i" -le "$USERS" ]; do
	echo bench-pw | $MR -c "$T/mailroom.conf" user add "$(printf 'user%04d@bench.test' "$i")" \
		--password-stdin >/dev/null
	i=$((i + 1))
done

# --- Postfix: a private instance with its own config, queue and Maildirs -----------
PF=$T/pf
mkdir -p "$PF/conf" "$PF/queue" "$PF/data" "$PF/maildirs"
chown postfix "$PF/data"
chown nobody:nogroup "$PF/maildirs"
cp /etc/postfix/master.cf "$PF/conf/"
: > "$PF/conf/vmailbox"
i=1
while [ "$i" -le "$USERS" ]; do
	u=$(printf 'user%04d' "$i")
	printf '%s@bench.test %s/\n' "$u" "$u" >> "$PF/conf/vmailbox"
	i=$((i + 1))
done
cat > "$PF/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = pf.bench.test
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $PF/maildirs
virtual_mailbox_maps = texthash:$PF/conf/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = /dev/stdout
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = $((CONNECTIONS + 50))
alias_maps =
alias_database =
local_recipient_maps =
biff = no
EOF
postconf -c "$PF/conf" -X -M smtp/inet
postconf -c "$PF/conf" -M "127.0.0.1:$PF_PORT/inet=127.0.0.1:$PF_PORT inet n - n - - smtpd"
postconf -c "$PF/conf" -F '*/*/chroot = n'
postfix -c "$PF/conf" check >/dev/null 2>&1 || true # makes the queue folders
postfix -c "$PF/conf" start-fg > "$PF/postfix.log" 2>&1 & # logs there, too
PF_PID=$!

$MR -c "$T/mailroom.conf" serve 2> "$T/mailroom.log" &
MR_PID=$!
wait_port "$MR_PORT"
wait_port "$PF_PORT"
say "== mailroom (store: ${STORE:-sqlite}) on 127.0.0.1:$MR_PORT, Postfix $(postconf -d -h mail_version) on 127.0.0.1:$PF_PORT"

count_maildir() { find "$PF/maildirs" -path '*/new/*' -type f 2>/dev/null | wc -l; }
mr_stored() {
	$MR -c "$T/mailroom.conf" user list --json |
		python3 -c 'import json,sys; print(sum(u["messages"] for u in json.load(sys.stdin)))'
}

say "== ingest: $CONNECTIONS connections x $MESSAGES messages of ~$SIZE octets, 1-3 recipients each, $PER_CONN per SMTP session"
# a short warm-up for each, then the measured run
"$T/smtpload" 127.0.0.1 "$MR_PORT" 4 10 "$SIZE" "$USERS" bench.test >/dev/null
"$T/smtpload" 127.0.0.1 "$PF_PORT" 4 10 "$SIZE" "$USERS" bench.test >/dev/null
base_mr=$(mr_stored)
n=0
until [ "$(count_maildir)" -ge 80 ] || [ "$n" -gt 300 ]; do n=$((n + 1)); sleep 0.1; done
base_pf=$(count_maildir)

cpu() { python3 bench/memtree.py --cpu "$1"; }
mr_c0=$(mr_cpu "$MR_PID")
MR_OUT=$("$T/smtpload" 127.0.0.1 "$MR_PORT" "$CONNECTIONS" "$MESSAGES" "$SIZE" "$USERS" bench.test "$PER_CONN")
mr_c1=$(mr_cpu "$MR_PID")
say "mailroom: $MR_OUT"
mr_rcpts=$(echo "$MR_OUT" | sed -E 's/.*rcpts=([0-9]+).*/\1/')
stored=$(($(mr_stored) - base_mr))
say "mailroom: $stored of $mr_rcpts recipient copies in the mailboxes when the last 250 came"

t0=$(python3 -c 'import time; print(time.time())')
pf_c0=$(cpu "$PF_PID")
PF_OUT=$("$T/smtpload" 127.0.0.1 "$PF_PORT" "$CONNECTIONS" "$MESSAGES" "$SIZE" "$USERS" bench.test "$PER_CONN")
say "postfix:  $PF_OUT"
pf_rcpts=$(echo "$PF_OUT" | sed -E 's/.*rcpts=([0-9]+).*/\1/')
n=0
until [ $(($(count_maildir) - base_pf)) -ge "$pf_rcpts" ] || [ "$n" -gt 3000 ]; do
	n=$((n + 1))
	sleep 0.1
done
t1=$(python3 -c 'import time; print(time.time())')
pf_c1=$(cpu "$PF_PID")
delivered=$(($(count_maildir) - base_pf))
say "postfix:  $delivered of $pf_rcpts recipient copies in the Maildirs after $(python3 -c "print(round($t1 - $t0, 2))") s"

python3 - "$MR_OUT" "$PF_OUT" "$t0" "$t1" "$stored" "$mr_rcpts" "$delivered" "$pf_rcpts" \
	"$mr_c0" "$mr_c1" "$pf_c0" "$pf_c1" <<'PY'
import re, sys
mr, pf, t0, t1, stored, mr_rcpts, delivered, pf_rcpts = sys.argv[1:9]
mr_cpu = float(sys.argv[10]) - float(sys.argv[9])
pf_cpu = float(sys.argv[12]) - float(sys.argv[11])
val = lambda s, k: float(re.search(k + r"=([0-9.]+)", s).group(1))
mr_rate = val(mr, "msgs_per_s")
pf_ack = val(pf, "msgs_per_s")
pf_done = val(pf, "messages") / (float(t1) - float(t0))
print()
print("%-44s %10s %10s %8s" % ("", "mailroom", "postfix", "ratio"))
print("%-44s %10.0f %10.0f %7.2fx" % ("messages/s acknowledged (250 after DATA)", mr_rate, pf_ack,
                                      mr_rate / pf_ack))
print("%-44s %10.0f %10.0f %7.2fx" % ("messages/s until in every mailbox", mr_rate, pf_done,
                                      mr_rate / pf_done))
print("%-44s %10.2f %10.2f" % ("server CPU ms per message", mr_cpu * 1000 / val(mr, "messages"),
                               pf_cpu * 1000 / val(pf, "messages")))
print("%-44s %10s %10s" % ("recipient copies stored / sent", "%s/%s" % (stored, mr_rcpts),
                           "%s/%s" % (delivered, pf_rcpts)))
PY

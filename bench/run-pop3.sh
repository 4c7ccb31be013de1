#!/bin/sh
# SPDX-License-Identifier: MIT
# run-pop3.sh - mailroom beside a private Dovecot (Debian dovecot-pop3d), same
# mail, same client, one run:
#   1. full-mailbox download: login, STAT, UIDL, RETR all, QUIT, by many
#      clients over many mailboxes; messages/s for each and the ratio;
#   2. idle connections: IDLE_N connections held (greeting read), memory (PSS)
#      per connection for each;
#   3. logged-in idle sessions: one per mailbox, memory per session.
# Knobs (environment): MAILBOXES (50), MESSAGES per mailbox (40), CONCURRENCY
# (16), RUN_SECONDS per download run (20), IDLE_N (10000), DOVECOT_IDLE_N (2000:
# Dovecot's default login mode forks a process per connection).
# Both servers listen on 127.0.0.1 only and are stopped by PID on exit.
set -eu
cd "$(dirname "$0")/.."
MAILBOXES=${MAILBOXES:-50}
MESSAGES=${MESSAGES:-40}
CONCURRENCY=${CONCURRENCY:-16}
SECONDS_RUN=${RUN_SECONDS:-20}
IDLE_N=${IDLE_N:-10000}
DOVECOT_IDLE_N=${DOVECOT_IDLE_N:-2000}
PW=bench-pw

scripts/deps.sh bench
scripts/build.sh build
T=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
chmod 755 "$T"
MR_PID="" DC_PID="" IDLE_PID=""
cleanup() {
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null || true
	[ -n "$MR_PID" ] && kill "$MR_PID" 2>/dev/null || true
	[ -n "$DC_PID" ] && kill "$DC_PID" 2>/dev/null || true
	sleep 1
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

cc -O2 -Wall -pthread -o "$T/pop3load" bench/pop3load.c
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MR_PORT=$(free_port)
DC_PORT=$(free_port)
MR=build/mailroom
CONF=$T/mailroom.conf
cat > "$CONF" <<EOF
[server]
hostname = bench.test
data_dir = $T/mailroom-data
workers = 4
log_level = warn
[listen]
smtp = off
submission = off
submissions = off
pop3 = 127.0.0.1:$MR_PORT
pop3s = off
[limits]
max_connections = 30000
max_connections_per_ip = 30000
[pop3]
plaintext_auth = yes
EOF

echo "== preparing $MAILBOXES mailboxes x $MESSAGES messages for both servers"
$MR -c "$CONF" init >/dev/null 2>&1
$MR -c "$CONF" domain add bench.test >/dev/null
mkdir -p "$T/msgs"
python3 - "$T/msgs" "$MESSAGES" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1939)
words = "the of mail server message report budget meeting quarterly invoice attached".split()
for i in range(n):
    size = int(2048 * (50 ** rnd.random()))  # 2 KiB .. 100 KiB, log-uniform
    head = ("Return-Path: <sender%d@example.org>\nFrom: Sender %d <sender%d@example.org>\n"
            "To: user@bench.test\nSubject: benchmark message %d\nDate: Mon, 23 Nov 2026 "
            "10:%02d:00 +0000\nMessage-ID: <bench%d@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n" % (i, i, i, i, i % 60, i))
    body, line = [], []
    total = len(head)
    while total < size:
        w = rnd.choice(words)
        line.append(w)
        if sum(len(x) + 1 for x in line) > 70:
            text = " ".join(line)
            if rnd.random() < 0.02:
                text = "." + text  # dot-stuffing on the wire
            body.append(text)
            total += len(text) + 1
            line = []
    with open(os.path.join(out, "m%03d" % i), "w") as f:
        f.write(head + "\n".join(body) + "\n")
PY
HASH=""
: > "$T/dovecot-users"
mkdir -p "$T/dmail"
i=1
while [ "$i" -le "$MAILBOXES" ]; do
	u=$(printf 'bench%04d@bench.test' "$i")
	echo "$PW" | $MR -c "$CONF" user add "$u" --password-stdin >/dev/null
	for m in "$T"/msgs/m*; do
		$MR -c "$CONF" deliver "$u" < "$m"
	done
	md="$T/dmail/$u/Maildir"
	mkdir -p "$md/cur" "$md/new" "$md/tmp"
	k=0
	for m in "$T"/msgs/m*; do
		k=$((k + 1))
		cp "$m" "$md/cur/1700000000.M${k}P1.bench:2,S"
	done
	i=$((i + 1))
done
# the same yescrypt hash for Dovecot's passwd-file: equal cost per login
HASH=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select pw_hash from mailboxes limit 1").fetchone()[0])' "$T/mailroom-data/mailroom.db")
i=1
while [ "$i" -le "$MAILBOXES" ]; do
	printf 'bench%04d@bench.test:{CRYPT}%s\n' "$i" "$HASH" >> "$T/dovecot-users"
	i=$((i + 1))
done
chown -R nobody:nogroup "$T/dmail"

mkdir -p "$T/dc-run" "$T/dc-state"
cat > "$T/dovecot.conf" <<EOF
protocols = pop3
listen = 127.0.0.1
base_dir = $T/dc-run
state_dir = $T/dc-state
log_path = $T/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = $T/dovecot-users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$T/dmail/%u
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
default_process_limit = $((DOVECOT_IDLE_N + 200))
default_client_limit = $((DOVECOT_IDLE_N * 2 + 400))
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  client_limit = $((DOVECOT_IDLE_N * 3 + 600))
}
EOF

$MR -c "$CONF" serve 2>"$T/mailroom.log" &
MR_PID=$!
dovecot -F -c "$T/dovecot.conf" &
DC_PID=$!
wait_port() {
	n=0
	until python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -gt 100 ] && { echo "port $1 never opened" >&2; exit 1; }
		sleep 0.1
	done
}
wait_port "$MR_PORT"
wait_port "$DC_PORT"

# Proportional set size of a process and all its descendants, in KiB.
pss_tree() {
	python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open("/proc/%s/stat" % p) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except OSError:
            pass
todo, total = [root], 0
while todo:
    p = todo.pop()
    todo += kids.get(p, [])
    try:
        with open("/proc/%d/smaps_rollup" % p) as f:
            for line in f:
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    except OSError:
        pass
print(total)
PY
}

download() { # name port -> prints msgs/s
	"$T/pop3load" download 127.0.0.1 "$2" "$MAILBOXES" "$CONCURRENCY" 3 "$PW" >/dev/null 2>&1 || true
	"$T/pop3load" download 127.0.0.1 "$2" "$MAILBOXES" "$CONCURRENCY" "$SECONDS_RUN" "$PW" > "$T/$1.out"
	sed -E 's/.*msgs_per_s=([0-9.]+).*/\1/' "$T/$1.out"
}

echo "== full download: $CONCURRENCY clients, ${SECONDS_RUN}s each (after a 3 s warm-up)"
MR_RATE=$(download mailroom "$MR_PORT")
echo "mailroom: $(cat "$T/mailroom.out")"
DC_RATE=$(download dovecot "$DC_PORT")
echo "dovecot:  $(cat "$T/dovecot.out")"

idle() { # name port count pid [mailboxes] -> "held kib_per_conn"
	base=$(pss_tree "$4")
	fifo=$T/idle.fifo
	rm -f "$fifo"
	mkfifo "$fifo"
	if [ $# -ge 5 ]; then
		"$T/pop3load" idle 127.0.0.1 "$2" "$3" "$5" "$PW" < "$fifo" > "$T/$1.idle" &
	else
		"$T/pop3load" idle 127.0.0.1 "$2" "$3" < "$fifo" > "$T/$1.idle" &
	fi
	IDLE_PID=$!
	exec 9> "$fifo"
	n=0
	until grep -q '^held' "$T/$1.idle" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -gt 3000 ] && break
		sleep 0.1
	done
	sleep 2
	held=$(sed -n 's/^held //p' "$T/$1.idle")
	after=$(pss_tree "$4")
	exec 9>&-
	wait "$IDLE_PID" || true
	IDLE_PID=""
	python3 -c 'import sys; h, b, a = map(int, sys.argv[1:]); print(h, "%.1f" % ((a - b) / max(h, 1)), b, a)' "${held:-0}" "$base" "$after"
}

echo "== idle connections (greeting read, not logged in)"
set -- $(idle mailroom "$MR_PORT" "$IDLE_N" "$MR_PID")
MR_HELD=$1 MR_KIB=$2
echo "mailroom: held $1 connections; PSS $3 KiB -> $4 KiB: $2 KiB per connection"
sleep 2
set -- $(idle dovecot "$DC_PORT" "$DOVECOT_IDLE_N" "$DC_PID")
DC_HELD=$1 DC_KIB=$2
echo "dovecot:  held $1 connections; PSS $3 KiB -> $4 KiB: $2 KiB per connection"
sleep 2

echo "== logged-in idle sessions (one per mailbox)"
set -- $(idle mailroom "$MR_PORT" "$MAILBOXES" "$MR_PID" "$MAILBOXES")
MR_LKIB=$2
echo "mailroom: held $1 sessions; PSS $3 KiB -> $4 KiB: $2 KiB per session"
sleep 2
set -- $(idle dovecot "$DC_PORT" "$MAILBOXES" "$DC_PID" "$MAILBOXES")
DC_LKIB=$2
echo "dovecot:  held $1 sessions; PSS $3 KiB -> $4 KiB: $2 KiB per session"

echo
echo "== summary ($(nproc) cores, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1))"
python3 - "$MR_RATE" "$DC_RATE" "$MR_HELD" "$MR_KIB" "$DC_HELD" "$DC_KIB" "$MR_LKIB" "$DC_LKIB" <<'PY'
import sys
mr, dc, mrh, mrk, dch, dck, mrl, dcl = sys.argv[1:]
mr, dc = float(mr), float(dc)
print("%-34s %12s %12s %8s" % ("", "mailroom", "dovecot", "ratio"))
print("%-34s %12.0f %12.0f %7.2fx" % ("download, messages/s", mr, dc, mr / dc if dc else 0))
print("%-34s %12s %12s" % ("idle connections held", mrh, dch))
def ratio(a, b):
    return "%7.0fx" % (float(b) / float(a)) if float(a) > 0.05 else "    n/a"
print("%-34s %12s %12s %s" % ("KiB per idle connection (PSS)", mrk, dck, ratio(mrk, dck)))
print("%-34s %12s %12s %s" % ("KiB per logged-in session (PSS)", mrl, dcl, ratio(mrl, dcl)))
PY

#!/bin/bash
# SPDX-License-Identifier: MIT
# run-pop3.sh - mailroom beside a private Dovecot (Debian dovecot-pop3d) on
# loopback, with the same mailboxes and the same messages, in one run:
#
#   1. POP3 full download: CONCURRENCY clients, each session logs in
#      (USER/PASS), STAT, UIDL, RETR every message, QUIT; messages/s for each
#      server and the ratio;
#   2. idle connections: IDLE_N connections to mailroom, DOVECOT_IDLE_N to
#      Dovecot, each greeted and held; memory (PSS of all the server's
#      processes) per connection;
#   3. RETR memory: RETR_CLIENTS clients, each in a mailbox of its own, send
#      RETR for a RETR_MB MiB message and read nothing; the server's memory
#      before and while they wait (bench/retrhold.py).
#
# Run as root on Debian 12 from the top of the tree:  bench/run-pop3.sh
# Knobs (environment):
#   MAILBOXES=50  MESSAGES=40    mailboxes, messages per mailbox (2..100 KiB)
#   CONCURRENCY=10               sessions at once (at most MAILBOXES)
#   RUN_SECONDS=15 REPEATS=3     timed download runs per server (alternating);
#                                the summary gives the median
#   IDLE_N=10000                 idle connections to mailroom
#   DOVECOT_IDLE_N=2000          idle connections to Dovecot (a process each)
#   DOVECOT_LOGIN=default        or "performance": Dovecot's high-performance
#                                login mode (service_count = 0: few login
#                                processes, many clients each); then
#                                DOVECOT_IDLE_N defaults to IDLE_N
#   AUTH_CACHE=on                or "off": both servers reuse successful
#                                password checks for 5 minutes (mailroom's
#                                default; Dovecot's auth_cache_size/ttl), or
#                                neither does (Dovecot's default)
#   RETR_CLIENTS=100 RETR_MB=50  part 3: clients, message size in MiB
#   PARTS="download idle retr"   the parts to run (e.g. PARTS=retr)
#   KEEP_TMP=1                   keep the temporary folder (logs, configs)
# Both servers listen on 127.0.0.1 only; they are stopped by PID on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MAILBOXES=${MAILBOXES:-50}
MESSAGES=${MESSAGES:-40}
CONCURRENCY=${CONCURRENCY:-10}
RUN_SECONDS=${RUN_SECONDS:-15}
REPEATS=${REPEATS:-3}
IDLE_N=${IDLE_N:-10000}
DOVECOT_LOGIN=${DOVECOT_LOGIN:-default}
case $DOVECOT_LOGIN in
default) DOVECOT_IDLE_N=${DOVECOT_IDLE_N:-2000} ;;
performance) DOVECOT_IDLE_N=${DOVECOT_IDLE_N:-$IDLE_N} ;;
*) echo "run-pop3: DOVECOT_LOGIN is default or performance" >&2; exit 2 ;;
esac
KEEP_TMP=${KEEP_TMP:-0}
RETR_CLIENTS=${RETR_CLIENTS:-100}
RETR_MB=${RETR_MB:-50}
PARTS=${PARTS:-download idle retr}
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for p in $PARTS; do
	case $p in
	download | idle | retr) ;;
	*) echo "run-pop3: PARTS is a list of download, idle, retr" >&2; exit 2 ;;
	esac
done
AUTH_CACHE=${AUTH_CACHE:-on}
case $AUTH_CACHE in
on) MR_CACHE=5m DC_CACHE="auth_cache_size = 10M
auth_cache_ttl = 5 min" ;;
off) MR_CACHE=0 DC_CACHE="auth_cache_size = 0" ;;
*) echo "run-pop3: AUTH_CACHE is on or off" >&2; exit 2 ;;
esac
PASSWORD=bench-pass
USERFMT='bench%04d@bench.test'
user() { printf 'bench%04d@bench.test' "$1"; } # the same names as USERFMT
RETR_FMT='retr%04d@bench.test'
retr_user() { printf 'retr%04d@bench.test' "$1"; } # the same names as RETR_FMT

need_positive run-pop3 MAILBOXES MESSAGES CONCURRENCY RUN_SECONDS REPEATS IDLE_N DOVECOT_IDLE_N \
	RETR_CLIENTS RETR_MB
[ "$(id -u)" -eq 0 ] || { echo "run-pop3: run as root (Dovecot needs it)" >&2; exit 2; }
[ "$CONCURRENCY" -le "$MAILBOXES" ] || CONCURRENCY=$MAILBOXES

bench_build run-pop3
command -v dovecot >/dev/null || { echo "run-pop3: dovecot not installed" >&2; exit 1; }

# Descriptors: the client and each server hold one per idle connection.
raise_nofile run-pop3 IDLE_N DOVECOT_IDLE_N

T=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
chmod 755 "$T" # Dovecot's mail processes run as nobody
MR_PID="" DC_PID="" IDLE_PID="" LOAD_PID=""

cleanup() {
	set +e
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	[ -n "$MR_PID" ] && stop_pid "$MR_PID"
	[ -n "$DC_PID" ] && stop_pid "$DC_PID" # Dovecot's master: stops all its children
	wait 2>/dev/null
	finish_tmp run-pop3
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a private copy of the server: a rebuild of build/ during the run cannot touch it
cp build/mailroom "$T/mailroom"
MR=$T/mailroom
cc -O2 -Wall -o "$T/pop3load" bench/pop3load.c
LOAD=$T/pop3load

MR_PORT=$(free_port)
DC_PORT=$(free_port)
while [ "$DC_PORT" = "$MR_PORT" ]; do DC_PORT=$(free_port); done

# ---------------------------------------------------------------- the mail
step "mail: $MAILBOXES mailboxes x $MESSAGES messages, the same for both servers"
mkdir -p "$T/msgs"
python3 - "$T/msgs" "$MESSAGES" <<'PY'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1939)
words = ("the of and to in a is that for it as was with be by on not he this are or "
         "his from at which but have an they you were her she there been one all we "
         "their has would when if so no will more can about out up said what its "
         "invoice meeting quarterly report budget attached server delivery mailbox "
         "schedule review project customer order shipment thanks regards").split()
names = ["Alice Martin", "Bob Chen", "Carol Diaz", "Dan Novak", "Eve Larsen",
         "Frank Okafor", "Grace Ito", "Heidi Weber", "Ivan Petrov", "Judy Silva"]
for i in range(n):
    size = int(2048 * (50 ** rnd.random()))  # 2 KiB .. 100 KiB, log-uniform
    name = rnd.choice(names)
    addr = name.split()[0].lower() + "@example.org"
    day = 1 + i % 28
    head = (
        "Return-Path: <%s>\n"
        "Received: from mx.example.org (mx.example.org [192.0.2.25])\n"
        "\tby mail.bench.test with ESMTPS id %08x\n"
        "\tfor <user@bench.test>; Mon, %d Nov 2026 09:%02d:%02d +0000\n"
        "From: %s <%s>\n"
        "To: user@bench.test\n"
        "Subject: %s %d\n"
        "Date: Mon, %d Nov 2026 09:%02d:%02d +0000\n"
        "Message-ID: <%08x.%d@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n\n"
        % (addr, rnd.getrandbits(32), day, i % 60, i * 7 % 60, name, addr,
           rnd.choice(["Re: quarterly report", "Invoice", "Meeting notes",
                       "Delivery schedule", "Project review"]), i,
           day, i % 60, i * 7 % 60, rnd.getrandbits(32), i))
    lines, total = [], len(head)
    while total < size:
        line = []
        while sum(len(w) + 1 for w in line) < rnd.randint(40, 76):
            line.append(rnd.choice(words))
        text = " ".join(line)
        if rnd.random() < 0.01:
            text = "." + text  # dot-stuffed on the wire
        lines.append(text)
        total += len(text) + 1
    with open(os.path.join(out, "m%04d.eml" % i), "w") as f:
        f.write(head + "\n".join(lines) + "\n")
PY
msg_bytes=$(cat "$T"/msgs/*.eml | wc -c)
say "$MESSAGES messages, $((msg_bytes / 1024)) KiB per mailbox (LF line ends on disk)"

# ---------------------------------------------------------------- mailroom
MRCONF=$T/mailroom.conf
cat > "$MRCONF" <<EOF
$(mr_conf_head "$T/mailroom-data" "pop3=127.0.0.1:$MR_PORT")

[limits]
max_connections = $((IDLE_N + 1000))
max_connections_per_ip = $((IDLE_N + 1000))
auth_cache_ttl = $MR_CACHE

[pop3]
plaintext_auth = yes
EOF
"$MR" -c "$MRCONF" init > "$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
"$MR" -c "$MRCONF" domain add bench.test >/dev/null
t0=$(date +%s)
for i in $(seq "$MAILBOXES"); do
	u=$(user "$i")
	echo "$PASSWORD" | "$MR" -c "$MRCONF" user add "$u" --password-stdin >/dev/null
	for m in "$T"/msgs/*.eml; do
		"$MR" -c "$MRCONF" deliver "$u" < "$m"
	done
done
say "mailroom: $MAILBOXES users added, $((MAILBOXES * MESSAGES)) messages delivered ($(( $(date +%s) - t0 )) s)"
if want retr; then
	# part 3: one RETR_MB MiB message, stored once (one body row, an alias
	# to every retr mailbox) in mailroom, hard-linked into every Maildir
	python3 - "$T/big.eml" "$RETR_MB" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("From: Bob Chen <bob@example.org>\nTo: user@bench.test\nSubject: large\n"
            "Message-ID: <large.1@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
    line = "QmVuY2htYXJrIGRhdGEsIGJhc2U2NCBsaW5lcyBvZiA3NiBjaGFyYWN0ZXJzIGFzIGluIG1h\n"
    f.write(line * (mib * 1024 * 1024 // len(line)))
PY
	t0=$(date +%s)
	for i in $(seq "$RETR_CLIENTS"); do
		u=$(retr_user "$i")
		echo "$PASSWORD" | "$MR" -c "$MRCONF" user add "$u" --password-stdin >/dev/null
		"$MR" -c "$MRCONF" alias add retr-all@bench.test "$u" >/dev/null
	done
	"$MR" -c "$MRCONF" deliver retr-all@bench.test < "$T/big.eml"
	say "mailroom: $RETR_CLIENTS users with one $(($(stat -c %s "$T/big.eml") / 1048576)) MiB message each ($(( $(date +%s) - t0 )) s)"
fi

# ---------------------------------------------------------------- Dovecot
# Same users with the same password hashes (yescrypt, from mailroom's store),
# so a login costs both servers the same hashing work.
DC=$T/dovecot
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
python3 - "$T/mailroom-data/mailroom.db" "$DC/users" <<'PY'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT address, pw_hash FROM mailboxes WHERE pw_hash IS NOT NULL"
    " AND domain_id IS NOT NULL ORDER BY address").fetchall()  # not the built-in postmaster
with open(sys.argv[2], "w") as f:
    for addr, h in rows:
        f.write("%s:{CRYPT}%s\n" % (addr, h))
PY
chown root:dovecot "$DC/users" # read by Dovecot's auth process
chmod 640 "$DC/users"
n_users=$MAILBOXES
if want retr; then n_users=$((MAILBOXES + RETR_CLIENTS)); fi
[ "$(wc -l < "$DC/users")" -eq "$n_users" ] || { echo "run-pop3: could not copy the users" >&2; exit 1; }
# Maildir file names as Dovecot's own LDA writes them (S= size, W= size with
# CRLF), already seen (:2,S) so RETR changes nothing on disk.
now=$(date +%s)
names=() k=0
for m in "$T"/msgs/*.eml; do
	k=$((k + 1))
	s=$(stat -c %s "$m")
	w=$((s + $(wc -l < "$m")))
	names+=("$((now + k)).M${k}P1.bench.test,S=$s,W=$w:2,S")
done
for i in $(seq "$MAILBOXES"); do
	md=$DC/mail/$(user "$i")/Maildir
	mkdir -p "$md/cur" "$md/new" "$md/tmp"
	k=0
	for m in "$T"/msgs/*.eml; do
		cp "$m" "$md/cur/${names[$k]}"
		k=$((k + 1))
	done
done
if want retr; then
	s=$(stat -c %s "$T/big.eml")
	w=$((s + $(wc -l < "$T/big.eml")))
	big="$DC/big.eml"
	cp "$T/big.eml" "$big"
	for i in $(seq "$RETR_CLIENTS"); do
		md=$DC/mail/$(retr_user "$i")/Maildir
		mkdir -p "$md/cur" "$md/new" "$md/tmp"
		ln "$big" "$md/cur/$((now + i)).M1P1.bench.test,S=$s,W=$w:2,S"
	done
fi
chown -R nobody:nogroup "$DC/mail"
# Dovecot's defaults are kept (one pop3-login process per connection,
# service_count=1, as Debian ships it); only the limits are raised so that
# DOVECOT_IDLE_N login processes may exist, and every service (auth, anvil,
# stats) accepts one client per login process. DOVECOT_LOGIN=performance
# switches to the high-performance login mode of Dovecot's documentation.
login_mode=""
if [ "$DOVECOT_LOGIN" = performance ]; then
	login_mode="  service_count = 0
  process_min_avail = $(nproc)
  client_limit = $((DOVECOT_IDLE_N + 100))"
fi
cat > "$DC/dovecot.conf" <<EOF
protocols = pop3
listen = 127.0.0.1
base_dir = $DC/run
state_dir = $DC/state
instance_name = mailroom-bench
log_path = $DC/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
$DC_CACHE
passdb {
  driver = passwd-file
  args = $DC/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$DC/mail/%u
}
mail_location = maildir:~/Maildir
default_client_limit = $((DOVECOT_IDLE_N + 1000))
service pop3-login {
  process_limit = $((DOVECOT_IDLE_N + 100))
$login_mode
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF

# ---------------------------------------------------------------- start
step "starting both servers (mailroom on 127.0.0.1:$MR_PORT, Dovecot on 127.0.0.1:$DC_PORT)"
"$MR" -c "$MRCONF" serve 2> "$T/mailroom.log" &
MR_PID=$!
dovecot -F -c "$DC/dovecot.conf" 2> "$DC/dovecot.stderr" &
DC_PID=$!
wait_port "$MR_PORT" "$MR_PID" mailroom "$T/mailroom.log"
wait_port "$DC_PORT" "$DC_PID" dovecot "$DC/dovecot.log"
say "mailroom pid $MR_PID ($("$MR" --version 2>/dev/null || echo mailroom)), dovecot pid $DC_PID ($(dovecot --version), login mode: $DOVECOT_LOGIN, auth cache: $AUTH_CACHE)"

# Memory of a process and all its descendants: "PSS_KiB RSS_KiB processes".
mem_tree() {
	python3 bench/memtree.py "$1"
}
# Number of processes under a PID (bounded wait until it settles).
settle() {
	local i last="" cur
	for i in $(seq 50); do
		cur=$(mem_tree "$1" | cut -d' ' -f3)
		[ "$cur" = "$last" ] && return 0
		last=$cur
		sleep 0.2
	done
}

failed=0

if want download; then
# ---------------------------------------------------------------- download
step "POP3 full download: $CONCURRENCY clients, login + STAT + UIDL + RETR all + QUIT; $REPEATS x ${RUN_SECONDS} s per server, alternating"
load() { # name port out [pop3load options]
	local name=$1 port=$2 out=$3
	shift 3
	# in the background, so that a signal to this script is handled at once
	"$LOAD" -p "$port" -L "$name" -m "$MAILBOXES" -c "$CONCURRENCY" -w "$PASSWORD" \
		-u "$USERFMT" "$@" load > "$out" 2> "$out.err" &
	LOAD_PID=$!
	if wait "$LOAD_PID"; then
		LOAD_PID=""
		return 0
	fi
	LOAD_PID=""
	say "$name: errors: $(sed 's/^label=[^ ]* //' "$out")"
	head -5 "$out.err"
	failed=1
}
# warm-up: every mailbox once (Dovecot builds its index files here)
load mailroom "$MR_PORT" "$T/mailroom.warm" -r 1
load dovecot "$DC_PORT" "$T/dovecot.warm" -r 1
settle "$DC_PID"
for r in $(seq "$REPEATS"); do
	for name in mailroom dovecot; do
		if [ $name = mailroom ]; then port=$MR_PORT; else port=$DC_PORT; fi
		load $name "$port" "$T/$name.load.$r" -d "$RUN_SECONDS"
		printf '%-9s run %d: %s\n' "$name" "$r" "$(sed 's/^label=[^ ]* //' "$T/$name.load.$r")"
		if [ $name = dovecot ]; then settle "$DC_PID"; fi
	done
done

fi

# ---------------------------------------------------------------- idle
if want idle; then
step "idle connections: greeting read, then held (no login)"
idle() { # name port pid count
	local base held_line still_line held after per rss_per i n established
	settle "$3"
	base=$(mem_tree "$3")
	rm -f "$T/$1.idle"
	"$LOAD" -p "$2" -L "$1" -n "$4" -T 60 idle > "$T/$1.idle" 2> "$T/$1.idle.err" &
	IDLE_PID=$!
	# bounded: Dovecot starts a login process per connection (tens per second)
	for i in $(seq 3000); do
		grep -q 'held=' "$T/$1.idle" 2>/dev/null && break
		kill -0 "$IDLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 2
	after=$(mem_tree "$3")
	established=$(ss -Htn state established "( sport = :$2 )" | wc -l)
	kill "$IDLE_PID" 2>/dev/null || true
	wait "$IDLE_PID" || true
	IDLE_PID=""
	held_line=$(grep 'held=' "$T/$1.idle" || true)
	still_line=$(grep 'still_held=' "$T/$1.idle" || true)
	held=$(echo "$held_line" | sed -n 's/.* held=\([0-9]*\).*/\1/p')
	[ -n "$held" ] || held=0
	# shellcheck disable=SC2086 # split "PSS RSS processes" into fields
	set -- "$1" "$2" "$3" "$4" $base $after
	# $5 $6 $7: PSS, RSS, processes before; $8 $9 ${10}: while held
	# per connection: over those still established when memory was read
	# (Dovecot closes connections that send nothing for 3 minutes)
	n=$held
	if [ "$established" -lt "$n" ]; then n=$established; fi
	if [ "$n" -gt 0 ]; then
		per=$(( ($8 - $5) * 10 / n ))
		rss_per=$(( ($9 - $6) * 10 / n ))
	else
		per=0 rss_per=0
	fi
	printf '%-9s requested %d, held %d after %s s (server side: %d established); at the end %s\n' \
		"$1" "$4" "$held" "$(echo "$held_line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')" \
		"$established" "$(echo "$still_line" | sed 's/^label=[^ ]* //')"
	printf '%-9s processes %d -> %d; PSS %d KiB -> %d KiB: %d.%d KiB per connection (RSS sum: %d.%d KiB)\n' \
		"$1" "$7" "${10}" "$5" "$8" $((per / 10)) $((per % 10)) $((rss_per / 10)) $((rss_per % 10))
	[ "$held" -eq "$4" ] || failed=1
	echo "$held $per $n" > "$T/$1.idle.result"
}
idle mailroom "$MR_PORT" "$MR_PID" "$IDLE_N"
idle dovecot "$DC_PORT" "$DC_PID" "$DOVECOT_IDLE_N"
fi

# ---------------------------------------------------------------- RETR memory
if want retr; then
step "RETR memory: $RETR_CLIENTS clients RETR a $RETR_MB MiB message each and read nothing"
retr() { # name port pid
	settle "$3"
	python3 bench/retrhold.py "$1" "$2" "$3" "$RETR_FMT" 1 "$RETR_CLIENTS" "$PASSWORD" \
		> "$T/$1.retr" 2> "$T/$1.retr.err" || failed=1
	head -5 "$T/$1.retr.err"
	python3 - "$T/$1.retr" <<'PY'
import sys
f = dict(kv.split("=", 1) for kv in open(sys.argv[1]).read().split())
mib = lambda k: int(f[k]) / 1024.0
print("%-9s %s clients, +OK for all after %s s; RSS %.1f MiB -> %.1f MiB (+%.1f MiB), "
      "PSS %.1f MiB -> %.1f MiB (+%.1f MiB); processes %s -> %s; then one client read "
      "its %.1f MiB in %s s; errors %s"
      % (f["label"], f["clients"], f["ok_seconds"], mib("rss_before"), mib("rss_peak"),
         mib("rss_peak") - mib("rss_before"), mib("pss_before"), mib("pss_peak"),
         mib("pss_peak") - mib("pss_before"), f["procs_before"], f["procs_peak"],
         int(f["read_octets"]) / 1048576.0, f["read_seconds"], f["errors"]))
PY
}
retr mailroom "$MR_PORT" "$MR_PID"
retr dovecot "$DC_PORT" "$DC_PID"
fi

# ---------------------------------------------------------------- summary
if want download && want idle; then
step "summary ($(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(. /etc/os-release && echo "$PRETTY_NAME"))"
read -r mr_held mr_per mr_n < "$T/mailroom.idle.result"
read -r dc_held dc_per dc_n < "$T/dovecot.idle.result"
python3 - "$T" "$REPEATS" "$mr_held" "$mr_per" "$dc_held" "$dc_per" "$IDLE_N" "$DOVECOT_IDLE_N" \
	"$mr_n" "$dc_n" "$DOVECOT_LOGIN" <<'PY'
import statistics, sys
T, reps = sys.argv[1], int(sys.argv[2])
mrh, mrp, dch, dcp, mrn, dcn, mrm, dcm = map(int, sys.argv[3:11])
mode = sys.argv[11]
mrp, dcp = mrp / 10.0, dcp / 10.0
def runs(name, key):
    out = []
    for r in range(1, reps + 1):
        try:
            f = dict(kv.split("=", 1) for kv in open("%s/%s.load.%d" % (T, name, r)).read().split())
            out.append(float(f[key]))
        except (OSError, KeyError, ValueError):
            out.append(0.0)
    return out
mr, dc = runs("mailroom", "msgs_per_s"), runs("dovecot", "msgs_per_s")
mrmb, dcmb = runs("mailroom", "mib_per_s"), runs("dovecot", "mib_per_s")
med = statistics.median
row = "%-31s %17s %17s   %s"
print(row % ("", "mailroom", "dovecot" if mode == "default" else "dovecot (perf)", ""))
print(row % ("download, messages/s (median)", "%.0f" % med(mr), "%.0f" % med(dc),
             "mailroom/dovecot = %.2f" % (med(mr) / med(dc)) if med(dc) > 0 else ""))
if reps > 1:
    print(row % ("download, messages/s (runs)", "/".join("%.0f" % x for x in mr),
                 "/".join("%.0f" % x for x in dc), ""))
print(row % ("download, MiB/s (median)", "%.1f" % med(mrmb), "%.1f" % med(dcmb), ""))
print(row % ("idle connections held", "%d of %d" % (mrh, mrn), "%d of %d" % (dch, dcn), ""))
print(row % ("KiB per idle connection (PSS)", "%.1f" % mrp, "%.1f" % dcp,
             "dovecot/mailroom = %.0f" % (dcp / mrp) if mrp > 0 else ""))
if dcn < mrn and mode == "default":
    print("Dovecot was measured at %d idle connections, not %d: it starts one login "
          "process per connection (DOVECOT_IDLE_N changes this)." % (dcn, mrn))
if dcm < dch or mrm < mrh:
    print("(memory per connection is over the connections still established when it "
          "was read: mailroom %d, dovecot %d)" % (mrm, dcm))
PY
fi
if [ "$failed" -ne 0 ]; then
	say "run-pop3: some runs had errors; see above"
	KEEP_TMP=1
	exit 1
fi

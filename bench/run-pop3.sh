#!/bin/bash
# SPDX-License-Identifier: MIT
# run-pop3.sh - mailroom beside a private Dovecot (Debian dovecot-pop3d) on
# loopback, with the same mailboxes, the same messages and the same password
# hashes, in one run; every part prints both figures and the ratio:
#
#   download  POP3 full download on the shape of a real POP3 service: many
#             mailboxes, each polled once per pass; a session logs in
#             (USER/PASS), STAT, UIDL, RETR every message, QUIT. At each
#             of CONCURRENCY: messages/s, p50/p99 of a session, server CPU
#             per session;
#   big       the same with one BIG_MB MiB message in each of BIG_USERS
#             mailboxes, at each of BIG_CONCURRENCY: MiB/s, server CPU;
#   logged    LOGGED_N clients (DOVECOT_LOGGED_N for Dovecot, a process
#             each) log in to mailboxes of their own (MESSAGES each) and
#             stay logged in: memory per session, the longest login wait;
#   idle      IDLE_N connections greeted and held (no login): memory each;
#   retr      RETR_CLIENTS clients RETR a RETR_MB MiB message each and read
#             nothing: the server's memory before and while they wait;
#   scale     mailroom alone: a fresh store of each of SCALE_SIZES mailboxes
#             (MESSAGES each), one pass over all of them at 8 clients with
#             the auth cache warm: server CPU per session against the size.
#
# Run as root on Debian 12 from the top of the tree:  bench/run-pop3.sh
# Knobs (environment):
#   MAILBOXES=1000 MESSAGES=20   mailboxes, messages per mailbox
#   MSG_SIZE=4096                octets of each message as written, or
#                                "mixed": 2..100 KiB, log-uniform
#   CONCURRENCY="8 32 100"       sessions at once, a measurement each
#   RUN_SECONDS=10 REPEATS=3     timed runs per server and concurrency,
#                                alternating; the summary gives medians
#   DOVECOT_LOGIN=performance    Dovecot's high-performance login mode
#                                (service_count = 0), or "default" (a login
#                                process per connection, as Debian ships it;
#                                DOVECOT_IDLE_N is then 2000)
#   AUTH_CACHE=on                or "off": both servers reuse successful
#                                password checks for 5 minutes (mailroom's
#                                default; Dovecot's auth_cache_size/ttl), or
#                                neither does (Dovecot's default)
#   BIG_MB=1 BIG_USERS=32 BIG_CONCURRENCY="8 32"    the big part
#   LOGGED_N=15000 DOVECOT_LOGGED_N=2000            the logged part
#   IDLE_N=10000 DOVECOT_IDLE_N=IDLE_N              the idle part
#   RETR_CLIENTS=100 RETR_MB=50                     the retr part
#   SCALE_SIZES="100 1000 10000 100000"             the scale part
#   PARTS="download big logged idle retr"  the parts to run; "scale" only
#                                when named (some 25 minutes at 100,000)
#   STORE=sqlite                 or "postgresql": mailroom's store in a
#                                private PostgreSQL 15 (bench/lib.sh), whose
#                                CPU counts as mailroom's
#   KEEP_TMP=1                   keep the temporary folder (logs, configs)
# Both servers listen on 127.0.0.1 only; they are stopped by PID on exit.
# The users come from one passwd-file with one yescrypt hash (imported with
# `mailroom user import passwd-file`; the same file is Dovecot's passdb),
# the mail through mailroom's SMTP listener with all the RCPTs of a message
# in one pipelined transaction (bench/fill.py); Dovecot's Maildirs hold the
# very octets mailroom stores (read back with RETR), hard-linked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MAILBOXES=${MAILBOXES:-1000}
MESSAGES=${MESSAGES:-20}
MSG_SIZE=${MSG_SIZE:-4096}
CONCURRENCY=${CONCURRENCY:-8 32 100}
RUN_SECONDS=${RUN_SECONDS:-10}
REPEATS=${REPEATS:-3}
IDLE_N=${IDLE_N:-10000}
DOVECOT_LOGIN=${DOVECOT_LOGIN:-performance}
case $DOVECOT_LOGIN in
default) DOVECOT_IDLE_N=${DOVECOT_IDLE_N:-2000} ;;
performance) DOVECOT_IDLE_N=${DOVECOT_IDLE_N:-$IDLE_N} ;;
*) echo "run-pop3: DOVECOT_LOGIN is default or performance" >&2; exit 2 ;;
esac
KEEP_TMP=${KEEP_TMP:-0}
BIG_MB=${BIG_MB:-1}
BIG_USERS=${BIG_USERS:-32}
BIG_CONCURRENCY=${BIG_CONCURRENCY:-8 32}
LOGGED_N=${LOGGED_N:-15000}
DOVECOT_LOGGED_N=${DOVECOT_LOGGED_N:-2000}
RETR_CLIENTS=${RETR_CLIENTS:-100}
RETR_MB=${RETR_MB:-50}
SCALE_SIZES=${SCALE_SIZES:-100 1000 10000 100000}
PARTS=${PARTS:-download big logged idle retr}
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for p in $PARTS; do
	case $p in
	download | big | logged | idle | retr | scale) ;;
	*) echo "run-pop3: PARTS is a list of download, big, logged, idle, retr, scale" >&2; exit 2 ;;
	esac
done
AUTH_CACHE=${AUTH_CACHE:-on}
case $AUTH_CACHE in
on) MR_CACHE=5m DC_CACHE="auth_cache_size = 10M
auth_cache_ttl = 5 min" ;;
off) MR_CACHE=0 DC_CACHE="auth_cache_size = 0" ;;
*) echo "run-pop3: AUTH_CACHE is on or off" >&2; exit 2 ;;
esac
case $MSG_SIZE in
mixed) ;;
'' | *[!0-9]*) echo "run-pop3: MSG_SIZE is a number of octets or mixed" >&2; exit 2 ;;
esac
PASSWORD=bench-pass
USERFMT='bench%04d@bench.test'
BIG_FMT='big%04d@bench.test'
HELD_FMT='held%05d@bench.test'
RETR_FMT='retr%04d@bench.test'

need_positive run-pop3 MAILBOXES MESSAGES RUN_SECONDS REPEATS IDLE_N DOVECOT_IDLE_N \
	RETR_CLIENTS RETR_MB BIG_MB BIG_USERS LOGGED_N DOVECOT_LOGGED_N
for c in $CONCURRENCY $BIG_CONCURRENCY $SCALE_SIZES; do
	case $c in
	'' | *[!0-9]* | 0)
		echo "run-pop3: CONCURRENCY, BIG_CONCURRENCY, SCALE_SIZES are lists of positive numbers" >&2
		exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "run-pop3: run as root (Dovecot needs it)" >&2; exit 2; }
[ "$DOVECOT_LOGGED_N" -le "$LOGGED_N" ] || DOVECOT_LOGGED_N=$LOGGED_N

bench_build run-pop3
command -v dovecot >/dev/null || { echo "run-pop3: dovecot not installed" >&2; exit 1; }

# Descriptors: the client and each server hold one per idle connection.
raise_nofile run-pop3 IDLE_N DOVECOT_IDLE_N LOGGED_N DOVECOT_LOGGED_N

T=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
chmod 755 "$T" # Dovecot's mail processes run as nobody
MR_PID="" DC_PID="" IDLE_PID="" LOAD_PID="" FILL_PID=""

cleanup() {
	set +e
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	[ -n "$MR_PID" ] && stop_pid "$MR_PID"
	[ -n "$FILL_PID" ] && stop_pid "$FILL_PID"
	[ -n "$DC_PID" ] && stop_pid "$DC_PID" # Dovecot's master: stops all its children
	wait 2>/dev/null
	mr_pg_stop
	finish_tmp run-pop3
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mr_pg_start

# a private copy of the server: a rebuild of build/ during the run cannot touch it
cp build/mailroom "$T/mailroom"
MR=$T/mailroom
cc -O2 -Wall -o "$T/pop3load" bench/pop3load.c
LOAD=$T/pop3load

MR_PORT=$(free_port)
DC_PORT=$(free_port)
FILL_PORT=$(free_port)
while [ "$DC_PORT" = "$MR_PORT" ]; do DC_PORT=$(free_port); done
while [ "$FILL_PORT" = "$MR_PORT" ] || [ "$FILL_PORT" = "$DC_PORT" ]; do FILL_PORT=$(free_port); done

# the users of each part beside the download's
n_big=0 n_held=0 n_retr=0
if want big; then n_big=$BIG_USERS; fi
if want logged; then n_held=$LOGGED_N; fi
if want retr; then n_retr=$RETR_CLIENTS; fi

# ---------------------------------------------------------------- the mail
step "mail: $MAILBOXES mailboxes x $MESSAGES messages (MSG_SIZE=$MSG_SIZE), the same for both servers"
mkdir -p "$T/msgs"
python3 - "$T/msgs" "$MESSAGES" "$MSG_SIZE" <<'PY'
import os, random, sys
out, n, fixed = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(1939)
words = ("the of and to in a is that for it as was with be by on not he this are or "
         "his from at which but have an they you were her she there been one all we "
         "their has would when if so no will more can about out up said what its "
         "invoice meeting quarterly report budget attached server delivery mailbox "
         "schedule review project customer order shipment thanks regards").split()
names = ["Alice Martin", "Bob Chen", "Carol Diaz", "Dan Novak", "Eve Larsen",
         "Frank Okafor", "Grace Ito", "Heidi Weber", "Ivan Petrov", "Judy Silva"]
for i in range(n):
    if fixed == "mixed":
        size = int(2048 * (50 ** rnd.random()))  # 2 KiB .. 100 KiB, log-uniform
    else:
        size = int(fixed)
    name = rnd.choice(names)
    addr = name.split()[0].lower() + "@example.org"
    day = 1 + i % 28
    head = (
        "From: %s <%s>\n"
        "To: user@bench.test\n"
        "Subject: %s %d\n"
        "Date: Mon, %d Nov 2026 09:%02d:%02d +0000\n"
        "Message-ID: <%08x.%d@example.org>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "Content-Transfer-Encoding: 7bit\n\n"
        % (name, addr,
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
# big_message FILE MIB SUBJECT: one base64 attachment of about MIB MiB
big_message() {
	python3 - "$@" <<'PY'
import sys
path, mib, subject = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("From: Bob Chen <bob@example.org>\nTo: user@bench.test\nSubject: %s\n"
            "Message-ID: <%s.1@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            % (subject, subject))
    line = "QmVuY2htYXJrIGRhdGEsIGJhc2U2NCBsaW5lcyBvZiA3NiBjaGFyYWN0ZXJzIGFzIGluIG1h\n"
    f.write(line * (mib * 1024 * 1024 // len(line)))
PY
}
[ "$n_big" -gt 0 ] && big_message "$T/big.eml" "$BIG_MB" big
[ "$n_retr" -gt 0 ] && big_message "$T/retr.eml" "$RETR_MB" large

# One yescrypt hash (mailroom's default scheme) for every user, so that each
# login costs both servers the same hashing; Dovecot reads the same file.
HASH=$(echo "$PASSWORD" | "$MR" pw)
users_file() { # FILE FORMAT COUNT [HASH]
	python3 - "$1" "$2" "$3" "${4:-$HASH}" <<'PY'
import sys
path, fmt, n, h = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(path, "a") as f:
    for i in range(1, n + 1):
        f.write("%s:%s\n" % (fmt % i, h))
PY
}
: > "$T/users"
users_file "$T/users" "$USERFMT" "$MAILBOXES"
[ "$n_big" -gt 0 ] && users_file "$T/users" "$BIG_FMT" "$n_big"
[ "$n_held" -gt 0 ] && users_file "$T/users" "$HELD_FMT" "$n_held"
[ "$n_retr" -gt 0 ] && users_file "$T/users" "$RETR_FMT" "$n_retr"

# ---------------------------------------------------------------- mailroom
# mr_conf DATA_DIR POP3_PORT SMTP_PORT: a benchmark server's configuration
# (the SMTP listener only brings the mail in: no DNS, no outbound delivery)
mr_conf() {
	cat <<EOF
$(mr_conf_head "$1" "pop3=127.0.0.1:$2" "smtp=127.0.0.1:$3")

[limits]
max_connections = $((IDLE_N + LOGGED_N + 1000))
max_connections_per_ip = $((IDLE_N + LOGGED_N + 1000))
auth_cache_ttl = $MR_CACHE

[pop3]
plaintext_auth = yes

[smtp]
max_recipients = 5000
max_message_size = 200M

[delivery]
enabled = no

[filter]
spf = no
dkim_verify = no
dmarc = no
EOF
}
# mr_store CONF USERS: a new store with the users of the passwd-file USERS
mr_store() {
	"$MR" -c "$1" init > "$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
	"$MR" -c "$1" domain add bench.test >/dev/null
	"$MR" -c "$1" user import passwd-file "$2" >/dev/null
	if [ -n "$(mr_user_line)" ]; then
		chown -R mailroom-bench: "$(sed -n 's/^data_dir = //p' "$1")"
	fi
}
# mr_fill CONF SMTP_PORT FORMAT COUNT MESSAGE...: the messages into every
# mailbox of FORMAT, through a server started for it
mr_fill() {
	local conf=$1 port=$2 fmt=$3 count=$4
	shift 4
	"$MR" -c "$conf" serve 2>> "$T/fill.log" &
	FILL_PID=$!
	wait_port "$port" "$FILL_PID" "mailroom (fill)" "$T/fill.log"
	python3 bench/fill.py "$port" "$fmt" 1 "$count" 5000 "$@" > /dev/null
	stop_pid "$FILL_PID"
	wait "$FILL_PID" 2>/dev/null || true
	FILL_PID=""
}
MRCONF=$T/mailroom.conf
mr_conf "$T/mailroom-data" "$MR_PORT" "$FILL_PORT" > "$MRCONF"
t0=$(date +%s)
mr_store "$MRCONF" "$T/users"
msgs=("$T"/msgs/*.eml)
mr_fill "$MRCONF" "$FILL_PORT" "$USERFMT" "$MAILBOXES" "${msgs[@]}"
[ "$n_big" -gt 0 ] && mr_fill "$MRCONF" "$FILL_PORT" "$BIG_FMT" "$n_big" "$T/big.eml"
[ "$n_held" -gt 0 ] && mr_fill "$MRCONF" "$FILL_PORT" "$HELD_FMT" "$n_held" "${msgs[@]}"
[ "$n_retr" -gt 0 ] && mr_fill "$MRCONF" "$FILL_PORT" "$RETR_FMT" "$n_retr" "$T/retr.eml"
say "mailroom: $(wc -l < "$T/users") users imported, their mail delivered ($(( $(date +%s) - t0 )) s)"

"$MR" -c "$MRCONF" serve 2> "$T/mailroom.log" &
MR_PID=$!
wait_port "$MR_PORT" "$MR_PID" mailroom "$T/mailroom.log"

# The octets mailroom stores (it added a Received: field), read back with
# RETR: Dovecot's Maildirs get exactly these, so both send the same mail.
python3 - "$MR_PORT" "$PASSWORD" "$T/wire" "$(printf "$USERFMT" 1)" "$(printf "$BIG_FMT" 1)" \
	"$(printf "$RETR_FMT" 1)" "$n_big" "$n_retr" <<'PY'
import os, poplib, sys
port, pw, out, first, big, retr = sys.argv[1:7]
n_big, n_retr = int(sys.argv[7]), int(sys.argv[8])
os.makedirs(out)
poplib._MAXLINE = 1 << 20
def fetch(user, prefix):
    c = poplib.POP3("127.0.0.1", int(port), timeout=120)
    c.user(user)
    c.pass_(pw)
    for i in range(1, c.stat()[0] + 1):
        lines = c.retr(i)[1]
        with open(os.path.join(out, "%s%04d.eml" % (prefix, i)), "wb") as f:
            f.write(b"\n".join(lines) + b"\n")  # a Maildir file has LF line ends
    c.quit()
fetch(first, "m")
if n_big:
    fetch(big, "big")
if n_retr:
    fetch(retr, "retr")
PY
say "mailroom: $(ls "$T/wire" | wc -l) messages read back for Dovecot's Maildirs"

# ---------------------------------------------------------------- Dovecot
DC=$T/dovecot
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
cp "$T/users" "$DC/users"
chown root:dovecot "$DC/users" # read by Dovecot's auth process
chmod 640 "$DC/users"
# Maildir file names as Dovecot's own LDA writes them (S= size, W= size with
# CRLF), already seen (:2,S) so RETR changes nothing on disk; one copy of
# each message, hard-linked into every mailbox.
python3 - "$T/wire" "$DC/mail" "$USERFMT" "$MAILBOXES" "$BIG_FMT" "$n_big" \
	"$HELD_FMT" "$DOVECOT_LOGGED_N" "$n_held" "$RETR_FMT" "$n_retr" <<'PY'
import glob, os, sys, time
wire, mail = sys.argv[1], sys.argv[2]
sets = [(sys.argv[3], int(sys.argv[4]), "m"), (sys.argv[5], int(sys.argv[6]), "big"),
        (sys.argv[7], min(int(sys.argv[8]), int(sys.argv[9])), "m"),
        (sys.argv[10], int(sys.argv[11]), "retr")]
now = int(time.time())
for fmt, n, prefix in sets:
    files = sorted(glob.glob(os.path.join(wire, prefix + "[0-9]*.eml")))
    names = []
    for k, path in enumerate(files, 1):
        data = open(path, "rb").read()
        names.append((path, "%d.M%dP1.bench.test,S=%d,W=%d:2,S"
                      % (now + k, k, len(data), len(data) + data.count(b"\n"))))
    for i in range(1, n + 1):
        md = os.path.join(mail, fmt % i, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        for path, name in names:
            os.link(path, os.path.join(md, "cur", name))
PY
chown -R nobody:nogroup "$DC/mail" "$T/wire"
# Dovecot's defaults are kept apart from the limits, raised so that every
# connection of the idle and logged parts can exist and every service
# (auth, anvil, stats) accepts one client per process. DOVECOT_LOGIN=
# performance (the default here) is the high-performance login mode of
# Dovecot's documentation (a few pop3-login processes, many clients each),
# and pop3 processes that serve one session after another.
login_mode="" pop3_mode=""
if [ "$DOVECOT_LOGIN" = performance ]; then
	login_mode="  service_count = 0
  process_min_avail = $(nproc)
  client_limit = $((DOVECOT_IDLE_N + DOVECOT_LOGGED_N + 100))"
	# and the pop3 processes reused from session to session instead of one
	# started for each (safe here: every user is the one uid, nobody)
	pop3_mode="  service_count = 0
  process_min_avail = $(nproc)"
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
default_client_limit = $((DOVECOT_IDLE_N + DOVECOT_LOGGED_N + 1000))
default_process_limit = $((DOVECOT_LOGGED_N + 1000))
service pop3-login {
  process_limit = $((DOVECOT_IDLE_N + DOVECOT_LOGGED_N + 100))
$login_mode
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
# a pop3 process per logged-in session; Dovecot's own default caps them at 1024
service pop3 {
  process_limit = $((DOVECOT_LOGGED_N + 100))
$pop3_mode
}
EOF

step "both servers: mailroom on 127.0.0.1:$MR_PORT, Dovecot on 127.0.0.1:$DC_PORT"
dovecot -F -c "$DC/dovecot.conf" 2> "$DC/dovecot.stderr" &
DC_PID=$!
wait_port "$DC_PORT" "$DC_PID" dovecot "$DC/dovecot.log"
say "mailroom pid $MR_PID ($("$MR" --version 2>/dev/null || echo mailroom)), dovecot pid $DC_PID ($(dovecot --version), login mode: $DOVECOT_LOGIN, auth cache: $AUTH_CACHE)"

# Memory of a process and all its descendants: "PSS_KiB RSS_KiB processes".
mem_tree() {
	python3 bench/memtree.py "$1"
}
# CPU seconds of a process tree, with the children it reaped
cpu_tree() {
	python3 bench/memtree.py --cpu "$1"
}
# Number of processes under a PID (bounded wait until it settles).
settle() {
	local last="" cur
	for _ in $(seq 50); do
		cur=$(mem_tree "$1" | cut -d' ' -f3)
		[ "$cur" = "$last" ] && return 0
		last=$cur
		sleep 0.2
	done
}
server_pid() { if [ "$1" = mailroom ]; then echo "$MR_PID"; else echo "$DC_PID"; fi; }
server_port() { if [ "$1" = mailroom ]; then echo "$MR_PORT"; else echo "$DC_PORT"; fi; }

failed=0

# load NAME OUT COUNT FORMAT CONCURRENCY [pop3load options]: one load run;
# OUT gets pop3load's line plus server_cpu_s, the server's CPU meanwhile
load() {
	local name=$1 out=$2 count=$3 fmt=$4 conc=$5 pid c0 c1
	shift 5
	pid=$(server_pid "$name")
	if [ "$name" = mailroom ]; then c0=$(mr_cpu "$pid"); else c0=$(cpu_tree "$pid"); fi
	# in the background, so that a signal to this script is handled at once
	"$LOAD" -p "$(server_port "$name")" -L "$name" -m "$count" -c "$conc" -w "$PASSWORD" \
		-u "$fmt" -T 60 "$@" load > "$out" 2> "$out.err" &
	LOAD_PID=$!
	if ! wait "$LOAD_PID"; then
		say "$name: errors: $(sed 's/^label=[^ ]* //' "$out")"
		head -5 "$out.err"
		failed=1
	fi
	LOAD_PID=""
	if [ "$name" = mailroom ]; then c1=$(mr_cpu "$pid"); else c1=$(cpu_tree "$pid"); fi
	sed -i "s/\$/ server_cpu_s=$(awk "BEGIN { print $c1 - $c0 }")/" "$out"
}
# summarize TITLE PREFIX CONC...: a table of the medians of the runs
# $T/PREFIX.NAME.CONC.1.. of both servers
summarize() {
	python3 - "$T" "$REPEATS" "$@" <<'PY'
import statistics, sys
T, reps, title, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
concs = sys.argv[5:]
def runs(name, c):
    out = []
    for r in range(1, reps + 1):
        try:
            f = dict(kv.split("=", 1) for kv in
                     open("%s/%s.%s.%s.%d" % (T, prefix, name, c, r)).read().split())
            out.append({k: float(v) for k, v in f.items() if k != "label"})
        except (OSError, ValueError):
            pass
    return out
def med(rs, key):
    return statistics.median(r[key] for r in rs) if rs else 0.0
def cpu_ms(rs):  # server CPU per session, each run's own ratio, median
    v = [r["server_cpu_s"] * 1000 / r["sessions"] for r in rs if r.get("sessions")]
    return statistics.median(v) if v else 0.0
print(title)
big = prefix == "big"
unit = "MiB/s" if big else "msgs/s"
print("| clients | mailroom %s | Dovecot %s | ratio | mailroom p50 / p99 ms | Dovecot p50 / p99 ms "
      "| CPU ms per session, mailroom / Dovecot |" % (unit, unit))
print("|---|---|---|---|---|---|---|")
for c in concs:
    m, d = runs("mailroom", c), runs("dovecot", c)
    key = "mib_per_s" if big else "msgs_per_s"
    mv, dv = med(m, key), med(d, key)
    print("| %s | %.0f | %.0f | %s | %.1f / %.1f | %.1f / %.1f | %.2f / %.2f |"
          % (c, mv, dv, "%.2f" % (mv / dv) if dv else "-", med(m, "p50_ms"), med(m, "p99_ms"),
             med(d, "p50_ms"), med(d, "p99_ms"), cpu_ms(m), cpu_ms(d)))
    if reps > 1:
        print("|   runs | %s | %s | | | | |" % ("/".join("%.0f" % r[key] for r in m),
                                             "/".join("%.0f" % r[key] for r in d)))
PY
}

# series TAG COUNT FORMAT CONC...: for each concurrency, REPEATS timed runs
# per server, alternating, into $T/TAG.NAME.CONC.RUN
series() {
	local tag=$1 count=$2 fmt=$3 c r name out
	shift 3
	for c in "$@"; do
		[ "$c" -le "$count" ] || { say "$c clients for $count mailboxes: skipped"; continue; }
		for r in $(seq "$REPEATS"); do
			for name in mailroom dovecot; do
				out=$T/$tag.$name.$c.$r
				load $name "$out" "$count" "$fmt" "$c" -d "$RUN_SECONDS"
				printf '%-9s %3d clients, run %d: %s\n' "$name" "$c" "$r" \
					"$(sed 's/^label=[^ ]* //' "$out")"
				if [ $name = dovecot ]; then settle "$DC_PID"; fi
			done
		done
	done
}

# ---------------------------------------------------------------- download
if want download; then
step "POP3 full download: login + STAT + UIDL + RETR all + QUIT, $MAILBOXES mailboxes; $REPEATS x ${RUN_SECONDS} s per server and concurrency, alternating"
# warm-up: every mailbox once (Dovecot builds its index files here; both
# fill their auth caches)
load mailroom "$T/warm.mailroom" "$MAILBOXES" "$USERFMT" 8 -r 1
load dovecot "$T/warm.dovecot" "$MAILBOXES" "$USERFMT" 8 -r 1
settle "$DC_PID"
# shellcheck disable=SC2086 # the list
series dl "$MAILBOXES" "$USERFMT" $CONCURRENCY
fi

# ---------------------------------------------------------------- big
if want big; then
step "POP3 big messages: one $BIG_MB MiB message in each of $BIG_USERS mailboxes"
load mailroom "$T/warm.big.mailroom" "$BIG_USERS" "$BIG_FMT" 8 -r 1
load dovecot "$T/warm.big.dovecot" "$BIG_USERS" "$BIG_FMT" 8 -r 1
# shellcheck disable=SC2086
series big "$BIG_USERS" "$BIG_FMT" $BIG_CONCURRENCY
fi

# ---------------------------------------------------------------- logged, idle
# hold NAME COUNT TAG [pop3load idle options]: COUNT connections held; prints
# and saves "held per_KiB n wait_max_ms" in $T/NAME.TAG.result
hold() {
	local name=$1 count=$2 tag=$3 pid port base after held_line still_line held per rss_per n established
	shift 3
	pid=$(server_pid "$name")
	port=$(server_port "$name")
	settle "$pid"
	base=$(mem_tree "$pid")
	rm -f "$T/$name.$tag"
	"$LOAD" -p "$port" -L "$name" -n "$count" -T 60 -w "$PASSWORD" "$@" idle > "$T/$name.$tag" 2> "$T/$name.$tag.err" &
	IDLE_PID=$!
	# bounded: Dovecot starts a process per connection or login (tens per second)
	for _ in $(seq 6000); do
		grep -q 'held=' "$T/$name.$tag" 2>/dev/null && break
		kill -0 "$IDLE_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 2
	settle "$pid"
	after=$(mem_tree "$pid")
	established=$(ss -Htn state established "( sport = :$port )" | wc -l)
	kill "$IDLE_PID" 2>/dev/null || true
	wait "$IDLE_PID" || true
	IDLE_PID=""
	held_line=$(grep 'held=' "$T/$name.$tag" || true)
	still_line=$(grep 'still_held=' "$T/$name.$tag" || true)
	held=$(echo "$held_line" | sed -n 's/.* held=\([0-9]*\).*/\1/p')
	[ -n "$held" ] || held=0
	local wait_max
	wait_max=$(echo "$held_line" | sed -n 's/.*wait_max_ms=\([0-9.]*\).*/\1/p')
	# shellcheck disable=SC2086 # split "PSS RSS processes" into fields
	set -- "$name" "$count" $base $after
	# $3 $4 $5: PSS, RSS, processes before; $6 $7 $8: while held
	# per connection: over those still established when memory was read
	n=$held
	if [ "$established" -lt "$n" ]; then n=$established; fi
	if [ "$n" -gt 0 ]; then
		per=$(( ($6 - $3) * 10 / n ))
		rss_per=$(( ($7 - $4) * 10 / n ))
	else
		per=0 rss_per=0
	fi
	printf '%-9s requested %d, held %d after %s s (waits: %s); server side %d established; at the end %s\n' \
		"$1" "$2" "$held" "$(echo "$held_line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')" \
		"$(echo "$held_line" | sed -n 's/.*\(wait_p50_ms=.*\)/\1/p')" \
		"$established" "$(echo "$still_line" | sed 's/^label=[^ ]* //')"
	printf '%-9s processes %d -> %d; PSS %d KiB -> %d KiB: %d.%d KiB per connection (RSS sum: %d.%d KiB)\n' \
		"$1" "$5" "$8" "$3" "$6" $((per / 10)) $((per % 10)) $((rss_per / 10)) $((rss_per % 10))
	[ "$held" -eq "$2" ] || failed=1
	echo "$held $per $n ${wait_max:-0}" > "$T/$1.$tag.result"
}

# idle first: the logged part's sessions, once gone, leave heap that a
# later measurement would reuse and not count
if want idle; then
step "idle connections: greeting read, then held (no login)"
hold mailroom "$IDLE_N" idle -a 64
hold dovecot "$DOVECOT_IDLE_N" idle -a 64
fi

if want logged; then
step "logged-in idle sessions: $LOGGED_N to mailroom, $DOVECOT_LOGGED_N to Dovecot, each in a mailbox of its own, 1000 logins in flight at once"
# the logins of a warm auth cache (POP3 clients poll every few minutes)
load mailroom "$T/warm.held.mailroom" "$LOGGED_N" "$HELD_FMT" 8 -r 1
load dovecot "$T/warm.held.dovecot" "$DOVECOT_LOGGED_N" "$HELD_FMT" 8 -r 1
hold mailroom "$LOGGED_N" logged -l -a 1000 -u "$HELD_FMT"
hold dovecot "$DOVECOT_LOGGED_N" logged -l -a 1000 -u "$HELD_FMT"
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

# ---------------------------------------------------------------- scale
if want scale; then
step "scale: mailroom alone, a fresh store of each of $SCALE_SIZES mailboxes x $MESSAGES messages, one pass at 8 clients, auth cache warm"
# sha512-crypt here, so that warming the cache of 100,000 accounts takes
# minutes, not a quarter of an hour; the pass measured hashes nothing
SC_HASH=$(echo "$PASSWORD" | "$MR" pw --scheme sha512-crypt)
SC_PORT=$(free_port)
SC_FILL=$(free_port)
for n in $SCALE_SIZES; do
	d=$T/scale-$n
	mkdir -p "$d"
	users_file "$d/users" "$USERFMT" "$n" "$SC_HASH"
	mr_conf "$d/data" "$SC_PORT" "$SC_FILL" > "$d/mailroom.conf"
	t0=$(date +%s)
	mr_store "$d/mailroom.conf" "$d/users"
	mr_fill "$d/mailroom.conf" "$SC_FILL" "$USERFMT" "$n" "${msgs[@]}"
	"$MR" -c "$d/mailroom.conf" serve 2> "$d/mailroom.log" &
	FILL_PID=$! # stopped on exit like the fill's server
	wait_port "$SC_PORT" "$FILL_PID" mailroom "$d/mailroom.log"
	saved_pid=$MR_PID saved_port=$MR_PORT
	MR_PID=$FILL_PID MR_PORT=$SC_PORT
	load mailroom "$d/warm" "$n" "$USERFMT" 8 -r 1
	load mailroom "$d/pass" "$n" "$USERFMT" 8 -r 1
	MR_PID=$saved_pid MR_PORT=$saved_port
	printf 'scale %6d mailboxes (%d s to make): %s\n' "$n" "$(( $(date +%s) - t0 ))" \
		"$(sed 's/^label=[^ ]* //' "$d/pass")"
	stop_pid "$FILL_PID"
	wait "$FILL_PID" 2>/dev/null || true
	FILL_PID=""
	rm -rf "$d/data"
done
fi

# ---------------------------------------------------------------- summary
step "summary ($(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(. /etc/os-release && echo "$PRETTY_NAME"))"
if want download; then
	# shellcheck disable=SC2086 # the concurrency list
	summarize "download, $MAILBOXES mailboxes x $MESSAGES messages (MSG_SIZE=$MSG_SIZE), medians of $REPEATS runs, Dovecot login mode $DOVECOT_LOGIN, auth cache $AUTH_CACHE" dl $CONCURRENCY
fi
if want big; then
	# shellcheck disable=SC2086
	summarize "big messages, $BIG_USERS mailboxes x one $BIG_MB MiB message" big $BIG_CONCURRENCY
fi
for tag in logged idle; do
	want "$tag" || continue
	read -r mh mp mn mw < "$T/mailroom.$tag.result"
	read -r dh dp dn dw < "$T/dovecot.$tag.result"
	python3 - "$tag" "$mh" "$mp" "$mn" "$mw" "$dh" "$dp" "$dn" "$dw" <<'PY'
import sys
tag = sys.argv[1]
mh, mp, mn, dh, dp, dn = (int(sys.argv[i]) for i in (2, 3, 4, 6, 7, 8))
mw, dw = float(sys.argv[5]), float(sys.argv[9])
what = "logged-in sessions" if tag == "logged" else "idle connections (no login)"
print("%s: mailroom %d held, %.1f KiB each (PSS), longest wait %.0f ms; Dovecot %d held, "
      "%.1f KiB each, longest wait %.0f ms%s"
      % (what, mh, mp / 10.0, mw, dh, dp / 10.0, dw,
         "; Dovecot/mailroom = %.0f" % (dp / mp) if mp > 0 else ""))
PY
done
if want scale; then
	for n in $SCALE_SIZES; do
		python3 - "$n" "$T/scale-$n/pass" <<'PY'
import sys
f = dict(kv.split("=", 1) for kv in open(sys.argv[2]).read().split())
s = int(f["sessions"])
print("scale: %7s mailboxes: %s msgs/s, p99 %s ms, server CPU %.2f ms per session"
      % (sys.argv[1], f["msgs_per_s"], f["p99_ms"],
         float(f["server_cpu_s"]) * 1000 / s if s else 0))
PY
	done
fi
if [ "$failed" -ne 0 ]; then
	say "run-pop3: some runs had errors; see above"
	KEEP_TMP=1
	exit 1
fi

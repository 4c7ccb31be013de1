#!/bin/bash
# SPDX-License-Identifier: MIT
# run-imap.sh - mailroom beside a private Dovecot (Debian dovecot-imapd) on
# loopback, with the same accounts, folders and messages, in one run:
#
#   logins  LOGINS sessions (LOGIN, LOGOUT; 8 at once) on as many accounts,
#           twice: the server's CPU time per login (its whole process tree,
#           from /proc), the first time and again (auth cache on: cached);
#   sync    a full mbsync (isync) sync of MAILBOXES accounts of MESSAGES
#           small messages each, every folder, CONCURRENCY mbsync processes
#           at once into empty local Maildirs: messages/s;
#   big     SELECT, UID FETCH 1:* (FLAGS) and SEARCH TEXT WORD on one folder
#           of BIGFOLDER messages: seconds (bench/imapload.py big);
#   idle    IDLE_CONNS sessions to mailroom and DOVECOT_IDLE_CONNS to Dovecot,
#           each logged in, INBOX selected, in IDLE: memory (PSS of all the
#           server's processes) per connection, CPU per session set up.
#
# Run as root on Debian 12 from the top of the tree:  bench/run-imap.sh
# Knobs (environment), the defaults are the sizes of the project's issue:
#   MAILBOXES=1000 MESSAGES=20   accounts and messages each (1 to 8 KiB)
#   CONCURRENCY=8                mbsync processes at once
#   BIGFOLDER=100000             messages in the big folder (1 to 4 KiB)
#   WORD=zanzibar                the SEARCH TEXT word, in 1 message of 100
#   BIG_TIMEOUT=900              seconds one big-folder command may take
#   LOGINS=1000                  logins per pass (at most MAILBOXES)
#   IDLE_CONNS=10000             IDLE sessions to mailroom
#   DOVECOT_IDLE_CONNS           IDLE sessions to Dovecot (IDLE_CONNS; each is
#                                one imap process)
#   DOVECOT_LOGIN=default        or "performance": Dovecot's high-performance
#                                login mode (service_count = 0)
#   AUTH_CACHE=on                or "off": both servers reuse successful
#                                password checks for 5 minutes, or neither
#   REPEATS=3                    timed runs of sync and big per server,
#                                alternating, after a first untimed one
#   PARTS="logins sync big idle" the parts to run
#   KEEP_TMP=1                   keep the temporary folder (logs, configs)
# Both servers listen on 127.0.0.1 only; they are stopped by PID on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MAILBOXES=${MAILBOXES:-1000}
MESSAGES=${MESSAGES:-20}
CONCURRENCY=${CONCURRENCY:-8}
BIGFOLDER=${BIGFOLDER:-100000}
WORD=${WORD:-zanzibar}
BIG_TIMEOUT=${BIG_TIMEOUT:-900}
LOGINS=${LOGINS:-1000}
IDLE_CONNS=${IDLE_CONNS:-10000}
DOVECOT_IDLE_CONNS=${DOVECOT_IDLE_CONNS:-$IDLE_CONNS}
DOVECOT_LOGIN=${DOVECOT_LOGIN:-default}
AUTH_CACHE=${AUTH_CACHE:-on}
REPEATS=${REPEATS:-3}
PARTS=${PARTS:-logins sync big idle}
KEEP_TMP=${KEEP_TMP:-0}
want() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
for p in $PARTS; do
	case $p in
	logins | sync | big | idle) ;;
	*) echo "run-imap: PARTS is a list of logins, sync, big, idle" >&2; exit 2 ;;
	esac
done
case $DOVECOT_LOGIN in
default | performance) ;;
*) echo "run-imap: DOVECOT_LOGIN is default or performance" >&2; exit 2 ;;
esac
case $AUTH_CACHE in
on) MR_CACHE=5m DC_CACHE="auth_cache_size = 10M
auth_cache_ttl = 5 min" ;;
off) MR_CACHE=0 DC_CACHE="auth_cache_size = 0" ;;
*) echo "run-imap: AUTH_CACHE is on or off" >&2; exit 2 ;;
esac
case $WORD in
*[!a-z]* | '') echo "run-imap: WORD is one word of lower-case letters" >&2; exit 2 ;;
esac
need_positive run-imap MAILBOXES MESSAGES CONCURRENCY BIGFOLDER BIG_TIMEOUT LOGINS IDLE_CONNS \
	DOVECOT_IDLE_CONNS REPEATS
[ "$(id -u)" -eq 0 ] || { echo "run-imap: run as root (Dovecot needs it)" >&2; exit 2; }
[ "$CONCURRENCY" -le "$MAILBOXES" ] || CONCURRENCY=$MAILBOXES
[ "$LOGINS" -le "$MAILBOXES" ] || LOGINS=$MAILBOXES
PASSWORD=bench-pass
USERFMT='bench%04d@bench.test'
user() { printf 'bench%04d@bench.test' "$1"; } # the same names as USERFMT
BIG=big@bench.test
BIG_EVERY=100 # WORD is in one message of BIG_EVERY

bench_build run-imap
if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/imap ]; then
	echo "run-imap: dovecot-imapd not installed" >&2
	exit 1
fi
command -v mbsync >/dev/null || { echo "run-imap: mbsync (isync) not installed" >&2; exit 1; }

# Descriptors: the client and each server hold one per idle connection.
raise_nofile run-imap IDLE_CONNS DOVECOT_IDLE_CONNS
most_idle=$IDLE_CONNS
[ "$DOVECOT_IDLE_CONNS" -le "$most_idle" ] || most_idle=$DOVECOT_IDLE_CONNS
# IDLE sessions of one account at once (the same limit on both servers;
# mailroom's [imap] max_sessions takes at most 10000)
per_account=$(((most_idle + MAILBOXES - 1) / MAILBOXES + 10))
[ "$per_account" -le 10000 ] || per_account=10000

T=$(mktemp -d /tmp/mailroom-bench.XXXXXX)
chmod 755 "$T" # Dovecot's mail processes run as nobody, mailroom as its user
MR_PID="" DC_PID="" IDLE_PID=""

cleanup() {
	set +e
	[ -n "$IDLE_PID" ] && kill "$IDLE_PID" 2>/dev/null
	[ -n "$MR_PID" ] && stop_pid "$MR_PID"
	[ -n "$DC_PID" ] && stop_pid "$DC_PID" # Dovecot's master: stops all its children
	wait 2>/dev/null
	finish_tmp run-imap
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a private copy of the server: a rebuild of build/ during the run cannot touch it
cp build/mailroom "$T/mailroom"
MR=$T/mailroom
MR_PORT=$(free_port)
DC_PORT=$(free_port)
while [ "$DC_PORT" = "$MR_PORT" ]; do DC_PORT=$(free_port); done

# ---------------------------------------------------------------- the mail
step "mail: $MAILBOXES accounts x $MESSAGES messages, a folder of $BIGFOLDER, the same for both servers"
python3 bench/mkmaildir.py "$T/small" "$MESSAGES" 1024 8192 "$WORD" 5
if want big; then
	t0=$(date +%s)
	python3 bench/mkmaildir.py "$T/big" "$BIGFOLDER" 1024 4096 "$WORD" "$BIG_EVERY"
	say "big folder: $BIGFOLDER messages, $(du -sm "$T/big" | cut -f1) MiB on disk ($(($(date +%s) - t0)) s)"
fi
chmod -R a+rX "$T/small" "$T/big" 2>/dev/null || true

# ---------------------------------------------------------------- mailroom
MRCONF=$T/mailroom.conf
cat > "$MRCONF" <<EOF
$(mr_conf_head "$T/mailroom-data" "imap=127.0.0.1:$MR_PORT")

[limits]
max_connections = $((most_idle + 1000))
max_connections_per_ip = $((most_idle + 1000))
auth_cache_ttl = $MR_CACHE

[imap]
plaintext_auth = yes
max_sessions = $per_account
EOF
"$MR" -c "$MRCONF" init > "$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
"$MR" -c "$MRCONF" domain add bench.test >/dev/null
# one yescrypt hash ({CRYPT}...) for every account (each its own login, cache entry and
# store), given to Dovecot too: a login costs both servers the same hashing
HASH=$(echo "$PASSWORD" | "$MR" -c "$MRCONF" pw)
t0=$(date +%s)
for i in $(seq "$MAILBOXES"); do
	"$MR" -c "$MRCONF" user add "$(user "$i")" --password-hash "$HASH" >/dev/null
	"$MR" -c "$MRCONF" import maildir "$T/small" "$(user "$i")" >/dev/null
done
say "mailroom: $MAILBOXES accounts, $((MAILBOXES * MESSAGES)) messages imported ($(($(date +%s) - t0)) s)"
if want big; then
	t0=$(date +%s)
	"$MR" -c "$MRCONF" user add "$BIG" --password-hash "$HASH" >/dev/null
	"$MR" -c "$MRCONF" import maildir "$T/big" "$BIG" >/dev/null
	say "mailroom: $BIG has $BIGFOLDER messages ($(($(date +%s) - t0)) s)"
fi

# ---------------------------------------------------------------- Dovecot
DC=$T/dovecot
mkdir -p "$DC/run" "$DC/state" "$DC/mail"
{
	for i in $(seq "$MAILBOXES"); do echo "$(user "$i"):$HASH"; done
	if want big; then echo "$BIG:$HASH"; fi
} > "$DC/users"
chown root:dovecot "$DC/users" # read by Dovecot's auth process
chmod 640 "$DC/users"
t0=$(date +%s)
for i in $(seq "$MAILBOXES"); do
	mkdir -p "$DC/mail/$(user "$i")"
	cp -r "$T/small" "$DC/mail/$(user "$i")/Maildir"
done
if want big; then
	mkdir -p "$DC/mail/$BIG"
	mv "$T/big" "$DC/mail/$BIG/Maildir" # mailroom has its own copy now
fi
chown -R nobody:nogroup "$DC/mail"
say "dovecot: the same Maildirs copied ($(($(date +%s) - t0)) s)"
# Dovecot as Debian ships it (a login process per connection, an imap
# process per session), with the limits raised for the IDLE part and the
# folders every mailroom account has (docs/imap.md, Folders), so that mbsync
# finds the same tree on both servers.
login_mode=""
if [ "$DOVECOT_LOGIN" = performance ]; then
	login_mode="  service_count = 0
  process_min_avail = $(nproc)
  client_limit = $((DOVECOT_IDLE_CONNS + 100))"
fi
folders=""
for f in Sent Drafts Trash Junk Archive; do
	folders="$folders  mailbox $f {
    auto = subscribe
    special_use = \\$f
  }
"
done
cat > "$DC/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = $DC/run
state_dir = $DC/state
instance_name = mailroom-bench-imap
log_path = $DC/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
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
namespace inbox {
  inbox = yes
  separator = /
$folders}
mail_max_userip_connections = $per_account
default_client_limit = $((DOVECOT_IDLE_CONNS + 1000))
service imap-login {
  process_limit = $((DOVECOT_IDLE_CONNS + 100))
$login_mode
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service imap {
  process_limit = $((DOVECOT_IDLE_CONNS + 100))
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
port_of() { if [ "$1" = mailroom ]; then echo "$MR_PORT"; else echo "$DC_PORT"; fi; }
pid_of() { if [ "$1" = mailroom ]; then echo "$MR_PID"; else echo "$DC_PID"; fi; }
failed=0
R=$T/results
mkdir -p "$R"

# ---------------------------------------------------------------- logins
if want logins; then
	step "logins: $LOGINS accounts, LOGIN + LOGOUT, 8 at once; server CPU per login, twice"
	for pass in first again; do
		for name in mailroom dovecot; do
			python3 bench/imapload.py logins "$name" "$(port_of $name)" "$(pid_of $name)" \
				"$USERFMT" 1 "$LOGINS" "$PASSWORD" 8 > "$R/$name.logins.$pass" || failed=1
			printf '%-9s %-5s %s\n' "$name" "$pass" "$(sed 's/^label=[^ ]* //' "$R/$name.logins.$pass")"
		done
	done
fi

# ---------------------------------------------------------------- sync
if want sync; then
	step "mbsync: $MAILBOXES accounts x $MESSAGES messages, every folder, $CONCURRENCY mbsync at once; 1 + $REPEATS runs per server, alternating"
	# CONCURRENCY configs per server, each with its share of the accounts;
	# FSync off on the client: the client's disk is not what is measured
	for name in mailroom dovecot; do
		M=$T/mbsync/$name
		mkdir -p "$M"
		for c in $(seq "$CONCURRENCY"); do
			{
				echo "FSync no"
				for i in $(seq "$c" "$CONCURRENCY" "$MAILBOXES"); do
					cat <<EOF

IMAPAccount a$i
Host 127.0.0.1
Port $(port_of $name)
User $(user "$i")
Pass $PASSWORD
SSLType None
AuthMechs LOGIN

IMAPStore a$i-far
Account a$i

MaildirStore a$i-near
Path $M/near/a$i/
Inbox $M/near/a$i/INBOX
SubFolders Verbatim

Channel a$i
Far :a$i-far:
Near :a$i-near:
Patterns *
Create Near
SyncState *
EOF
				done
			} > "$M/rc.$c"
		done
	done
	sync_run() { # name run
		local M=$T/mbsync/$1 c pids=() t0 t1 got bad=0
		rm -rf "$M/near"
		for i in $(seq "$MAILBOXES"); do mkdir -p "$M/near/a$i"; done
		t0=$(date +%s.%N)
		for c in $(seq "$CONCURRENCY"); do
			timeout 1800 mbsync -q -c "$M/rc.$c" -a > "$M/out.$c" 2>&1 &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || bad=1; done
		t1=$(date +%s.%N)
		got=$(find "$M/near" -path '*/INBOX/cur/*' -o -path '*/INBOX/new/*' | wc -l)
		if [ "$bad" -ne 0 ] || [ "$got" -ne $((MAILBOXES * MESSAGES)) ]; then
			say "$1: mbsync failed or fetched $got of $((MAILBOXES * MESSAGES)) messages:"
			cat "$M"/out.* | head -5
			failed=1
		fi
		awk -v a="$t0" -v b="$t1" -v n="$got" -v f="$(find "$M/near" -maxdepth 2 -mindepth 2 -type d | wc -l)" \
			'BEGIN { printf "seconds=%.2f messages=%d folders=%d msgs_per_s=%.0f\n", b - a, n, f, n / (b - a) }' \
			> "$R/$1.sync.$2"
		printf '%-9s run %d: %s\n' "$1" "$2" "$(cat "$R/$1.sync.$2")"
	}
	for r in $(seq 0 "$REPEATS"); do
		sync_run mailroom "$r"
		sync_run dovecot "$r"
	done
fi

# ---------------------------------------------------------------- big
if want big; then
	step "big folder: $BIGFOLDER messages; SELECT, UID FETCH 1:* (FLAGS), SEARCH TEXT $WORD; 1 + $REPEATS sessions per server"
	for name in mailroom dovecot; do
		python3 bench/imapload.py big "$name" "$(port_of $name)" "$BIG" "$PASSWORD" "$WORD" \
			"$REPEATS" "$BIG_TIMEOUT" > "$R/$name.big" 2> "$R/$name.big.err" || failed=1
		cat "$R/$name.big.err"
	done
fi

# ---------------------------------------------------------------- idle
if want idle; then
	step "IDLE: sessions logged in on $MAILBOXES accounts, INBOX selected, in IDLE; memory per connection"
	idle() { # name count
		local i
		rm -f "$R/$1.idle"
		python3 bench/imapload.py idle "$1" "$(port_of "$1")" "$(pid_of "$1")" "$USERFMT" 1 \
			"$MAILBOXES" "$2" "$PASSWORD" 1500 > "$R/$1.idle" 2> "$R/$1.idle.err" &
		IDLE_PID=$!
		for i in $(seq 16000); do # bounded: the holder's own limit is 1500 s
			grep -q 'held=' "$R/$1.idle" 2>/dev/null && break
			kill -0 "$IDLE_PID" 2>/dev/null || break
			sleep 0.1
		done
		echo "established=$(ss -Htn state established "( sport = :$(port_of "$1") )" | wc -l)" \
			>> "$R/$1.idle"
		kill "$IDLE_PID" 2>/dev/null || true
		wait "$IDLE_PID" || failed=1
		IDLE_PID=""
		cat "$R/$1.idle.err"
		printf '%-9s %s\n' "$1" "$(tr '\n' ' ' < "$R/$1.idle" | sed 's/^label=[^ ]* //')"
	}
	idle mailroom "$IDLE_CONNS"
	idle dovecot "$DOVECOT_IDLE_CONNS"
fi

# ---------------------------------------------------------------- summary
step "summary ($(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(. /etc/os-release && echo "$PRETTY_NAME"))"
python3 bench/imapsummary.py "$R" "$REPEATS" "MAILBOXES=$MAILBOXES MESSAGES=$MESSAGES \
CONCURRENCY=$CONCURRENCY BIGFOLDER=$BIGFOLDER LOGINS=$LOGINS IDLE_CONNS=$IDLE_CONNS \
DOVECOT_IDLE_CONNS=$DOVECOT_IDLE_CONNS DOVECOT_LOGIN=$DOVECOT_LOGIN AUTH_CACHE=$AUTH_CACHE"
if [ "$failed" -ne 0 ]; then
	say "run-imap: some runs had errors; see above"
	KEEP_TMP=1
	exit 1
fi

#!/bin/bash
# SPDX-License-Identifier: MIT
# run-ldap.sh - POP3 logins per second with the accounts in LDAP, beside the
# built-in directory, on the same machine in one run.
#
# A private slapd (Debian's, mdb, on loopback) holds USERS accounts whose
# userPassword is the very yescrypt hash mailroom's built-in accounts hold
# ({CRYPT}$y$..., made by `mailroom user add`), so every login costs one
# yescrypt check either way; what differs is who checks and how many round
# trips a login takes. Six `mailroom serve` instances, each with a store of
# its own, are started at once and loaded in turn (REPEATS rounds,
# alternating):
#   builtin        [directory] backend = builtin
#   ldap-bind      backend = ldap, auth_bind = yes: search + bind as the user
#                  (slapd checks the hash) + bind back as the service account
#   ldap-compare   backend = ldap, auth_bind = no: search, mailroom checks
#                  the userPassword it read
# each with [limits] auth_cache_ttl = 5m ("cache on", the default) and 0
# ("cache off"). A session is USER/PASS, STAT, UIDL, QUIT on an empty
# mailbox (bench/pop3load.c), so sessions/s are logins/s. The LDAP
# mailboxes are made by a warm-up round (first login makes them).
#
# Run as root on Debian 12 from the top of the tree:  bench/run-ldap.sh
# Knobs (environment):
#   USERS=100 CONCURRENCY=10     accounts; sessions at once (at most USERS)
#   RUN_SECONDS=10 REPEATS=3     timed runs per configuration; median shown
#   KEEP_TMP=1                   keep the temporary folder (logs, configs)
# Everything listens on 127.0.0.1 only and is stopped by PID on exit.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

USERS=${USERS:-100}
CONCURRENCY=${CONCURRENCY:-10}
RUN_SECONDS=${RUN_SECONDS:-10}
REPEATS=${REPEATS:-3}
KEEP_TMP=${KEEP_TMP:-0}
need_positive run-ldap USERS CONCURRENCY RUN_SECONDS REPEATS
[ "$(id -u)" -eq 0 ] || { echo "run-ldap: run as root (serve drops to a [server] user)" >&2; exit 2; }
[ "$CONCURRENCY" -le "$USERS" ] || CONCURRENCY=$USERS
PASSWORD=bench-pass
USERFMT='bench%04d@bench.test'
user() { printf 'bench%04d@bench.test' "$1"; } # the same names as USERFMT
BASE=dc=bench,dc=test
ROOT_DN=cn=admin,$BASE
ROOT_PW=bench-root
SERVICE_DN=cn=mailroom,$BASE
SERVICE_PW=bench-service

step "dependencies and build"
scripts/deps.sh bench
if ! scripts/build.sh build; then
	say "run-ldap: full build failed; building the mailroom target only"
	cmake --build build --target mailroom -j"$(nproc)" >/dev/null
fi

T=$(mktemp -d /tmp/mailroom-bench-ldap.XXXXXX)
chmod 755 "$T"
SLAPD_PID="" LOAD_PID="" MR_PIDS=()
cleanup() {
	set +e
	[ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
	for p in "${MR_PIDS[@]}" $SLAPD_PID; do
		kill "$p" 2>/dev/null
		wait_gone "$p" || kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "$KEEP_TMP" = 1 ]; then echo "run-ldap: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp build/mailroom "$T/mailroom"
MR=$T/mailroom
cc -O2 -Wall -o "$T/pop3load" bench/pop3load.c
LOAD=$T/pop3load
wait_port() { # port pid: bounded wait until it accepts
	local i
	for i in $(seq 150); do
		kill -0 "$2" 2>/dev/null || return 1
		python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- the accounts
step "accounts: $USERS, password hashes from mailroom user add (yescrypt)"
mr_conf() { # name port backend cache [ldap keys...]
	local name=$1 port=$2 backend=$3 cache=$4
	shift 4
	mkdir -p "$T/$name"
	cat > "$T/$name/mailroom.conf" <<EOF
[server]
hostname = bench.test
data_dir = $T/$name/data
$(mr_user_line)

[listen]
pop3 = 127.0.0.1:$port
pop3s = off
smtp = off
submission = off
submissions = off

[limits]
max_connections_per_ip = 1000
auth_cache_ttl = $cache

[pop3]
plaintext_auth = yes

[directory]
backend = $backend
EOF
	if [ "$backend" = ldap ]; then
		printf '\n[ldap]\n' >> "$T/$name/mailroom.conf"
		printf '%s\n' "$@" >> "$T/$name/mailroom.conf"
	fi
	"$MR" -c "$T/$name/mailroom.conf" init > "$T/$name/init.log" 2>&1 ||
		{ cat "$T/$name/init.log" >&2; exit 1; }
	"$MR" -c "$T/$name/mailroom.conf" domain add bench.test >/dev/null
}

CONFIGS=(builtin-on builtin-off ldap-bind-on ldap-bind-off ldap-compare-on ldap-compare-off)
declare -A PORT
for c in "${CONFIGS[@]}"; do PORT[$c]=$(free_port); done
SLAPD_PORT=$(free_port)
LDAP_KEYS=("uri = ldap://127.0.0.1:$SLAPD_PORT" "base = $BASE" "bind_dn = $SERVICE_DN"
	"bind_password_file = ldap.secret")

mr_conf builtin-on "${PORT[builtin-on]}" builtin 5m
mr_conf builtin-off "${PORT[builtin-off]}" builtin 0
for c in builtin-on builtin-off; do
	for i in $(seq "$USERS"); do
		echo "$PASSWORD" | "$MR" -c "$T/$c/mailroom.conf" user add "$(user "$i")" \
			--password-stdin >/dev/null
	done
done
for mode in bind compare; do
	ab=yes
	[ $mode = compare ] && ab=no
	for cache in on off; do
		ttl=5m
		[ $cache = off ] && ttl=0
		mr_conf "ldap-$mode-$cache" "${PORT[ldap-$mode-$cache]}" ldap $ttl "${LDAP_KEYS[@]}" \
			"auth_bind = $ab"
		s=$T/ldap-$mode-$cache/data/ldap.secret
		echo "$SERVICE_PW" > "$s"
		chmod 640 "$s"
		if grep -q '^user = ' "$T/builtin-on/mailroom.conf"; then
			chown root:"$(sed -n 's/^user = //p' "$T/builtin-on/mailroom.conf")" "$s"
		fi
	done
done

# ---------------------------------------------------------------- slapd
step "slapd on 127.0.0.1:$SLAPD_PORT"
mkdir -p "$T/slapd/db"
cat > "$T/slapd/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $T/slapd/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 67108864
suffix "$BASE"
rootdn "$ROOT_DN"
rootpw $ROOT_PW
directory $T/slapd/db
index objectClass,mail eq
access to attrs=userPassword by dn.exact="$SERVICE_DN" read by anonymous auth by * none
access to * by dn.exact="$SERVICE_DN" read by self read by anonymous auth by * none
EOF
python3 - "$T/builtin-on/data/mailroom.db" "$T/slapd/users.ldif" "$BASE" "$SERVICE_DN" \
	"$SERVICE_PW" <<'PY'
import sqlite3, sys
db, out, base, svc, svc_pw = sys.argv[1:]
rows = sqlite3.connect(db).execute(
    "SELECT address, pw_hash FROM mailboxes WHERE pw_hash IS NOT NULL"
    " AND domain_id IS NOT NULL ORDER BY address").fetchall()
with open(out, "w") as f:
    f.write("dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: bench\ndc: bench\n\n"
            % base)
    f.write("dn: %s\nobjectClass: person\nobjectClass: simpleSecurityObject\ncn: mailroom\n"
            "sn: mailroom\nuserPassword: %s\n\n" % (svc, svc_pw))
    f.write("dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n\n" % base)
    for addr, h in rows:
        uid = addr.split("@")[0]
        f.write("dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\n"
                "sn: %s\nmail: %s\nuserPassword: {CRYPT}%s\n\n" % (uid, base, uid, uid, uid,
                                                                  addr, h))
PY
/usr/sbin/slapd -f "$T/slapd/slapd.conf" -d 0 -h "ldap://127.0.0.1:$SLAPD_PORT/" \
	> "$T/slapd/slapd.log" 2>&1 &
SLAPD_PID=$!
wait_port "$SLAPD_PORT" "$SLAPD_PID" || { cat "$T/slapd/slapd.log" >&2; exit 1; }
ldapadd -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ROOT_DN" -w "$ROOT_PW" \
	-f "$T/slapd/users.ldif" > "$T/slapd/ldapadd.log"
say "slapd pid $SLAPD_PID ($(/usr/sbin/slapd -VV 2>&1 | sed -n 's/.*slapd \([0-9.]*\).*/\1/p' | head -1)), $USERS users"

# ---------------------------------------------------------------- servers
step "mailroom: ${#CONFIGS[@]} servers"
for c in "${CONFIGS[@]}"; do
	"$MR" -c "$T/$c/mailroom.conf" serve > "$T/$c/serve.log" 2>&1 &
	MR_PIDS+=($!)
	wait_port "${PORT[$c]}" "$!" || { cat "$T/$c/serve.log" >&2; exit 1; }
done
failed=0
load() { # config out [pop3load options]
	local c=$1 out=$2
	shift 2
	"$LOAD" -p "${PORT[$c]}" -L "$c" -m "$USERS" -c "$CONCURRENCY" -w "$PASSWORD" \
		-u "$USERFMT" "$@" load > "$out" 2> "$out.err" &
	LOAD_PID=$!
	if wait "$LOAD_PID"; then LOAD_PID=""; return 0; fi
	LOAD_PID=""
	say "$c: errors: $(sed 's/^label=[^ ]* //' "$out")"
	head -5 "$out.err"
	failed=1
}
for c in "${CONFIGS[@]}"; do load "$c" "$T/$c.warm" -r 1; done # LDAP mailboxes made here

step "POP3 logins: $CONCURRENCY clients, USER/PASS + STAT + UIDL + QUIT; $REPEATS x ${RUN_SECONDS} s per configuration, alternating"
for r in $(seq "$REPEATS"); do
	for c in "${CONFIGS[@]}"; do
		load "$c" "$T/$c.load.$r" -d "$RUN_SECONDS"
		say "run $r $c: $(sed -n 's/.*sessions_per_s=\([0-9.]*\).*/\1/p' "$T/$c.load.$r") logins/s"
	done
done

step "summary"
python3 - "$T" "$REPEATS" "${CONFIGS[@]}" <<'PY'
import statistics, sys
T, reps, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def runs(c):
    out = []
    for r in range(1, reps + 1):
        try:
            f = dict(kv.split("=", 1) for kv in open("%s/%s.load.%d" % (T, c, r)).read().split())
            out.append(float(f["sessions_per_s"]))
        except (OSError, KeyError, ValueError):
            out.append(0.0)
    return out
med = {c: statistics.median(runs(c)) for c in configs}
row = "%-14s %16s %16s   %s"
print(row % ("logins/s", "auth cache on", "auth cache off", "runs (on | off)"))
for name in ("builtin", "ldap-bind", "ldap-compare"):
    on, off = name + "-on", name + "-off"
    print(row % (name, "%.0f" % med[on], "%.0f" % med[off],
                 "/".join("%.0f" % x for x in runs(on)) + " | " +
                 "/".join("%.0f" % x for x in runs(off))))
for name in ("ldap-bind", "ldap-compare"):
    for cache in ("on", "off"):
        b = med["builtin-" + cache]
        if b > 0:
            print("%s/builtin, cache %s = %.2f" % (name, cache, med["%s-%s" % (name, cache)] / b))
PY
if [ "$failed" -ne 0 ]; then
	say "run-ldap: some runs had errors; see above"
	KEEP_TMP=1
	exit 1
fi

# SPDX-License-Identifier: MIT
# lib.sh - sourced by the bench scripts.
#
# mr_user_line: the [server] user line a benchmark config needs. Run as
# root, serve binds its listeners and then runs as [server] user, and
# refuses to start without one (docs/admin.md, Privileges): the benchmark
# makes the system user mailroom-bench if it is missing and names it.
# Not root: nothing (serve runs as whoever started it).
# say, step: a line, a heading. wait_gone PID: waits up to 10 s for it to
# exit (1 if it does not). free_port: a TCP port free on 127.0.0.1 now.
# need_positive WHO VAR...: exits 2 unless every VAR holds a number above 0.
# wait_port PORT PID NAME LOG: waits up to 10 s until 127.0.0.1:PORT
# accepts; exits 1 (showing LOG) if process PID ends first or it never does.
# stop_pid PID: SIGTERM, then SIGKILL if it is still there after 10 s.
# bench_build WHO: the bench packages (scripts/deps.sh bench) and a build
# in build/; if the full build fails, the mailroom target alone.
# raise_nofile WHO VAR...: the open-files limit as high as allowed, and each
# VAR (a connection count) lowered to fit under it with 200 to spare.
# finish_tmp WHO: at exit, removes the temporary folder $T, or keeps it
# (and says so) when KEEP_TMP=1.
# mr_conf_head DATA_DIR SERVICE=ADDR...: the [server] and [listen] sections
# of a benchmark's mailroom.conf: the services named listen there, every
# other listener is off.
mr_user_line() {
	[ "$(id -u)" -eq 0 ] || return 0
	if ! id -u mailroom-bench >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin mailroom-bench >&2
	fi
	echo "user = mailroom-bench"
}

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

wait_gone() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

need_positive() {
	local who=$1 v
	shift
	for v in "$@"; do
		case ${!v} in
		'' | *[!0-9]*) echo "$who: $v must be a positive number" >&2; exit 2 ;;
		esac
		[ "${!v}" -gt 0 ] || { echo "$who: $v must be a positive number" >&2; exit 2; }
	done
}

wait_port() {
	local _
	for _ in $(seq 100); do
		kill -0 "$2" 2>/dev/null || { echo "$(basename "$0"): $3 exited; its log:" >&2; cat "$4" >&2; exit 1; }
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "$(basename "$0"): $3 did not open port $1" >&2
	exit 1
}

finish_tmp() {
	if [ "${KEEP_TMP:-0}" = 1 ]; then
		echo "$1: kept $T"
	else
		rm -rf "$T"
	fi
}

stop_pid() {
	kill "$1" 2>/dev/null
	wait_gone "$1" || kill -9 "$1" 2>/dev/null
}

bench_build() {
	step "dependencies and build"
	scripts/deps.sh bench
	if ! scripts/build.sh build; then
		# the benchmark needs the server alone; a failing test target is no reason to stop
		say "$1: full build failed; building the mailroom target only"
		cmake --build build --target mailroom -j"$(nproc)" >/dev/null
	fi
}

raise_nofile() {
	local who=$1 v nofile
	shift
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	nofile=$(ulimit -n)
	for v in "$@"; do
		if [ "${!v}" -gt $((nofile - 200)) ]; then
			say "$who: open files limit is $nofile; $v lowered to $((nofile - 200))"
			printf -v "$v" '%d' $((nofile - 200))
		fi
	done
}

mr_conf_head() {
	local data=$1 svc given a
	shift
	mr_store_section "$data"
	printf '[server]\nhostname = bench.test\ndata_dir = %s\n%s\n\n[listen]\n' "$data" "$(mr_user_line)"
	for svc in smtp submission submissions pop3 pop3s imap imaps; do
		given=off
		for a in "$@"; do
			case $a in "$svc="*) given=${a#*=} ;; esac
		done
		echo "$svc = $given"
	done
}

# STORE=postgresql (default sqlite): mailroom's store in a private
# PostgreSQL 15 instead of SQLite. mr_pg_start starts one for the run
# (tests/common/pgserver.py, 127.0.0.1, fsync and synchronous_commit on, as
# shipped) and mr_pg_stop stops it by its PID; mr_conf_head and
# mr_store_section then give each data dir a schema of its own in it, and
# mr_cpu counts the PostgreSQL processes' CPU with mailroom's.
MR_PG_DIR="" MR_PG_DSN=""
mr_pg_start() {
	[ "${STORE:-sqlite}" = postgresql ] || return 0
	local port
	MR_PG_DIR=$(mktemp -d /tmp/mailroom-benchpg.XXXXXX)
	chmod 755 "$MR_PG_DIR"
	port=$(python3 -c 'import sys; sys.path.insert(0, "tests/common"); import pgserver; print(pgserver.free_port())')
	MR_PG_DSN=$(python3 tests/common/pgserver.py start "$MR_PG_DIR" "$port") || {
		echo "bench: PostgreSQL did not start (scripts/deps.sh test installs it)" >&2
		exit 1
	}
}
mr_pg_stop() {
	[ -n "$MR_PG_DIR" ] || return 0
	python3 tests/common/pgserver.py stop "$MR_PG_DIR" >/dev/null 2>&1 || true
	rm -rf "$MR_PG_DIR"
	MR_PG_DIR=""
}
# mr_store_section DATA_DIR: the [store] section for STORE=postgresql
mr_store_section() {
	[ -n "$MR_PG_DSN" ] || return 0
	printf '[store]\nbackend = postgresql\ndsn = %s?options=-csearch_path%%3Ds%s\n\n' \
		"$MR_PG_DSN" "$(printf '%s' "$1" | cksum | cut -d' ' -f1)"
}
# mr_cpu PID: CPU seconds of mailroom's process tree, and of PostgreSQL's
mr_cpu() {
	local c
	c=$(python3 bench/memtree.py --cpu "$1")
	if [ -n "$MR_PG_DIR" ]; then
		c=$(python3 -c "print($c + $(python3 bench/memtree.py --cpu "$(cat "$MR_PG_DIR/pid")"))")
	fi
	echo "$c"
}

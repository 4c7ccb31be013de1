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

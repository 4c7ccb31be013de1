# SPDX-License-Identifier: MIT
# lib.sh - sourced by the bench scripts.
#
# mr_user_line: the [server] user line a benchmark config needs. Run as
# root, serve binds its listeners and then runs as [server] user, and
# refuses to start without one (docs/admin.md, Privileges): the benchmark
# makes the system user mailroom-bench if it is missing and names it.
# Not root: nothing (serve runs as whoever started it).
mr_user_line() {
	[ "$(id -u)" -eq 0 ] || return 0
	if ! id -u mailroom-bench >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin mailroom-bench >&2
	fi
	echo "user = mailroom-bench"
}

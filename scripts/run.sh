#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - build mailroom, initialise ./mailroom-data with the built-in
# defaults (or ./mailroom.conf if present), and run the server in the
# foreground on 127.0.0.1. Ctrl-C (SIGINT) or SIGTERM stops it.
#
# Run as root, serve binds its listeners and then runs as [server] user
# (docs/admin.md, Privileges), and refuses to start without one. So as root
# this script makes the system user `mailroom` if it is missing and, when
# there is no ./mailroom.conf, writes one that names it. A checkout that the
# user cannot enter (say, below /root) gets its data in /var/lib/mailroom.
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh build
bin=build/mailroom
if [ "$(id -u)" -eq 0 ]; then
	user=mailroom
	if [ -e mailroom.conf ]; then
		user=$($bin config show | sed -n 's/^user = //p')
	fi
	if [ -n "$user" ] && ! id -u "$user" >/dev/null 2>&1; then
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$user"
		echo "run.sh: made the system user $user; serve runs as it"
	fi
	if [ ! -e mailroom.conf ]; then
		data=mailroom-data
		if ! runuser -u "$user" -- test -x "$PWD" 2>/dev/null; then
			data=/var/lib/mailroom
		fi
		cat >mailroom.conf <<CONF
; written by scripts/run.sh, run as root: serve binds its listeners as root,
; then runs as $user (docs/admin.md, Privileges)
[server]
user = $user
data_dir = $data
CONF
		echo "run.sh: wrote ./mailroom.conf (user = $user, data_dir = $data)"
	fi
fi
$bin init
cat <<TXT

mailroom is starting in the foreground (Ctrl-C stops it). In another terminal:

  $bin domain add example.test
  echo 'change-me' | $bin user add alice@example.test --password-stdin
  printf 'Subject: hello\n\nHello Alice.\n' | $bin deliver alice@example.test

  # read it with curl (STLS on 2110, implicit TLS on 2995; the certificate is self-signed)
  curl --ssl-reqd -k -u alice@example.test:change-me pop3://127.0.0.1:2110/1
  curl -k -u alice@example.test:change-me pop3s://127.0.0.1:2995/

  # send (apt-get install swaks libnet-ssleay-perl): inbound SMTP on 2525, submission on 2587
  swaks --server 127.0.0.1:2525 --from someone@elsewhere.test --to alice@example.test
  swaks --server 127.0.0.1:2587 -tls --auth-user alice@example.test --auth-password change-me \\
        --from alice@example.test --to friend@elsewhere.test

  $bin --help        # every admin verb; docs/admin.md has the guide

TXT
exec $bin serve

#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - build mailroom, initialise ./mailroom-data with the built-in
# defaults (or ./mailroom.conf if present), and run the server in the
# foreground on 127.0.0.1. Ctrl-C (SIGINT) or SIGTERM stops it.
set -eu
cd "$(dirname "$0")/.."
scripts/build.sh build
bin=build/mailroom
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

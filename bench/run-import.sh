#!/bin/bash
# SPDX-License-Identifier: MIT
# run-import.sh - how fast `mailroom import maildir` takes a Dovecot Maildir:
# generates N messages of about SIZE octets (LF line ends, as Dovecot stores
# them, so every one is converted to CRLF) in cur/ and new/ with a
# dovecot-uidlist, imports them into an empty mailbox, then imports again
# (everything is there: the resume case). Prints messages/s of each run,
# timed around the whole command (start, directory scan, import, exit).
#
# Run from the top of the tree:  bench/run-import.sh
# Knobs (environment): N=50000 SIZE=4096 REPEATS=3 KEEP_TMP=1
# The summary gives the median of REPEATS fresh imports.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

N=${N:-50000}
SIZE=${SIZE:-4096}
REPEATS=${REPEATS:-3}
KEEP_TMP=${KEEP_TMP:-0}
need_positive run-import N SIZE REPEATS

step "build"
scripts/build.sh build >/dev/null 2>&1 || cmake --build build --target mailroom -j"$(nproc)" >/dev/null
MR=$PWD/build/mailroom

T=$(mktemp -d /tmp/mailroom-import.XXXXXX)
chmod 755 "$T" # run as root, the store (and the import) runs as [server] user
cleanup() { if [ "$KEEP_TMP" = 1 ]; then echo "run-import: kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT

step "generate $N messages of ~$SIZE octets"
/usr/bin/python3 - "$T/Maildir" "$N" "$SIZE" <<'PY'
import os, sys
root, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
line = ("x" * 71) + "\n"
records = []
for i in range(n):
    name = "%d.M%dP1.bench" % (1700000000 + i, i)
    head = ("Return-Path: <a@bench.test>\nFrom: a@bench.test\nTo: b@bench.test\n"
            "Subject: message %d\nMessage-ID: <%d@bench.test>\n\n" % (i, i))
    body = line * max(1, (size - len(head)) // len(line))
    sub = "cur" if i % 2 == 0 else "new"
    fname = name + (":2,S" if sub == "cur" else "")
    with open(os.path.join(root, sub, fname), "w") as f:
        f.write(head + body)
    if i < n * 9 // 10:  # the newest tenth not in the list yet, as after deliveries
        records.append("%d :%s\n" % (i + 1, name))
with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
    f.write("3 V1700000000 N%d G0123456789abcdef\n" % (len(records) + 1))
    f.writelines(records)
PY
du -sh "$T/Maildir" | awk '{print "maildir: " $1}'

rates=()
for r in $(seq 1 "$REPEATS"); do
	step "import $r of $REPEATS"
	rm -rf "$T/data"
	cat >"$T/mailroom.conf" <<CONF
[server]
data_dir = $T/data
$(mr_user_line)
CONF
	[ "$(id -u)" -ne 0 ] || { mkdir -p "$T/data"; chown mailroom-bench: "$T/data"; }
	"$MR" -c "$T/mailroom.conf" init >/dev/null 2>&1
	"$MR" -c "$T/mailroom.conf" domain add bench.test >/dev/null
	echo pw | "$MR" -c "$T/mailroom.conf" user add b@bench.test --password-stdin >/dev/null
	sync
	t0=$(date +%s.%N)
	out=$("$MR" -c "$T/mailroom.conf" import maildir "$T/Maildir" b@bench.test 2>/dev/null)
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	say "$out (the whole command: $secs s)"
	rates+=("$(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%d", n / s }')")
	say "fresh: ${rates[-1]} messages/s"
	t0=$(date +%s.%N)
	out=$("$MR" -c "$T/mailroom.conf" import maildir "$T/Maildir" b@bench.test 2>/dev/null)
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
	say "$out (the whole command: $secs s)"
	say "again (all there): $(awk -v n="$N" -v s="$secs" 'BEGIN { printf "%d", n / s }') messages/s"
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
step "summary"
say "import maildir: $N messages of ~$SIZE octets, median of $REPEATS: $median messages/s"

#!/bin/bash
# SPDX-License-Identifier: MIT
# run-export.sh - how fast a mailbox goes out of mailroom and back:
# `mailroom export maildir`, `export mbox`, and (where `import` exists)
# `import mbox` of that file into a second mailbox.
#
# One mailbox gets MESSAGES messages (2..20 KiB, log-uniform) over SMTP
# (8 connections at once); serve is stopped, then each step runs REPEATS
# times into a fresh place; the summary gives the median messages/s and
# MiB/s (of the wire form). Every step syncs what it wrote before it ends
# (export: one syncfs, import: its commits).
#
# Run from the top of the tree:  bench/run-export.sh
# Knobs (environment): MESSAGES=10000 REPEATS=3 KEEP_TMP=1 (keep the folder)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MESSAGES=${MESSAGES:-10000}
REPEATS=${REPEATS:-3}
KEEP_TMP=${KEEP_TMP:-0}
need_positive run-export MESSAGES REPEATS

step "build"
scripts/build.sh build >/dev/null 2>&1 || cmake --build build --target mailroom -j"$(nproc)" >/dev/null

T=$(mktemp -d /tmp/mailroom-bench-export.XXXXXX)
chmod 755 "$T"
MR_PID=""
cleanup() {
	set +e
	if [ -n "$MR_PID" ]; then
		kill "$MR_PID" 2>/dev/null
		wait_gone "$MR_PID" || kill -9 "$MR_PID" 2>/dev/null
	fi
	wait 2>/dev/null
	if [ "$KEEP_TMP" = 1 ]; then echo "run-export: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MR=build/mailroom
PORT=$(free_port)
MRCONF=$T/mailroom.conf
cat > "$MRCONF" <<EOF
$(mr_conf_head "$T/mailroom-data" "smtp=127.0.0.1:$PORT")

[delivery]
enabled = no
EOF
"$MR" -c "$MRCONF" init > "$T/init.log" 2>&1 || { cat "$T/init.log" >&2; exit 1; }
"$MR" -c "$MRCONF" domain add bench.test >/dev/null
for u in out back; do
	echo bench-pass | "$MR" -c "$MRCONF" user add "$u@bench.test" --password-stdin >/dev/null
done
"$MR" -c "$MRCONF" serve 2> "$T/serve.log" &
MR_PID=$!
for _ in $(seq 100); do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null && break
	sleep 0.1
done

step "mail: $MESSAGES messages into out@bench.test over SMTP"
t0=$(date +%s)
python3 - "$PORT" "$MESSAGES" <<'PY'
import random, smtplib, sys, threading
port, n = int(sys.argv[1]), int(sys.argv[2])
words = ("the of and to in a is that for it as was with be by on not this are or "
         "invoice meeting report budget attached server delivery mailbox schedule").split()
def body(i):
    rnd = random.Random(i)
    size = int(2048 * (10 ** rnd.random()))
    head = ("From: Sender %d <s%d@example.org>\r\nTo: out@bench.test\r\n"
            "Subject: message %d\r\nMessage-ID: <%d@example.org>\r\n\r\n" % (i, i, i, i))
    lines, total = [], len(head)
    while total < size:
        t = " ".join(rnd.choice(words) for _ in range(rnd.randint(6, 12)))
        if rnd.random() < 0.02:
            t = "From " + t  # a From_ line in a body: quoted in the mbox
        lines.append(t)
        total += len(t) + 2
    return head + "\r\n".join(lines) + "\r\n"
def run(k):
    c = smtplib.SMTP("127.0.0.1", port, timeout=60)
    for i in range(k, n, 8):
        c.sendmail("s@example.org", ["out@bench.test"], body(i))
    c.quit()
ts = [threading.Thread(target=run, args=(k,)) for k in range(8)]
for t in ts: t.start()
for t in ts: t.join()
PY
kill "$MR_PID"
wait_gone "$MR_PID" || kill -9 "$MR_PID"
MR_PID=""
say "delivered in $(( $(date +%s) - t0 )) s"
mkdir "$T/out"
[ "$(id -u)" -eq 0 ] && chown mailroom-bench "$T/out"

have_import=0
"$MR" -c "$MRCONF" import --help >/dev/null 2>&1 && have_import=1

: > "$T/times"
for r in $(seq "$REPEATS"); do
	for what in maildir mbox import; do
		case $what in
		maildir) cmd=("$MR" -c "$MRCONF" export maildir out@bench.test "$T/out/md$r") ;;
		mbox) cmd=("$MR" -c "$MRCONF" export mbox out@bench.test "$T/out/mb$r") ;;
		import)
			[ "$have_import" = 1 ] || continue
			"$MR" -c "$MRCONF" user remove back@bench.test >/dev/null
			echo bench-pass | "$MR" -c "$MRCONF" user add back@bench.test --password-stdin >/dev/null
			cmd=("$MR" -c "$MRCONF" import mbox "$T/out/mb$r" back@bench.test) ;;
		esac
		sync
		s=$(date +%s.%N)
		"${cmd[@]}" > "$T/$what.$r.out"
		e=$(date +%s.%N)
		echo "$what $s $e" >> "$T/times"
	done
	rm -rf "$T/out/md$r"
done
octets=$(sed -n 's/.*(\([0-9]*\) octets).*/\1/p' "$T/mbox.1.out")
python3 - "$T/times" "$MESSAGES" "$octets" "$have_import" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n, octets = int(sys.argv[2]), int(sys.argv[3])
print("\n%d messages, %.1f MiB (wire form)" % (n, octets / 1048576))
for what, label in (("maildir", "export maildir"), ("mbox", "export mbox"),
                    ("import", "import mbox")):
    ts = [float(e) - float(s) for w, s, e in rows if w == what]
    if not ts:
        print("%-16s (no `mailroom import` in this build)" % label)
        continue
    t = statistics.median(ts)
    print("%-16s %7.2f s  %8.0f msgs/s  %6.1f MiB/s  (runs: %s)" % (
        label, t, n / t, octets / 1048576 / t, ", ".join("%.2f" % x for x in ts)))
PY

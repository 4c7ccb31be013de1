#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""imapsummary.py - the table at the end of bench/run-imap.sh.

    imapsummary.py RESULTS_DIR REPEATS SIZES

Reads the key=value files run-imap.sh and imapload.py left in RESULTS_DIR
(NAME.logins.PASS, NAME.sync.RUN, NAME.big, NAME.idle for NAME mailroom and
dovecot) and prints one row per figure with both servers and their ratio;
parts that did not run are left out. SIZES is printed above the table.
Timed figures are medians over the REPEATS timed runs; run 0 of the sync
and session 0 of the big folder are the first look, shown apart. Every
ratio is put so that above 1 means mailroom ahead: messages/s as
mailroom/dovecot, seconds, KiB and CPU time as dovecot/mailroom.
"""
import os
import statistics
import sys

NAMES = ("mailroom", "dovecot")


def kv(path):
    try:
        with open(path) as f:
            return dict(w.split("=", 1) for w in f.read().split() if "=" in w) or None
    except OSError:
        return None


def floats(text):
    return [float(x) for x in text.split(",") if x]


def row(label, mr, dc, ratio=""):
    print("| %s | %s | %s | %s |" % (label, mr, dc, ratio))


def ratio(a, b, what):
    """'what = a/b' when both are there."""
    if a is None or b is None or b == 0:
        return ""
    return "%s = **%.3g**" % (what, a / b)


def logins(d):
    for p in ("first", "again"):
        r = [kv(os.path.join(d, "%s.logins.%s" % (n, p))) for n in NAMES]
        if None in r:
            continue
        v = [float(x["cpu_ms_per_login"]) for x in r]
        row("server CPU per login, ms (%s, %s logins)" % (
            "first login of each account" if p == "first" else "the same accounts again",
            r[0]["logins"]), "%.2f" % v[0], "%.2f" % v[1], ratio(v[1], v[0], "dovecot/mailroom"))


def sync(d, reps):
    runs = {n: [kv(os.path.join(d, "%s.sync.%d" % (n, r))) for r in range(reps + 1)]
            for n in NAMES}
    if any(x is None for n in NAMES for x in runs[n]):
        return
    first = [float(runs[n][0]["msgs_per_s"]) for n in NAMES]
    timed = [[float(x["msgs_per_s"]) for x in runs[n][1:]] for n in NAMES]
    med = [statistics.median(t) for t in timed]
    row("mbsync full sync, messages/s (median of %d)" % reps, "%.0f" % med[0], "%.0f" % med[1],
        ratio(med[0], med[1], "mailroom/dovecot"))
    row("mbsync, messages/s (each timed run)", ", ".join("%.0f" % x for x in timed[0]),
        ", ".join("%.0f" % x for x in timed[1]), "")
    row("mbsync, messages/s (first run)", "%.0f" % first[0], "%.0f" % first[1],
        ratio(first[0], first[1], "mailroom/dovecot"))
    secs = [statistics.median(float(x["seconds"]) for x in runs[n][1:]) for n in NAMES]
    row("mbsync, seconds for %s messages in %s folders" % (
        runs["mailroom"][0]["messages"], runs["mailroom"][0]["folders"]),
        "%.2f" % secs[0], "%.2f" % secs[1], "")


def big(d):
    r = [kv(os.path.join(d, "%s.big" % n)) for n in NAMES]
    if r == [None, None]:
        return
    if None in r:  # a server did not answer in time: say which
        for n, x in zip(NAMES, r):
            if x is None:
                with open(os.path.join(d, "%s.big.err" % n)) as f:
                    print("big folder, %s: %s" % (n, f.read().strip().splitlines()[-1]))
        return
    row("big folder: messages (EXISTS / FETCH responses / SEARCH hits)",
        "%s / %s / %s" % (r[0]["exists"], r[0]["fetched"], r[0]["hits"]),
        "%s / %s / %s" % (r[1]["exists"], r[1]["fetched"], r[1]["hits"]), "")
    for key, label in (("select", "SELECT INBOX"), ("fetch", "UID FETCH 1:* (FLAGS)"),
                       ("search", "SEARCH TEXT")):
        v = [statistics.median(floats(x[key])) for x in r]
        row("%s, s (median)" % label, "%.3f" % v[0], "%.3f" % v[1],
            ratio(v[1], v[0], "dovecot/mailroom"))
        f = [float(x["first_" + key]) for x in r]
        row("%s, s (first session after start)" % label, "%.3f" % f[0], "%.3f" % f[1], "")


def idle(d):
    r = [kv(os.path.join(d, "%s.idle" % n)) for n in NAMES]
    if None in r:
        return
    per, cpu = [], []
    for x in r:
        n = min(int(x["held"]), int(x.get("established", x["held"])))
        per.append((int(x["pss_held"]) - int(x["pss_before"])) / n if n else None)
        cpu.append(1000.0 * float(x["cpu_s"]) / n if n else None)
    row("IDLE sessions held (of requested)", "%s of %s" % (r[0]["held"], r[0]["requested"]),
        "%s of %s" % (r[1]["held"], r[1]["requested"]), "")
    row("KiB per IDLE session (PSS of all processes)",
        *["%.1f" % p if p is not None else "-" for p in per],
        ratio(per[1], per[0], "dovecot/mailroom"))
    row("processes while held", r[0]["procs_held"], r[1]["procs_held"], "")
    row("server CPU per session set up (LOGIN, SELECT, IDLE), ms",
        *["%.2f" % c if c is not None else "-" for c in cpu],
        ratio(cpu[1], cpu[0], "dovecot/mailroom"))


def main():
    d, reps, sizes = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(sizes)
    print()
    row("", "mailroom", "Dovecot", "")
    print("|---|---|---|---|")
    logins(d)
    sync(d, reps)
    big(d)
    idle(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: MIT
"""memtree.py - memory of a process and all its descendants, from /proc.

    python3 bench/memtree.py PID     prints "PSS_KiB RSS_KiB processes"

PSS (proportional set size, /proc/PID/smaps_rollup) shares each shared page
among the processes that map it, so a library mapped by a thousand Dovecot
processes is counted once; the RSS sum counts it in every process.
"""
import os
import sys


def tree(root):
    """(PSS KiB, RSS KiB, processes) of root and its descendants."""
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    pending, pss, rss, n = [root], 0, 0, 0
    while pending:
        p = pending.pop()
        pending += kids.get(p, [])
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
            n += 1
        except OSError:
            pass
    return pss, rss, n


if __name__ == "__main__":
    print("%d %d %d" % tree(int(sys.argv[1])))

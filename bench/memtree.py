# SPDX-License-Identifier: MIT
"""memtree.py - memory and CPU time of a process and all its descendants,
from /proc.

    python3 bench/memtree.py PID       prints "PSS_KiB RSS_KiB processes"
    python3 bench/memtree.py --cpu PID prints the CPU seconds of the tree

The CPU time of a process tree (cpu()) is utime + stime of every live
process in it plus cutime + cstime, the time of children it has reaped: a
Dovecot login or imap process that ended during a measurement is counted
through its master.

PSS (proportional set size, /proc/PID/smaps_rollup) shares each shared page
among the processes that map it, so a library mapped by a thousand Dovecot
processes is counted once; the RSS sum counts it in every process.
"""
import os
import sys


def _children():
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def _descendants(root):
    """root and every process below it."""
    kids, pending, out = _children(), [root], []
    while pending:
        p = pending.pop()
        pending += kids.get(p, [])
        out.append(p)
    return out


def tree(root):
    """(PSS KiB, RSS KiB, processes) of root and its descendants."""
    pss, rss, n = 0, 0, 0
    for p in _descendants(root):
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


def cpu(root):
    """CPU seconds (user + system, with reaped children) of root's tree."""
    ticks = 0
    for p in _descendants(root):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, ValueError, IndexError):
            pass
    return ticks / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    if sys.argv[1] == "--cpu":
        print("%.2f" % cpu(int(sys.argv[2])))
    else:
        print("%d %d %d" % tree(int(sys.argv[1])))

#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mkmaildir.py - a Maildir of N plain-text messages, as Dovecot's LDA
writes them, for the IMAP benchmark (bench/run-imap.sh).

    mkmaildir.py DIR N MIN_OCTETS MAX_OCTETS WORD EVERY

Messages are MIN_OCTETS to MAX_OCTETS long (log-uniform, LF line ends),
with English-like text; every EVERY-th message (the 1st, the EVERY+1-th, ...)
has WORD once in its body, and no other message has it anywhere, so SEARCH
TEXT WORD finds ceil(N / EVERY) messages. All are in cur/ under names with
S= (size) and W= (size with CRLF), two in three seen (":2,S"), the rest with
no flag; the same seed gives the same mail on every run.
"""
import os
import random
import sys

WORDS = ("the of and to in a is that for it as was with be by on not he this are or his "
         "from at which but have an they you were her she there been one all we their "
         "has would when if so no will more can about out up said what its invoice "
         "meeting quarterly report budget attached server delivery mailbox schedule "
         "review project customer order shipment thanks regards").split()
SENDERS = ("Alice Martin", "Bob Chen", "Carol Diaz", "Dan Novak", "Eve Larsen",
           "Frank Okafor", "Grace Ito", "Heidi Weber")
SUBJECTS = ("Quarterly report", "Invoice", "Meeting notes", "Delivery schedule",
            "Project review", "Re: order")


def message(rnd, i, size, word):
    name = rnd.choice(SENDERS)
    addr = name.split()[0].lower() + "@example.org"
    head = ("From: %s <%s>\nTo: user@bench.test\nSubject: %s %d\n"
            "Date: Tue, %d Nov 2026 %02d:%02d:%02d +0000\n"
            "Message-ID: <%d.%08x@example.org>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            % (name, addr, rnd.choice(SUBJECTS), i, 1 + i % 28, i % 24, i % 60,
               i * 7 % 60, i, rnd.getrandbits(32)))
    lines, total = [], len(head)
    at = rnd.randint(0, 3) if word else -1  # the line that gets the word
    while total < size or len(lines) <= at:
        text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 12)))
        if len(lines) == at:
            text += " " + word
        lines.append(text)
        total += len(text) + 1
    return head + "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    root, n, lo, hi, word, every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    if word in WORDS or n < 1 or lo < 1 or hi < lo or every < 1:
        print("mkmaildir: bad arguments (WORD must not be a filler word)", file=sys.stderr)
        return 2
    rnd = random.Random(9051)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    base = 1764000000
    for i in range(n):
        size = int(lo * (hi / lo) ** rnd.random())
        text = message(rnd, i, size, word if i % every == 0 else "").encode()
        flags = "S" if i % 3 else ""
        name = "%d.M%dP%d.bench.test,S=%d,W=%d:2,%s" % (
            base + i, i, 1000 + i % 997, len(text), len(text) + text.count(b"\n"), flags)
        with open(os.path.join(root, "cur", name), "wb") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

# SPDX-License-Identifier: MIT
"""SEARCH and FETCH on a folder larger than one worker job's share: SEARCH
runs in parts of 4,096 messages (or 8 MiB of text) and FETCH in batches of
1,024 (flags) or 64 (bodies) whose UIDs lie within 4,096 of each other
(docs/imap.md, "Limits"). 10,000 messages of about 1.2 KB each, imported
from an mbox, are searched by text, by flag and by UID set, and fetched
whole and sparsely; every answer is checked against what the test itself
knows of the messages.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Server, run_tests  # noqa: E402

USER = "big@example.test"
N = 10000
FILLER = "".join("filler line %02d of the message body, nothing to find\n" % i
                 for i in range(22))


def write_mbox(path):
    with open(path, "w") as f:
        for i in range(1, N + 1):
            word = "needle%d" % (i % 7)
            f.write("From sender@example.test Thu Jan  1 00:00:00 2026\n"
                    "From: sender@example.test\nTo: %s\nSubject: message %d\n"
                    "Message-ID: <big%d@example.test>\n\n%s%s\n\n" % (USER, i, i, FILLER, word))


def uids(data):
    return [int(x) for x in data[0].split()]


def test_large_folder_search_and_fetch():
    with Server(imap=True) as srv:
        srv.add_user(USER)
        mbox = os.path.join(srv.dir, "big.mbox")
        write_mbox(mbox)
        subprocess.run([BIN, "-c", srv.conf, "import", "mbox", mbox, USER], check=True,
                       stdout=subprocess.DEVNULL)
        srv.start()
        c = srv.imaplib_ssl(USER)
        typ, data = c.select("INBOX")
        assert int(data[0]) == N, data
        typ, data = c.uid("SEARCH", "ALL")
        all_uids = uids(data)
        assert len(all_uids) == N and all_uids == sorted(all_uids)
        # text: every seventh message, across the parts of the search
        typ, data = c.uid("SEARCH", "BODY", "needle3")
        assert uids(data) == [all_uids[i - 1] for i in range(1, N + 1) if i % 7 == 3]
        typ, data = c.search(None, "TEXT", "needle0")
        assert [int(x) for x in data[0].split()] == [i for i in range(1, N + 1) if i % 7 == 0]
        # flags on a scattered set, then found by a flag key
        flagged = [1, 2, 4097, 4098, 8191, 9999, N]
        typ, _ = c.store(",".join(map(str, flagged)), "+FLAGS", "(\\Flagged)")
        assert typ == "OK"
        typ, data = c.search(None, "FLAGGED")
        assert [int(x) for x in data[0].split()] == flagged
        typ, data = c.search(None, "UNFLAGGED", "BODY", "needle1")
        want = [i for i in range(1, N + 1) if i % 7 == 1 and i not in flagged]
        assert [int(x) for x in data[0].split()] == want
        # FETCH FLAGS of the whole folder, and a sparse UID set's bodies
        typ, data = c.fetch("1:*", "(UID FLAGS)")
        assert typ == "OK" and len(data) == N
        seen_flagged = [i + 1 for i, d in enumerate(data) if b"\\Flagged" in d]
        assert seen_flagged == flagged
        sparse = [all_uids[0], all_uids[5000], all_uids[N - 1]]
        typ, data = c.uid("FETCH", ",".join(map(str, sparse)), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
        assert subjects == [b"Subject: message 1", b"Subject: message 5001",
                            b"Subject: message %d" % N], subjects
        c.logout()


if __name__ == "__main__":
    run_tests(globals())

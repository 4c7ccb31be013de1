# SPDX-License-Identifier: MIT
"""IMAP IDLE under a stream of changes: memory stays bounded and every
idling session hears every change (tests/proto/idle_soak.py).

The short form run here: 60 sessions on 12 mailboxes for 40 s, with a
delivery every 0.2 s over SMTP and every 2 s by `mailroom deliver`
(seen by IDLE's look every 2 s, [imap] idle_check), a flag change every 0.5 s, a POP3 deletion every 4 s
and every session re-issuing IDLE every 8 s. docs/imap.md gives the
hours-long form and its figures.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idle_soak  # noqa: E402
from harness import run_tests  # noqa: E402


def test_idle_under_changes_bounded():
    r = idle_soak.run(idle_soak.parse_args([
        "--seconds", "40", "--users", "12", "--sessions", "60", "--reidle", "8",
        "--deliver-every", "0.2", "--flag-every", "0.5", "--expunge-every", "4",
        "--cli-every", "2", "--idle-check", "2",
        "--sample", "5", "--seed", "7"]))
    assert r["ok"], r["failures"]
    assert r["delivered"] >= 100 and r["reidles"] >= 3, r
    assert r["events_seen"] >= r["delivered"], r


if __name__ == "__main__":
    run_tests(globals())

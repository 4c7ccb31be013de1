# SPDX-License-Identifier: MIT
"""ENVELOPE, BODY and BODYSTRUCTURE against a real Dovecot (Debian
dovecot-imapd, a private instance on loopback): every message of
tests/fixtures/mime/ goes into a Maildir that Dovecot serves over IMAP, and
`FETCH n (ENVELOPE BODY BODYSTRUCTURE)` (imaplib) must give, item by item,
the bytes mailroom renders for the same file (tests/tools/imap_struct_dump,
which renders from the tree after a serialise/deserialise round trip).

Where an exact match is not wanted, ALLOWED below names the message, the
item and the one difference, with the reason; docs/imap.md ("ENVELOPE and
BODYSTRUCTURE") lists the same. Anything else that differs fails the test.
Exit 77 only when Dovecot's imap binary is not installed.
"""
import imaplib
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dovecot import Dovecot, need_dovecot_imap  # noqa: E402
from harness import SRC, run_tests  # noqa: E402

imaplib._MAXLINE = 1 << 22  # the long header lines of 18-long-header-lines
TOOLS = os.environ.get("MAILROOM_TOOLS", "build")
DUMP = os.path.join(TOOLS, "imap_struct_dump")
FIXTURES = os.path.join(SRC, "tests", "fixtures", "mime")
USER, PASSWORD = "struct", "struct-pw"
ITEMS = ("ENVELOPE", "BODY", "BODYSTRUCTURE")


def leaf_at_depth(depth):
    """Allowed: the multipart at `depth` (first children all the way down)
    is, in ours, an "application" "octet-stream" leaf; all else equal."""
    def check(a, b):
        ta, tb = parse_value(a, 0)[0], parse_value(b, 0)[0]
        pa, pb = ta, tb
        for _ in range(depth):
            if not (isinstance(pa, list) and isinstance(pb, list)):
                return False
            pa, pb = pa[0], pb[0]
        if pa[:2] != [b"application", b"octet-stream"] or not isinstance(pb[0], list):
            return False
        pa[:] = pb  # put Dovecot's subtree in and compare the rest
        return ta == tb
    return check


# (message, item) -> (why, check(ours, dovecot's)): each a deliberate
# difference, also in docs/imap.md ("ENVELOPE and BODYSTRUCTURE").
DEPTH = ("mailroom keeps no part deeper than MIME_MAX_DEPTH (32); Dovecot's "
         "limit is 100 levels. The part at the limit is a leaf, shown as "
         "application/octet-stream as Dovecot shows its own truncated parts")
ALLOWED = {
    ("37-beyond-depth.eml", "BODY"): (DEPTH, leaf_at_depth(32)),
    ("37-beyond-depth.eml", "BODYSTRUCTURE"): (DEPTH, leaf_at_depth(32)),
}


def fixtures():
    return sorted(n for n in os.listdir(FIXTURES) if n.endswith(".eml"))


def wire_size(data):
    """The size Dovecot reports for a message: every bare LF counted as CRLF."""
    return len(data) + data.count(b"\n") - data.count(b"\r\n")


def ours(names):
    """{name: {item: bytes}} from the dump tool."""
    paths = [os.path.join(FIXTURES, n) for n in names]
    p = subprocess.run([DUMP] + paths, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    out, pos, result = p.stdout, 0, {}
    for _ in range(len(names)):
        eol = out.index(b"\n", pos)
        line = out[pos:eol].decode()
        assert line.startswith("FILE "), line
        name = os.path.basename(line[5:])
        pos = eol + 1
        result[name] = {}
        for _ in ITEMS:
            eol = out.index(b"\n", pos)
            item, length = out[pos:eol].decode().split()
            start = eol + 1
            result[name][item] = out[start:start + int(length)]
            pos = start + int(length) + 1
    assert pos == len(out), "trailing output"
    return result


def raw_fetch(data):
    """The text of one FETCH response as it came (imaplib splits it at
    literals into (text, literal) pairs)."""
    raw = b""
    for part in data:
        if isinstance(part, tuple):
            raw += part[0] + b"\r\n" + part[1]
        else:
            raw += part
    return raw


def parse_value(s, i):
    """(value, end) of the IMAP value at s[i:]: a list, bytes for an atom,
    a number or a string, None for NIL."""
    c = s[i:i + 1]
    if c == b"(":
        i += 1
        items = []
        for _ in range(len(s)):
            if s[i:i + 1] == b")":
                return items, i + 1
            v, i = parse_value(s, i)
            items.append(v)
            if s[i:i + 1] == b" ":
                i += 1
        raise AssertionError("unbalanced list")
    if c == b'"':
        i += 1
        out = b""
        while s[i:i + 1] != b'"':
            assert i < len(s), "unterminated quoted string"
            if s[i:i + 1] == b"\\":
                i += 1
            out += s[i:i + 1]
            i += 1
        return out, i + 1
    if c == b"{":
        close = s.index(b"}", i)
        n = int(s[i + 1:close])
        assert s[close + 1:close + 3] == b"\r\n"
        start = close + 3
        return s[start:start + n], start + n
    j = i
    while j < len(s) and s[j:j + 1] not in (b" ", b")"):
        j += 1
    return (None if s[i:j] == b"NIL" else s[i:j]), j


def items_of(raw):
    """{item: bytes} of "seq (NAME value NAME value ...)"."""
    i = raw.index(b"(") + 1
    result = {}
    for _ in range(16):
        if raw[i:i + 1] == b")":
            break
        sp = raw.index(b" ", i)
        name = raw[i:sp].decode()
        end = parse_value(raw, sp + 1)[1]
        result[name] = raw[sp + 1:end]
        i = end + (raw[end:end + 1] == b" ")
    assert raw[i:] == b")", raw[i:]
    return result


def dovecot_answers(dc, names, datas):
    """{name: {item: bytes}} over IMAP; each message checked to be the one
    expected by its size (Dovecot numbers Maildir files by their names)."""
    c = imaplib.IMAP4("127.0.0.1", dc.imap_port, timeout=30)
    try:
        c.login(USER, PASSWORD)
        typ, data = c.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == len(names), data
        result = {}
        for seq, name in enumerate(names, 1):
            typ, data = c.fetch(str(seq), "(RFC822.SIZE)")
            assert typ == "OK", data
            size = int(raw_fetch(data).split(b"RFC822.SIZE ")[1].rstrip(b")"))
            assert size == wire_size(datas[name]), (name, size)
            typ, data = c.fetch(str(seq), "(ENVELOPE BODY BODYSTRUCTURE)")
            assert typ == "OK", (name, data)
            result[name] = items_of(raw_fetch(data))
        c.logout()
        return result
    finally:
        try:
            c.shutdown()
        except OSError:
            pass


def test_same_as_dovecot():
    names = fixtures()
    assert len(names) >= 25, names
    datas = {}
    for n in names:
        with open(os.path.join(FIXTURES, n), "rb") as f:
            datas[n] = f.read()
    mine = ours(names)
    with Dovecot({USER: PASSWORD}, protocols="imap") as dc:
        md = dc.maildir_of(USER)
        for i, n in enumerate(names):
            fname = "%d.M%dP1.mailroom-test:2,S" % (1700000000 + i, i)
            with open(os.path.join(md, "cur", fname), "wb") as f:
                f.write(datas[n])
        dc.own()
        theirs = dovecot_answers(dc, names, datas)
    equal, allowed, failures, used = 0, [], [], set()
    for n in names:
        same = True
        for item in ITEMS:
            a, b = mine[n][item], theirs[n].get(item)
            if a == b:
                continue
            same = False
            allow = ALLOWED.get((n, item))
            if allow is not None and allow[1](a, b):
                used.add((n, item))
                allowed.append("%s %s: %s" % (n, item, allow[0]))
                continue
            failures.append("%s %s\n  ours:    %r\n  dovecot: %r" % (n, item, a, b))
        equal += same
    print("%d of %d messages equal on all three items; %d allowed differences"
          % (equal, len(names), len(allowed)))
    for line in allowed:
        print("  allowed: " + line)
    assert not failures, "\n".join(failures)
    unused = sorted(set(ALLOWED) - used)
    assert not unused, "allowances no longer needed: %r" % unused


if __name__ == "__main__":
    need_dovecot_imap()
    run_tests(globals())

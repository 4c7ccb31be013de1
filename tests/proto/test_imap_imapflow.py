# SPDX-License-Identifier: MIT
"""imapflow, the Node.js IMAP client from the npm registry, against `mailroom
serve`: logins over STARTTLS and implicit TLS with the server's certificate
as the CA, a full sync of several folders, IDLE seeing a delivery, another
session's flag change and a POP3 deletion, and a QRESYNC reopen that gets
exactly the changes made meanwhile.

The client script is tests/proto/node/imapflow_test.mjs; its package.json and
package-lock.json pin imapflow 1.7.8 (the last release that runs on Node 18,
Debian 12's nodejs) and its dependencies. `npm ci` installs them into the
build dir (node-imapflow/, its cache beside), never into the source tree; the
registry must be reachable, as here and in CI."""
import hashlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"
NODE_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
NODE_DIR = os.path.join(os.path.abspath(os.environ.get("MAILROOM_TOOLS", "build")),
                        "node-imapflow")
SCRIPT = "imapflow_test.mjs"
_installed = []


def install():
    """npm ci of the pinned imapflow into NODE_DIR, once per run."""
    if _installed:
        return
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            print("%s is not installed (scripts/deps.sh test)" % tool)
            sys.exit(77)
    os.makedirs(NODE_DIR, exist_ok=True)
    for name in ("package.json", "package-lock.json", SCRIPT):
        shutil.copyfile(os.path.join(NODE_SRC, name), os.path.join(NODE_DIR, name))
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--no-update-notifier",
                        "--cache", os.path.join(NODE_DIR, "npm-cache")],
                       cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300)
    assert p.returncode == 0, "npm ci failed (%d): %s" % (
        p.returncode, p.stdout.decode(errors="replace")[-3000:])
    _installed.append(True)


def config(srv, **extra):
    cfg = {"host": "127.0.0.1", "imapPort": srv.imap_port, "imapsPort": srv.imaps_port,
           "ca": os.path.join(srv.dir, "data", "tls", "cert.pem"),
           "servername": "mail.example.test", "user": ALICE, "pass": PASSWORD,
           "timeout": 45}
    cfg.update(extra)
    return cfg


def run_node(scenario, cfg, answer=None, timeout=60):
    """Runs one scenario; answer(step, request) does what the script asks
    and returns the dict sent back. Returns the script's result."""
    install()
    err_path = os.path.join(NODE_DIR, "stderr-%s.log" % scenario)
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(["node", SCRIPT, scenario, json.dumps(cfg)], cwd=NODE_DIR,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    result = None
    transcript = []

    def stderr_tail():
        with open(err_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]
    try:
        while result is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("node %s: no result within %d s; %s\n%s" % (
                    scenario, timeout, transcript, stderr_tail()))
            if not sel.select(timeout=min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("node %s ended without a result (rc %s); %s\n%s" % (
                    scenario, proc.wait(timeout=10), transcript, stderr_tail()))
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                transcript.append(msg)
                if "error" in msg:
                    raise AssertionError("node %s: %s\n%s" % (scenario, msg, stderr_tail()))
                if "result" in msg:
                    result = msg["result"]
                    break
                assert answer is not None, msg
                reply = answer(msg["ask"], msg) or {}
                proc.stdin.write((json.dumps(reply) + "\n").encode())
                proc.stdin.flush()
        rc = proc.wait(timeout=10)
        assert rc == 0, (rc, stderr_tail())
        return result
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdin.close()
        proc.stdout.close()


def msg(n, extra=""):
    return ("From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: note %d\r\n"
            "Date: Tue, 01 Dec 2026 10:%02d:00 +0000\r\n"
            "Message-ID: <n%d@example.test>\r\n%s\r\nBody of note %d.\r\n"
            % (n, n, n, extra, n)).encode()


MULTIPART = (b"From: Carol <carol@example.test>\r\nTo: alice@example.test\r\n"
             b"Subject: with a picture\r\nMessage-ID: <mp@example.test>\r\n"
             b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
             b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the picture.\r\n"
             b"--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             b"iVBORw0KGgo=\r\n--b1--\r\n")


def server(n, smtp=False):
    srv = Server(imap=True, smtp=smtp)
    srv.add_user(ALICE)
    for i in range(1, n + 1):
        srv.deliver(ALICE, msg(i))
    return srv.start()


def test_auth_starttls_and_tls():
    with server(2) as srv:
        r = run_node("auth", config(srv))
        for kind in ("starttls", "tls"):
            assert r[kind]["authenticated"] and r[kind]["secure"], r
            assert r[kind]["imap4rev2"] and r[kind]["idle"] and r[kind]["qresync"], r
            assert r[kind]["inbox"] == 2, r
        assert r["wrongPassword"] == "authenticationFailed", r
        assert r["plaintext"] == "authenticationFailed", r
        # Node's own CAs do not know the self-signed certificate
        assert r["untrusted"] in ("DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN"), r


def test_full_sync():
    with server(3) as srv:
        srv.deliver(ALICE, MULTIPART)
        c = srv.imaplib_ssl(ALICE)
        placed = {"INBOX": [msg(1), msg(2), msg(3), MULTIPART]}
        for folder, ns in (("Archive", (11, 12)), ("Sent", (21,)), ("Projects/2026", (31, 32))):
            if folder not in ("Archive", "Sent"):
                assert c.create(folder)[0] == "OK"
            placed[folder] = []
            for n in ns:
                typ, data = c.append(folder, "(\\Seen)" if n % 2 else None, None, msg(n))
                assert typ == "OK", data
                placed[folder].append(msg(n))
        c.select("INBOX")
        assert c.store("2", "+FLAGS", "(\\Flagged $Work)")[0] == "OK"
        c.logout()
        r = run_node("sync", config(srv))["folders"]
        assert set(r) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Projects",
                          "Projects/2026"}, sorted(r)
        assert r["Sent"]["specialUse"] == "\\Sent" and r["Archive"]["specialUse"] == "\\Archive"
        assert r["INBOX"]["delimiter"] == "/"
        for folder, f in r.items():
            want = placed.get(folder, [])
            if folder == "Projects" and "exists" not in f:
                continue  # listed as the parent of Projects/2026
            assert f["status"]["messages"] == f["exists"] == len(want), (folder, f)
            assert f["status"]["uidValidity"] == f["uidValidity"], (folder, f)
            got = f["messages"]
            assert [m["sourceSha256"] for m in got] == \
                [hashlib.sha256(b).hexdigest() for b in want], (folder, got)
            assert [m["size"] for m in got] == [len(b) for b in want], (folder, got)
            assert [m["seq"] for m in got] == list(range(1, len(want) + 1))
            uids = [m["uid"] for m in got]
            assert uids == sorted(uids) and (not uids or f["status"]["uidNext"] > uids[-1])
        inbox = r["INBOX"]["messages"]
        assert [m["subject"] for m in inbox] == ["note 1", "note 2", "note 3", "with a picture"]
        assert inbox[0]["from"] == ["bob@example.test"] and inbox[0]["to"] == [ALICE]
        assert inbox[0]["messageId"] == "<n1@example.test>", inbox[0]
        assert inbox[1]["flags"] == ["$Work", "\\Flagged"], inbox[1]
        assert inbox[0]["structure"]["type"] == "text/plain", inbox[0]
        assert inbox[3]["structure"]["type"] == "multipart/mixed", inbox[3]
        assert [p["type"] for p in inbox[3]["structure"]["parts"]] == ["text/plain", "image/png"]
        assert inbox[3]["structure"]["parts"][1]["encoding"] == "base64", inbox[3]
        assert r["INBOX"]["status"]["unseen"] == 4, r["INBOX"]["status"]
        assert [m["flags"] for m in r["Archive"]["messages"]] == [["\\Seen"], []]
        assert r["Archive"]["status"]["unseen"] == 1


def idle_answer(srv):
    def answer(step, req):
        if step == "deliver":
            c = srv.smtp()
            c.sendmail("bob@example.test", [ALICE], msg(9))
            c.quit()
            return {}
        if step == "flag":
            c = srv.imaplib_stls(ALICE)
            c.select("INBOX")
            typ, data = c.uid("STORE", str(req["uid"]), "+FLAGS", "(\\Flagged)")
            assert typ == "OK", data
            c.logout()
            return {"uid": req["uid"]}
        if step == "pop3-delete":
            p = srv.poplib_stls(ALICE)
            uidl = p.uidl(1)
            p.dele(1)
            p.quit()
            return {"uidl": uidl.decode()}
        raise AssertionError(step)
    return answer


def check_idle(r, vanished):
    assert r["exists0"] == 3, r
    assert r["stillIdling"], r
    ev = r["events"]
    assert ev["exists"][0] == {"count": 4, "prevCount": 3}, ev
    assert [e["flags"] for e in ev["flags"] if e["uid"] == r["flaggedUid"]] == [["\\Flagged"]], ev
    assert len(ev["expunge"]) == 1, ev
    e = ev["expunge"][0]
    if vanished:
        assert e["vanished"] and not e["earlier"] and e["uid"] == r["firstUid"], ev
    else:
        # imapflow counts `exists` down on EXPUNGE only, not on VANISHED
        assert not e["vanished"] and e["seq"] == 1, ev
        assert r["existsAfter"] == 3, r


def test_idle_exists_flags_expunge():
    with server(3, smtp=True) as srv:
        r = run_node("idle", config(srv), idle_answer(srv))
        check_idle(r, vanished=False)


def test_idle_qresync_vanished():
    with server(3, smtp=True) as srv:
        r = run_node("idle", config(srv, qresync=True), idle_answer(srv))
        assert "QRESYNC" in r["enabled"], r
        check_idle(r, vanished=True)


def test_qresync_reopen():
    with server(5) as srv:
        def answer(step, req):
            assert step == "change"
            uids = req["uids"]
            c = srv.imaplib_ssl(ALICE)
            c.select("INBOX")
            assert c.uid("STORE", str(uids[1]), "+FLAGS", "(\\Seen)")[0] == "OK"
            assert c.uid("STORE", str(uids[3]), "+FLAGS", "($Important)")[0] == "OK"
            assert c.uid("STORE", "%d,%d" % (uids[0], uids[2]), "+FLAGS", "(\\Deleted)")[0] == "OK"
            assert c.expunge()[0] == "OK"
            c.logout()
            return {"flagged": [uids[1], uids[3]], "expunged": [uids[0], uids[2]]}
        r = run_node("qresync", config(srv), answer)
        assert "QRESYNC" in r["enabled"] and "CONDSTORE" in r["enabled"], r
        assert len(r["uids"]) == 5, r
        ch = r["changes"]
        assert r["reopen"]["qresync"] and r["reopen"]["uidValidity"] == r["uidValidity"], r
        assert r["reopen"]["exists"] == 3, r
        base, top = int(r["highestModseq"]), int(r["reopen"]["highestModseq"])
        assert top > base, r
        sel = r["atSelect"]
        # VANISHED (EARLIER) with exactly the two expunged UIDs
        assert sorted(e["uid"] for e in sel["expunge"]) == ch["expunged"], sel
        assert all(e["vanished"] and e["earlier"] for e in sel["expunge"]), sel
        # FETCH with MODSEQ for exactly the two changed messages
        assert sorted(e["uid"] for e in sel["flags"]) == ch["flagged"], sel
        flags = {e["uid"]: e["flags"] for e in sel["flags"]}
        assert flags == {ch["flagged"][0]: ["\\Seen"], ch["flagged"][1]: ["$Important"]}, sel
        assert all(base < int(e["modseq"]) <= top for e in sel["flags"]), sel
        # UID FETCH (CHANGEDSINCE ... VANISHED): the same two, and the two gone
        assert sorted(m["uid"] for m in r["changedSince"]) == ch["flagged"], r
        assert all(base < int(m["modseq"]) <= top for m in r["changedSince"]), r
        assert sorted(e["uid"] for e in r["afterFetch"]["expunge"]) == ch["expunged"], r
        assert all(e["earlier"] for e in r["afterFetch"]["expunge"]), r


if __name__ == "__main__":
    run_tests(globals())

# SPDX-License-Identifier: MIT
"""[server] user (SPEC §7): started as root, serve binds its listeners and
then runs as that user, with root out of reach; as root without it, serve
refuses; the data dir's owner is checked with a message that says what to
run; the CLI run as root works on the store as that user; init gives the
data dir to it. Run as root (CI does); as another user only the non-root
rules are tried."""
import grp
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BIN, PASSWORD, TEST_USER, Server, check_sanitizer,  # noqa: E402
                     run_tests, unprivileged_user)

ALICE = "alice@example.test"
ROOT = os.geteuid() == 0


def mr(*args, stdin=None, timeout=30, binary=BIN, **kw):
    """One mailroom command; serve that wrongly starts is stopped by timeout."""
    try:
        p = subprocess.run([binary] + list(args), input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise AssertionError("mailroom %s did not exit within %d s" % (args, timeout))
    check_sanitizer(p.stderr.decode(errors="replace"), "mailroom " + " ".join(args))
    return p


def account():
    pw = pwd.getpwnam(unprivileged_user())
    return pw.pw_uid, pw.pw_gid


def set_key(conf, section, key, value):
    """Rewrites `key` in `section` of the config file (None removes it)."""
    out, sec, done = [], None, False
    with open(conf) as f:
        for line in f.read().splitlines():
            m = re.match(r"\[(\w+)\]", line)
            if m:
                if sec == section and not done and value is not None:
                    out.append("%s = %s" % (key, value))
                    done = True
                sec = m.group(1)
            elif sec == section and line.split("=")[0].strip() == key:
                if value is not None and not done:
                    out.append("%s = %s" % (key, value))
                done = True
                continue
            out.append(line)
    if not done and value is not None:
        if sec != section:
            out.append("[%s]" % section)
        out.append("%s = %s" % (key, value))
    with open(conf, "w") as f:
        f.write("\n".join(out) + "\n")


def line_of(conf, key):
    with open(conf) as f:
        for n, line in enumerate(f, 1):
            if line.split("=")[0].strip() == key:
                return n
    raise AssertionError("%s not in %s" % (key, conf))


def owners(top):
    """(path, uid, gid) of top and everything below it, links not followed."""
    out = [(top, os.lstat(top).st_uid, os.lstat(top).st_gid)]
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            st = os.lstat(os.path.join(d, n))
            out.append((os.path.join(d, n), st.st_uid, st.st_gid))
    return out


def status_ids(pid):
    """Uid, Gid, Groups, CapPrm, CapEff, NoNewPrivs of every thread of pid."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            kv = dict(ln.split(":", 1) for ln in f.read().splitlines() if ":" in ln)
        out.append({k: kv[k].split() for k in ("Uid", "Gid", "Groups", "CapPrm", "CapEff",
                                                 "CapAmb", "NoNewPrivs")})
    return out


def test_serve_runs_as_the_user():
    if not ROOT:
        return
    uid, gid = account()
    with Server(smtp=True) as srv:
        srv.add_user(ALICE)
        srv.start()
        threads = status_ids(srv.proc.pid)
        assert len(threads) > 1  # the loop, the workers and the queue run as the user
        for t in threads:
            assert t["Uid"] == [str(uid)] * 4, t
            assert t["Gid"] == [str(gid)] * 4, t
            assert "0" not in t["Groups"], t  # root's groups are gone too
            assert t["CapPrm"] == t["CapEff"] == t["CapAmb"] == ["0000000000000000"], t
            assert t["NoNewPrivs"] == ["1"], t
        log = srv.log_text()
        assert "running as user=%s uid=%d gid=%d" % (TEST_USER, uid, gid) in log, log
        # the switch comes after the listeners, before anything is served
        assert log.index("listening service=") < log.index("running as user=") < log.index(
            "mailroom ready")
        assert "user=%s" % TEST_USER in log[log.index("mailroom ready"):]
        # SMTP in, POP3 out: the store and the TLS key work as the user
        c = srv.smtp()
        c.sendmail("bob@elsewhere.test", [ALICE], b"Subject: hi\r\n\r\nhello\r\n")
        c.quit()
        msgs = srv.messages(ALICE)
        assert len(msgs) == 1 and b"hello" in msgs[0]
        c = srv.poplib_ssl(ALICE)
        assert c.stat()[0] == 1
        c.quit()
        # SIGHUP reads the config and the key again as the user
        n = srv.log_text().count("SIGHUP: reloading")
        srv.proc.send_signal(signal.SIGHUP)
        srv.wait_log(r"(?s)(SIGHUP: reloading.*){%d}.*reload: TLS certificate \S+ and key "
                     r"\S+ loaded" % (n + 1))
        # nothing in the data dir belongs to root, WAL and SHM included
        data = os.path.join(srv.dir, "data")
        assert os.path.exists(os.path.join(data, "mailroom.db-wal"))
        for path, u, g in owners(data):
            assert (u, g) == (uid, gid), (path, u, g)


def test_root_without_user_is_refused():
    if not ROOT:
        return
    with Server(extra={"server.user": None}) as srv:
        p = mr("-c", srv.conf, "serve")
        err = p.stderr.decode()
        assert p.returncode == 1, err
        assert ("%s: [server] user is not set: started as root, mailroom will not serve "
                "the network as root" % srv.conf) in err, err
        assert "listening" not in err  # refused before any port was bound
        # config check says so too, before a restart would find out
        p = mr("-c", srv.conf, "config", "check")
        assert p.returncode == 78 and b"[server] user is not set" in p.stderr, p.stderr
        # and init told the admin already
        p = mr("-c", srv.conf, "init")
        assert p.returncode == 0 and b"serve will refuse to start as root" in p.stderr
        # the built-in defaults are no exception
        d = os.path.join(srv.dir, "defaults")
        os.mkdir(d)
        p = mr("serve", cwd=d)
        assert p.returncode == 1, p.stderr
        p = mr("init", cwd=d)
        assert p.returncode == 0, p.stderr
        p = mr("serve", cwd=d)
        assert p.returncode == 1 and (b"built-in defaults: [server] user is not set"
                                      in p.stderr), p.stderr


def test_bad_user_values():
    if not ROOT:
        return
    with Server() as srv:
        set_key(srv.conf, "server", "user", "mailroom-nosuch")
        n = line_of(srv.conf, "user")
        for args in (["serve"], ["domain", "list"], ["init"]):
            p = mr("-c", srv.conf, *args)
            err = p.stderr.decode()
            # serve fails with 1; the admin verbs with EX_CONFIG (78)
            assert p.returncode == (1 if args == ["serve"] else 78), (args, err)
            assert ("%s:%d: [server] user 'mailroom-nosuch': no such account; create it "
                    "with: useradd --system" % (srv.conf, n)) in err, (args, err)
        set_key(srv.conf, "server", "user", "root")
        p = mr("-c", srv.conf, "serve")
        assert p.returncode == 1 and (b":%d: [server] user 'root' has uid 0 (root)" % n
                                      in p.stderr), p.stderr
        set_key(srv.conf, "server", "user", "bad user")
        p = mr("-c", srv.conf, "serve")
        # a bad value is a config error for every verb: EX_CONFIG
        assert p.returncode == 78 and b":%d: expected a user name" % n in p.stderr, p.stderr


def test_root_owned_data_dir_is_refused_with_the_fix():
    if not ROOT:
        return
    uid, gid = account()
    with Server() as srv:
        srv.add_user(ALICE)
        data = os.path.join(srv.dir, "data")
        db = os.path.join(data, "mailroom.db")
        want = ("data dir: %s is owned by root (uid 0), but mailroom runs as %s (uid %d); "
                "run: chown -R %s:%s %s" % (db, TEST_USER, uid, TEST_USER,
                                             grp.getgrgid(gid).gr_name, data))
        os.chown(db, 0, 0)  # what an older mailroom, run as root, left behind
        p = mr("-c", srv.conf, "serve")
        assert p.returncode == 1 and want in p.stderr.decode(), p.stderr
        # the CLI says the same, instead of failing inside SQLite
        p = mr("-c", srv.conf, "user", "list")
        assert p.returncode == 78 and want in p.stderr.decode(), p.stderr
        # the key inside the data dir is checked too
        os.chown(db, uid, gid)
        key = os.path.join(data, "tls", "key.pem")
        os.chown(key, 0, 0)
        p = mr("-c", srv.conf, "serve")
        assert p.returncode == 1 and (b"data dir: %s is owned by root" % key.encode()
                                      in p.stderr), p.stderr
        # the command the message gives is the fix
        subprocess.run(want.split("run: ", 1)[1].split(), check=True, timeout=30)
        srv.start()
        assert len(srv.messages(ALICE)) == 0


def test_init_gives_the_data_dir_to_the_user():
    if not ROOT:
        return
    uid, gid = account()
    with Server() as srv:
        data = os.path.join(srv.dir, "data")
        # made by init (the harness ran it as root): everything is the user's
        for path, u, g in owners(data):
            assert (u, g) == (uid, gid), (path, u, g)
        assert os.stat(data).st_mode & 0o777 == 0o700
        # a data dir an older mailroom left to root: init again fixes it
        for path, _, _ in owners(data):
            os.lchown(path, 0, 0)
        p = mr("-c", srv.conf, "init")
        assert p.returncode == 0, p.stderr
        assert ("owner: %s (uid %d) for %s" % (TEST_USER, uid, data)).encode() in p.stdout
        for path, u, g in owners(data):
            assert (u, g) == (uid, gid), (path, u, g)
        # a link planted below the data dir is not followed by root
        victim = os.path.join(srv.dir, "victim")
        with open(victim, "w") as f:
            f.write("root's\n")
        shm = os.path.join(data, "mailroom.db-shm")  # absent: serve is not running
        os.symlink(victim, shm)
        mr("-c", srv.conf, "init")
        os.remove(shm)
        assert os.stat(victim).st_uid == 0
        srv.start()


def test_cli_as_root_works_as_the_user():
    if not ROOT:
        return
    uid, gid = account()
    with Server(smtp=True) as srv:
        srv.start()
        srv.add_user(ALICE)  # domain add, user add: as root, while serve runs
        srv.deliver(ALICE, "Subject: cli\n\nfrom the CLI\n")
        data = os.path.join(srv.dir, "data")
        for path, u, g in owners(data):
            assert (u, g) == (uid, gid), (path, u, g)
        assert len(srv.messages(ALICE)) == 1
        srv.stop()
        # with serve stopped the CLI makes the WAL and SHM itself: still the user's
        srv.deliver(ALICE, "Subject: cli 2\n\nagain\n")
        for path, u, g in owners(data):
            assert (u, g) == (uid, gid), (path, u, g)
        # proof that the CLI is not root: root would make the WAL in a folder
        # its owner may not write to
        os.chmod(data, 0o500)
        p = mr("-c", srv.conf, "domain", "add", "other.test")
        os.chmod(data, 0o700)
        assert p.returncode != 0, p.stdout
        assert not os.path.exists(os.path.join(data, "mailroom.db-wal"))
        assert b"other.test" not in mr("-c", srv.conf, "domain", "list").stdout
        srv.start()
        assert len(srv.messages(ALICE)) == 2


def test_key_and_data_dir_the_user_cannot_read():
    if not ROOT:
        return
    with Server() as srv:
        # a key outside the data dir that only root can read: refused at start
        # (SIGHUP would fail months later, when the certificate is renewed)
        private = os.path.join(srv.dir, "private")
        os.mkdir(private, 0o700)
        for n in ("cert.pem", "key.pem"):
            shutil.copy(os.path.join(srv.dir, "data", "tls", n), private)
        set_key(srv.conf, "tls", "cert", os.path.join(private, "cert.pem"))
        set_key(srv.conf, "tls", "key", os.path.join(private, "key.pem"))
        p = mr("-c", srv.conf, "serve")
        err = p.stderr.decode()
        assert p.returncode == 1, err
        assert ("serve reads [tls] cert and key as %s, at start and on SIGHUP: make them "
                "readable by it" % TEST_USER) in err, err
        uid, gid = account()
        os.chown(private, 0, gid)
        os.chmod(private, 0o750)
        for n in ("cert.pem", "key.pem"):
            os.chown(os.path.join(private, n), 0, gid)
            os.chmod(os.path.join(private, n), 0o640)
        p = mr("-c", srv.conf, "config", "check")
        assert p.returncode == 0, p.stderr
        srv.start()
        srv.stop()
        # a data dir below a folder the user cannot enter
        os.chmod(srv.dir, 0o700)
        p = mr("-c", srv.conf, "serve")
        os.chmod(srv.dir, 0o711)
        assert p.returncode == 1 and ("%s (uid %d) cannot reach the data dir %s: %s (mode "
                                      "0700, owner root) is not searchable by it" % (
                                          TEST_USER, uid, os.path.join(srv.dir, "data"),
                                          srv.dir)).encode() in p.stderr, p.stderr


def as_test_user():
    uid, gid = account()
    return {"user": uid, "group": gid, "extra_groups": []}


def test_not_root_the_key_must_name_the_current_user():
    with Server() as srv:
        srv.add_user(ALICE)
        kw = as_test_user() if ROOT else {}
        if ROOT:
            # the checkout may sit where the test user cannot reach it (a
            # clone in /root): that user runs a copy from the server's folder
            kw["binary"] = os.path.join(srv.dir, "mailroom")
            shutil.copy(BIN, kw["binary"])
            os.chmod(kw["binary"], 0o755)
            os.chmod(srv.dir, 0o711)
        me = pwd.getpwuid(kw.get("user", os.geteuid())).pw_name
        # naming the current user: ignored, serve and the CLI work as usual
        set_key(srv.conf, "server", "user", me)
        p = mr("-c", srv.conf, "user", "list", **kw)
        assert p.returncode == 0 and ALICE.encode() in p.stdout, p.stderr
        # another account: a clear error with FILE:LINE, for serve and the CLI
        other = "root" if me != "root" else "nobody"
        set_key(srv.conf, "server", "user", other)
        n = line_of(srv.conf, "user")
        for args in (["serve"], ["user", "list"]):
            p = mr("-c", srv.conf, *args, **kw)
            err = p.stderr.decode()
            assert p.returncode == (1 if args == ["serve"] else 78), err
            if other == "root":
                assert ("%s:%d: [server] user 'root' has uid 0 (root)" % (srv.conf, n)
                        in err), err
            else:
                assert ("%s:%d: [server] user is 'nobody' (uid %d), but mailroom was started "
                        "as '%s'" % (srv.conf, n, pwd.getpwnam("nobody").pw_uid, me)
                        in err), err
        if not ROOT:
            return
        nobody = pwd.getpwnam("nobody").pw_uid
        set_key(srv.conf, "server", "user", "nobody")
        p = mr("-c", srv.conf, "serve", **kw)
        assert p.returncode == 1 and ("%s:%d: [server] user is 'nobody' (uid %d), but "
                                      "mailroom was started as '%s'" % (
                                          srv.conf, n, nobody, me)).encode() in p.stderr
        # started as the user with the key left out: runs as it, no switch
        set_key(srv.conf, "server", "user", None)
        p = mr("-c", srv.conf, "user", "list", **kw)
        assert p.returncode == 0 and ALICE.encode() in p.stdout, p.stderr
        assert PASSWORD


if __name__ == "__main__":
    run_tests(globals())

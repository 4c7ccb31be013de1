# SPDX-License-Identifier: MIT
"""Real mail clients against `mailroom serve`: curl (pop3:// with STLS and
pop3s://), fetchmail, mpop and s-nail, including "leave a copy on the server"
runs that rely on UIDL to fetch only new mail."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PASSWORD, Server, run_tests  # noqa: E402

ALICE = "alice@example.test"


def msg(n):
    return ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: note %d\r\n"
            "Message-ID: <n%d@example.test>\r\n\r\nBody of note %d.\r\n.dot line %d\r\n"
            % (n, n, n, n)).encode()


def server(n):
    srv = Server()
    srv.add_user(ALICE)
    for i in range(1, n + 1):
        srv.deliver(ALICE, msg(i))
    return srv.start()


def run(args, timeout=60, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, **kw)
    return p


def curl(*args):
    p = run(["curl", "-sS", "-k", "--max-time", "30", "-u", "%s:%s" % (ALICE, PASSWORD)]
            + list(args))
    assert p.returncode == 0, (args, p.returncode, p.stderr)
    return p.stdout


def test_curl_stls_and_pop3s():
    with server(2) as srv:
        base = "pop3://127.0.0.1:%d/" % srv.pop3_port
        listing = curl("--ssl-reqd", base)
        assert listing == b"1 %d\r\n2 %d\r\n" % (len(msg(1)), len(msg(2))), listing
        assert curl("--ssl-reqd", base + "2") == msg(2)
        sbase = "pop3s://127.0.0.1:%d/" % srv.pop3s_port
        assert curl(sbase + "1") == msg(1)
        uidl = curl(sbase, "-X", "UIDL")
        assert len(uidl.split(b"\r\n")) == 3, uidl
        # DELE then QUIT (curl quits cleanly): the message is gone
        curl(sbase + "1", "-X", "DELE", "-I")
        assert curl(sbase) == b"1 %d\r\n" % len(msg(2))  # renumbered
        # curl without TLS gets no plaintext login
        p = run(["curl", "-sS", "--max-time", "30", "-u", "%s:%s" % (ALICE, PASSWORD),
                 base])
        assert p.returncode != 0, "plaintext login accepted"
        # wrong password: curl reports a login failure
        p = run(["curl", "-sS", "-k", "--max-time", "30", "-u", ALICE + ":nope", sbase])
        assert p.returncode == 67, (p.returncode, p.stderr)


def mpop_conf(srv, home, starttls):
    conf = os.path.join(home, "mpoprc")
    with open(conf, "w") as f:
        f.write("account default\nhost 127.0.0.1\nport %d\nuser %s\npassword %s\n"
                "tls on\ntls_starttls %s\ntls_certcheck off\nauth %s\nkeep on\n"
                "only_new on\ndelivery mbox %s/mbox\nuidls_file %s/uidls\n"
                "timeout 20\n"
                % (srv.pop3_port if starttls else srv.pop3s_port, ALICE, PASSWORD,
                   "on" if starttls else "off", "user" if starttls else "plain",
                   home, home))
    os.chmod(conf, 0o600)
    return conf


def mpop(conf):
    p = run(["mpop", "-C", conf, "-q"])
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)


def count_mbox(path):
    if not os.path.exists(path):
        return 0
    with open(path, "rb") as f:
        return sum(1 for line in f if line.startswith(b"From "))


def test_mpop_keep_fetches_only_new():
    with server(3) as srv:
        for starttls in (True, False):
            home = os.path.join(srv.dir, "mpop-%s" % starttls)
            os.mkdir(home)
            conf = mpop_conf(srv, home, starttls)
            mpop(conf)
            mbox = os.path.join(home, "mbox")
            assert count_mbox(mbox) == 3
            with open(mbox, "rb") as f:
                data = f.read()
            assert b"Subject: note 2" in data and b"\n.dot line 2" in data
            mpop(conf)  # leave-on-server: nothing new, nothing fetched again
            assert count_mbox(mbox) == 3
        srv.deliver(ALICE, msg(4))
        mpop(conf)
        assert count_mbox(os.path.join(home, "mbox")) == 4
        # mail left on the server
        assert '"messages":4' in srv.cli("user", "list", "--json").stdout.decode()


def snail(srv, home, url, *opts):
    """s-nail in batch mode: saves message 1 of the POP3 mailbox to a file."""
    out = os.path.join(home, "saved")
    env = dict(os.environ, HOME=home, MAILRC="/dev/null", LC_ALL="C")
    p = run(["s-nail", "-n", "-N", "-#", "-vv", "-S", "v15-compat", "-S", "tls-verify=ignore",
             "-S", "password=" + PASSWORD] + list(opts) + ["-f", url],
            input=("copy 1 %s\nquit\n" % out).encode(), env=env)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    with open(out, "rb") as f:
        return f.read(), p.stderr.decode(errors="replace")


def test_snail_with_the_default_config():
    # s-nail tries APOP when the greeting carries a timestamp; with the
    # default config ([pop3] apop = no) there is none, and USER/PASS is used
    with server(2) as srv:
        user = ALICE.replace("@", "%40")
        for url, opts in (("pop3s://%s@127.0.0.1:%d" % (user, srv.pop3s_port), ()),
                          ("pop3://%s@127.0.0.1:%d" % (user, srv.pop3_port),
                           ("-S", "pop3-use-starttls"))):
            home = os.path.join(srv.dir, "snail-%d" % len(opts))
            os.mkdir(home)
            saved, transcript = snail(srv, home, url, *opts)
            assert b"Subject: note 1\n" in saved and b"\n.dot line 1\n" in saved, saved
            assert "POP3 ready\n" in transcript, transcript  # no <timestamp>
            assert ">>> APOP" not in transcript and ">>> USER " + ALICE in transcript


def fetchmail_rc(srv, home, implicit):
    rc = os.path.join(home, "fetchmailrc")
    out = os.path.join(home, "out")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 service %d protocol pop3 uidl\n'
                '  user "%s" there with password "%s" is root here\n'
                '  keep %s sslproto "TLS1.2+" no sslcertck\n'
                '  mda "/bin/sh -c \'cat >> %s\'"\n'
                % (srv.pop3s_port if implicit else srv.pop3_port, ALICE, PASSWORD,
                   "ssl" if implicit else "", out))
    os.chmod(rc, 0o600)
    return rc, out


def fetchmail(home, rc):
    env = dict(os.environ, HOME=home)
    p = run(["fetchmail", "-f", rc, "--idfile", os.path.join(home, "ids"),
             "--pidfile", os.path.join(home, "pid"), "--nosyslog", "-t", "20"],
            env=env, timeout=90)
    # 0 = mail fetched, 1 = no new mail
    assert p.returncode in (0, 1), (p.returncode, p.stdout, p.stderr)
    return p.returncode


def test_fetchmail_keep_with_uidl():
    with server(2) as srv:
        for implicit in (False, True):
            home = os.path.join(srv.dir, "fm-%s" % implicit)
            os.mkdir(home)
            rc, out = fetchmail_rc(srv, home, implicit)
            assert fetchmail(home, rc) == 0
            with open(out, "rb") as f:
                data = f.read()
            assert data.count(b"Subject: note") == 2, data
            assert b"\n.dot line 1" in data
            assert fetchmail(home, rc) == 1  # kept on server, already seen
            with open(out, "rb") as f:
                assert f.read().count(b"Subject: note") == 2
        srv.deliver(ALICE, msg(3))
        assert fetchmail(home, rc) == 0
        with open(out, "rb") as f:
            assert f.read().count(b"Subject: note") == 3
        assert '"messages":3' in srv.cli("user", "list", "--json").stdout.decode()


def test_fetchmail_without_keep_deletes():
    with server(2) as srv:
        home = os.path.join(srv.dir, "fm")
        os.mkdir(home)
        rc, out = fetchmail_rc(srv, home, True)
        with open(rc) as f:
            text = f.read().replace("keep ssl", "ssl")
        with open(rc, "w") as f:
            f.write(text)
        assert fetchmail(home, rc) == 0
        assert '{"address":"%s","messages":0,' % ALICE in srv.cli(
            "user", "list", "--json").stdout.decode()


if __name__ == "__main__":
    run_tests(globals())

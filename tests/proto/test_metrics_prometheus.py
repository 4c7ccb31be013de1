#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""test_metrics_prometheus.py - a real Prometheus scrapes [metrics] listen.

A private prometheus (Debian's package) with a 1 s scrape interval and its
own storage folder scrapes mailroom for a few seconds; its HTTP API must
then hold the samples: up{job="mailroom"} = 1 (the scrape parsed) and
mailroom_up = 1, and a counter mailroom counts. Exit 77 when prometheus is
not installed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, free_port, run_tests  # noqa: E402

PROMETHEUS = shutil.which("prometheus")


def query(port, expr):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        data = json.loads(r.read().decode())
    assert data["status"] == "success", data
    return data["data"]["result"]


def wait_value(port, expr, want, timeout=60, at_least=False):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = query(port, expr)
            v = float(last[0]["value"][1]) if last else None
            if v is not None and (v == want or (at_least and v >= want)):
                return last
        except OSError as e:  # prometheus not listening yet
            last = e
        time.sleep(0.5)
    raise AssertionError("%s never was %s: %r" % (expr, want, last))


def test_prometheus_scrapes():
    mport = free_port()
    with Server(extra={"metrics.listen": "127.0.0.1:%d" % mport}) as s:
        s.start()
        pdir = tempfile.mkdtemp(prefix="mailroom-prometheus.")
        pport = free_port()
        conf = os.path.join(pdir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: mailroom\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % mport)
        log = open(os.path.join(pdir, "prometheus.log"), "wb")
        p = subprocess.Popen([PROMETHEUS, "--config.file=" + conf,
                              "--storage.tsdb.path=" + os.path.join(pdir, "data"),
                              "--web.listen-address=127.0.0.1:%d" % pport],
                             stdout=log, stderr=subprocess.STDOUT, cwd=pdir)
        try:
            wait_value(pport, 'up{job="mailroom"}', 1)
            r = wait_value(pport, "mailroom_up", 1)
            assert r[0]["metric"]["instance"] == "127.0.0.1:%d" % mport, r
            wait_value(pport, "mailroom_store_up", 1)
            # the endpoint's own requests: Prometheus's scrapes counted (from
            # the second scrape on: a request is counted once answered)
            wait_value(pport, 'mailroom_commands_total{service="metrics",command="GET"}', 1,
                       at_least=True)
        except AssertionError:
            log.flush()
            with open(os.path.join(pdir, "prometheus.log"), "rb") as f:
                sys.stdout.write(f.read().decode(errors="replace")[-3000:])
            raise
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
            log.close()
            shutil.rmtree(pdir, ignore_errors=True)


if __name__ == "__main__":
    if PROMETHEUS is None:
        print("skip: prometheus is not installed (Debian package prometheus)")
        sys.exit(77)
    run_tests(globals())

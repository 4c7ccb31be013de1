#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""loginburst.py - N POP3 clients connect at once, each logs in (USER/PASS)
to a mailbox of its own and holds the session; prints how many logged in,
how many failed and why, and when the logins were answered (median, last),
counted from the moment all connections were started.

  bench/loginburst.py HOST PORT N USER_FORMAT PASSWORD TIMEOUT

USER_FORMAT is a printf format of the client number ("u%d@bench.test");
TIMEOUT (seconds) bounds each wait of each client, as a client's own
timeout would. The server must allow N connections from one address
([limits] max_connections_per_ip) and plaintext logins ([pop3]
plaintext_auth = yes) on loopback; the open-files limit must allow N.
"""
import asyncio
import collections
import sys
import time


async def client(i, t0, args, res, times, hold):
    host, port, fmt, password, timeout = args
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        greeting = await asyncio.wait_for(r.readline(), timeout)
        if not greeting.startswith(b"+OK"):
            res["greeting " + greeting[:40].decode(errors="replace").strip()] += 1
            return
        w.write(b"USER %s\r\nPASS %s\r\n" % ((fmt % i).encode(), password.encode()))
        await w.drain()
        await asyncio.wait_for(r.readline(), timeout)  # USER's +OK
        answer = await asyncio.wait_for(r.readline(), timeout)
        if answer.startswith(b"+OK"):
            res["logged in"] += 1
            times.append(time.monotonic() - t0)
        else:
            res["refused: " + answer[:60].decode(errors="replace").strip()] += 1
        await hold.wait()
        w.close()
    except asyncio.TimeoutError:
        res["timed out"] += 1
    except OSError as e:
        res[type(e).__name__] += 1


async def main():
    host, port, n, fmt, password, timeout = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                             sys.argv[4], sys.argv[5], float(sys.argv[6]))
    res, times, hold = collections.Counter(), [], asyncio.Event()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(client(i, t0, (host, port, fmt, password, timeout), res,
                                        times, hold)) for i in range(n)]
    deadline = t0 + 3 * timeout + 5  # connect, greeting, USER, PASS: bounded
    while sum(res.values()) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    times.sort()
    print("clients=%d %s median_s=%.2f last_s=%.2f" % (
        n, " ".join("%s=%d" % (k.replace(" ", "_"), v) for k, v in sorted(res.items())),
        times[len(times) // 2] if times else -1, times[-1] if times else -1))
    hold.set()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    asyncio.run(main())

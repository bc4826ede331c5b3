#!/usr/bin/env python3
"""What the daemon costs the directory: connections and operations counted at a real slapd.

slapd runs with `-d 256` (loglevel stats): one log line per connection
(`ACCEPT`) and per operation (`SRCH`, `BIND`, ...).  With a kept connection a
round is one search; a new connection (connect, StartTLS, bind, search) is made
only at the first round, after a failure or a closed connection, and every
--full-probe-interval.  A server that closes the kept connection (slapd's
idletimeout) is not an outage.
"""

import os
import re
import tempfile
import time
import unittest

from lhctest import harness, slapd, tables
from lhctest.notify import NotifyListener

INTERVAL = 0.1


def count(log, pattern):
    return len(re.findall(pattern, log, re.M))


class DirectoryCost(unittest.TestCase):

    def serve(self, *global_conf):
        server = slapd.Slapd(debug="256", global_conf=global_conf)
        self.addCleanup(server.cleanup)
        server.start()
        directory = tempfile.mkdtemp(prefix="lhc-cost-", dir=server.dir)
        table = tables.write_table(os.path.join(directory, "users.cf"), tables.starttls(server, timeout=2))
        notify = NotifyListener()
        self.addCleanup(notify.close)
        return server, table, notify

    def daemon(self, table, notify, *extra, interval=INTERVAL):
        d = harness.Daemon(["--conffile", table, "--interval", str(interval), "--probe-key", tables.FOUND_KEY,
                            "--debug", *extra], notify)
        self.addCleanup(d.kill)
        self.assertIsNotNone(notify.wait_for("READY=1", limit=15, proc=d.proc), d.stderr())
        return d

    def rounds_for(self, notify, n, limit=30):
        """Waits for n more good rounds (WATCHDOG=1)."""
        start = notify.occurrences("WATCHDOG=1")
        return notify.wait_count("WATCHDOG=1", start + n, limit) - start

    def watch(self, full_probe_interval, n):
        """(good rounds, slapd's log of them) for the daemon after READY=1, n rounds or more."""
        server, table, notify = self.serve()
        d = self.daemon(table, notify, "--full-probe-interval", full_probe_interval)
        before = server.log()
        rounds = self.rounds_for(notify, n)
        d.signal(15)
        self.assertEqual(d.wait(10), harness.EXIT_OK, d.stderr())
        self.assertGreaterEqual(rounds, n)
        return rounds, server.log()[len(before):]

    def test_kept_connection_costs_one_search_per_round(self):
        rounds, log = self.watch("60", 30)
        # No new connection after the first; every round one search on it.
        self.assertEqual(count(log, r"ACCEPT from"), 0, log[-2000:])
        self.assertEqual(count(log, r" BIND "), 0)
        self.assertGreaterEqual(count(log, r" SRCH base="), rounds)
        self.assertEqual(count(log, r" EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037"), 0, "no StartTLS again")

    def test_every_round_a_new_connection_with_full_probe_interval_zero(self):
        rounds, log = self.watch("0", 10)
        self.assertGreaterEqual(count(log, r"ACCEPT from"), rounds - 1)

    def test_full_path_again_on_schedule(self):
        _, log = self.watch("1", 35)  # 3.5 s at 0.1 s
        connections = count(log, r"ACCEPT from")
        self.assertGreaterEqual(connections, 2, "the full path must be taken every second")
        self.assertLessEqual(connections, 6, "no more than one new connection a second")

    def test_idle_timeout_close_is_not_an_outage(self):
        server, table, notify = self.serve("idletimeout 1")
        d = self.daemon(table, notify, "--full-probe-interval", "60", interval=3)
        # slapd closes the kept connection after 1 s idle; the daemon notices and probes anew.
        self.assertIsNotNone(d.wait_for_log(r"closed the kept connection", limit=10), d.stderr())
        self.assertGreaterEqual(self.rounds_for(notify, 2, limit=15), 2, d.stderr())
        self.assertNotIn("probe failed", d.stderr())
        self.assertIsNone(d.poll())

    def test_killed_server_seen_through_the_kept_connection(self):
        server, table, notify = self.serve()
        d = self.daemon(table, notify, "--full-probe-interval", "60", "--retry-interval", "0.1", interval=30)
        self.rounds_for(notify, 1, limit=5)
        t0 = time.monotonic()
        server.kill()
        self.assertEqual(d.wait(10), harness.EXIT_UNAVAILABLE, d.stderr())
        # With --interval 30 only the closed connection can have told it this fast.
        self.assertLess(time.monotonic() - t0, 2.0, d.stderr())


if __name__ == "__main__":
    harness.main()

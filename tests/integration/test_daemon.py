#!/usr/bin/env python3
"""The daemon as systemd sees it: sd_notify datagrams, signals, exit codes.

A NOTIFY_SOCKET listener records every datagram; slapd is stopped or started
under the running daemon to make the outages.
"""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import harness  # noqa: E402
import slapd  # noqa: E402
import tables  # noqa: E402

INTERVAL = 0.1
FAILURES = 3
TIMEOUT = 2  # `timeout =` in the table
MARGIN = 1.0
# After the outage: `failures` rounds `interval` apart, the last one possibly
# waiting out the LDAP timeout, plus a margin for process scheduling.
GIVE_UP_BOUND = INTERVAL * FAILURES + TIMEOUT + MARGIN


class DaemonBlackBox(harness.SlapdTestCase):
    timings = []

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for what, seconds, bound in cls.timings:
            sys.stderr.write("%-40s %6.3f s (bound %.1f s)\n" % (what, seconds, bound))

    def setUp(self):
        super().setUp()
        self.table_file = self.table(self.id().rsplit(".", 1)[1] + ".cf", tables.bind_yes(self.ldap, timeout=TIMEOUT))
        self.notify = harness.NotifyListener()
        self.addCleanup(self.notify.close)

    def start(self, extra=(), watchdog_pid=None, table_file=None):
        args = ["--conffile", table_file or self.table_file, "--interval", str(INTERVAL), "--retry-interval", str(INTERVAL),
                "--failures", str(FAILURES), "--probe-key", tables.FOUND_KEY, "--debug", *extra]
        daemon = harness.Daemon(args, self.notify, watchdog_pid=watchdog_pid)
        self.addCleanup(self.check_output, daemon)
        self.addCleanup(daemon.kill)
        return daemon

    def check_output(self, daemon):
        harness.assert_no_secret(self, daemon.stdout(), daemon.stderr(), self.notify.text())
        harness.assert_log_format(self, daemon.stderr())

    def detail(self, daemon):
        return "\nnotify:\n%s\nstderr:\n%s" % (self.notify.text(), daemon.stderr())

    def wait_ready(self, daemon):
        ready = self.notify.wait_for("READY=1", limit=10, proc=daemon)
        self.assertIsNotNone(ready, "no READY=1" + self.detail(daemon))
        return ready

    def wait_watchdogs(self, daemon, after, n=2):
        i = after
        for _ in range(n):
            i = self.notify.wait_for("WATCHDOG=1", after=i, limit=5, proc=daemon)
            self.assertIsNotNone(i, "no WATCHDOG=1 after message %d%s" % (after, self.detail(daemon)))
            i += 1
        return i

    def test_ready_with_status_then_watchdog(self):
        daemon = self.start()
        ready = self.wait_ready(daemon)
        self.assertTrue(any(line.startswith("STATUS=") for line in self.notify.messages[ready][1]),
                        "READY=1 without STATUS=" + self.detail(daemon))
        self.wait_watchdogs(daemon, ready)

    def test_watchdog_pid_of_the_daemon(self):
        daemon = self.start(watchdog_pid=True)
        self.wait_watchdogs(daemon, self.wait_ready(daemon))

    def test_outage_gives_up_with_69(self):
        daemon = self.start()
        self.wait_watchdogs(daemon, self.wait_ready(daemon))
        t0 = time.monotonic()
        self.ldap.stop()
        rc = daemon.wait(GIVE_UP_BOUND + 10)
        elapsed = time.monotonic() - t0
        self.timings.append(("slapd stopped -> exit", elapsed, GIVE_UP_BOUND))
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE, self.detail(daemon))
        self.assertLess(elapsed, GIVE_UP_BOUND, self.detail(daemon))

    def test_outage_over_tls_gives_up_with_69_not_sigpipe(self):
        # Closing the TLS connection kept from the last good round writes to a socket the
        # dead server reset: without SIGPIPE ignored, the daemon died of the signal (141).
        for name, params in (("starttls", tables.starttls(self.ldap, timeout=TIMEOUT)),
                             ("ldaps", tables.ldaps(self.ldap, timeout=TIMEOUT))):
            with self.subTest(name):
                if not self.ldap.running():
                    self.ldap.start()
                daemon = self.start(table_file=self.table(name + "-outage.cf", params))
                self.wait_watchdogs(daemon, self.wait_ready(daemon))
                self.ldap.stop()
                rc = daemon.wait(GIVE_UP_BOUND + 10)
                self.assertEqual(rc, harness.EXIT_UNAVAILABLE, self.detail(daemon))

    def test_hung_server_gives_up_with_69(self):
        daemon = self.start()
        self.wait_watchdogs(daemon, self.wait_ready(daemon))
        t0 = time.monotonic()
        self.ldap.hang()
        # Every failing round may now wait out the full timeout.
        bound = FAILURES * (INTERVAL + TIMEOUT) + MARGIN
        rc = daemon.wait(bound + 10)
        elapsed = time.monotonic() - t0
        self.timings.append(("slapd SIGSTOPped -> exit", elapsed, bound))
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE, self.detail(daemon))
        self.assertLess(elapsed, bound, self.detail(daemon))

    def test_sigterm_stopping_exit_0(self):
        daemon = self.start()
        self.wait_ready(daemon)
        t0 = time.monotonic()
        daemon.signal(signal.SIGTERM)
        rc = daemon.wait(5)
        self.timings.append(("SIGTERM -> exit", time.monotonic() - t0, 5))
        self.assertEqual(rc, harness.EXIT_OK, self.detail(daemon))
        self.assertIsNotNone(self.notify.find("STOPPING=1"), self.detail(daemon))

    def test_sighup_reloading_then_ready(self):
        daemon = self.start()
        ready = self.wait_ready(daemon)
        mark = self.notify.count()
        daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", after=mark, limit=5, proc=daemon)
        self.assertIsNotNone(reloading, self.detail(daemon))
        self.assertGreater(reloading, ready)
        self.assertIsNotNone(self.notify.wait_for("READY=1", after=reloading + 1, limit=5, proc=daemon),
                             "no READY=1 after RELOADING=1" + self.detail(daemon))
        self.wait_watchdogs(daemon, reloading + 1, n=1)
        self.assertIsNone(daemon.poll())

    def test_sighup_with_broken_table_keeps_running(self):
        daemon = self.start()
        self.wait_ready(daemon)
        bad_line = tables.set_parameter(self.table_file, "timeout", "5x")
        logs = daemon.log_count()
        daemon.signal(signal.SIGHUP)
        where = "%s:%d" % (self.table_file, bad_line)
        line = daemon.wait_for_log(r"^<[0-3]>.*" + re.escape(where), limit=5, after=logs)
        self.assertIsNotNone(line, "no error naming %s%s" % (where, self.detail(daemon)))
        self.wait_watchdogs(daemon, self.notify.count(), n=2)
        self.assertIsNone(daemon.poll(), "daemon died on a broken reload" + self.detail(daemon))

    def test_down_at_start_exits_69_without_ready(self):
        self.ldap.stop()
        daemon = self.start()
        rc = daemon.wait(GIVE_UP_BOUND + 10)
        elapsed = time.monotonic() - daemon.started
        self.timings.append(("LDAP down at start -> exit", elapsed, GIVE_UP_BOUND))
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE, self.detail(daemon))
        self.assertIsNone(self.notify.find("READY=1"), self.detail(daemon))
        self.assertLess(elapsed, GIVE_UP_BOUND, self.detail(daemon))


if __name__ == "__main__":
    harness.main()

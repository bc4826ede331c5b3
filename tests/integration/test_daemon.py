#!/usr/bin/env python3
"""The daemon as systemd sees it: sd_notify datagrams, signals, exit codes.

A NOTIFY_SOCKET listener records every datagram; slapd is stopped or started
under the running daemon to make the outages.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from lhctest import harness, tables
from lhctest.notify import NotifyListener

INTERVAL = 0.1
FAILURES = 3
TIMEOUT = 2  # `timeout =` in the table
MARGIN = 1.0
# After the outage: `failures` rounds `interval` apart, the last one possibly
# waiting out the LDAP timeout, plus a margin for process scheduling.
GIVE_UP_BOUND = INTERVAL * FAILURES + TIMEOUT + MARGIN

POSTCONF_THAT_HANGS_LATER = """#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0)
echo $((n + 1)) > {count}
if [ "$n" -ge 2 ]; then
    echo $$ > {pid}
    exec sleep 60 2>/dev/null
fi
[ "$1" = -P ] || echo "virtual_alias_maps = ldap:{table}"
"""


def kill_pid_in(path):
    """SIGKILL the process whose PID is in `path`: it inherited the daemon's blocked SIGTERM."""
    try:
        with open(path) as f:
            os.kill(int(f.read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


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
        self.notify = NotifyListener()
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

    def parsed_metrics(self, path):
        """{(name, server label or None): value}, read by the Prometheus client's own parser
        (Debian's python3-prometheus-client, for Debian's python3)."""
        code = ("import json, sys\n"
                "from prometheus_client.parser import text_string_to_metric_families as parse\n"
                "out = [[s.name, s.labels.get('server'), s.value]\n"
                "       for f in parse(open(sys.argv[1]).read()) for s in f.samples]\n"
                "print(json.dumps(out))\n")
        result = subprocess.run(["/usr/bin/python3", "-c", code, path], capture_output=True,
                                text=True, timeout=30)
        self.assertEqual(result.returncode, 0, "the Prometheus parser refuses it:\n" +
                         result.stderr + open(path).read())
        return {(name, server): value for name, server, value in json.loads(result.stdout)}

    def test_metrics_file_healthy_then_the_outage(self):
        path = os.path.join(self.ldap.dir, "ldap-health-check.prom")
        daemon = self.start(["--metrics-file", path])
        self.wait_watchdogs(daemon, self.wait_ready(daemon))
        m = self.parsed_metrics(path)
        self.assertEqual(m[("ldap_health_check_up", None)], 1)
        self.assertEqual(m[("ldap_health_check_server_up", self.ldap.url)], 1, m)
        self.assertGreaterEqual(m[("ldap_health_check_rounds_total", None)], 2)  # READY + 1
        self.assertEqual(m[("ldap_health_check_round_failures_total", None)], 0)
        self.assertGreater(m[("ldap_health_check_round_duration_seconds", None)], 0)
        self.assertEqual(oct(os.stat(path).st_mode & 0o777), oct(0o644))
        self.ldap.stop()
        self.assertEqual(daemon.wait(GIVE_UP_BOUND + 10), harness.EXIT_UNAVAILABLE,
                         self.detail(daemon))
        m = self.parsed_metrics(path)  # the final state, written before the exit
        self.assertEqual(m[("ldap_health_check_up", None)], 0)
        self.assertEqual(m[("ldap_health_check_consecutive_failures", None)], FAILURES)
        self.assertEqual(m[("ldap_health_check_server_up", self.ldap.url)], 0, m)
        self.assertEqual(glob.glob(path + ".*"), [], "a temporary file was left behind")

    def test_fifo_in_the_metrics_directory_stops_nothing(self):
        # The metrics directory is writable by node_exporter's group: a FIFO at the name the
        # first version wrote through held its loop in open() (no READY=1, no SIGTERM).
        directory = tempfile.mkdtemp(prefix="lhc-metrics-", dir=self.ldap.dir)
        path = os.path.join(directory, "ldap-health-check.prom")
        os.mkfifo(path + ".tmp")
        daemon = self.start(["--metrics-file", path])
        self.wait_watchdogs(daemon, self.wait_ready(daemon), n=3)
        self.assertEqual(self.parsed_metrics(path)[("ldap_health_check_up", None)], 1)
        t0 = time.monotonic()
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(5), 0, self.detail(daemon))
        self.timings.append(("FIFO in the metrics dir: SIGTERM -> exit", daemon.ended - t0, 5))

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

    def test_sighup_with_a_table_postfix_refuses_fails_the_rounds(self):
        # A new Postfix process cannot open it either: its lookups fail, and so do the rounds.
        daemon = self.start()
        self.wait_ready(daemon)
        bad_line = tables.set_parameter(self.table_file, "timeout", "5x")
        daemon.signal(signal.SIGHUP)
        self.assertEqual(daemon.wait(10), harness.EXIT_UNAVAILABLE, self.detail(daemon))
        where = "%s:%d: bad numerical configuration" % (self.table_file, bad_line)
        self.assertIn("a new Postfix process cannot open this table, so its lookups fail: " +
                      where, self.notify.text(), self.detail(daemon))
        self.assertIsNotNone(daemon.wait_for_log(r"^<2>LDAP unusable after .*" + re.escape(where)),
                             self.detail(daemon))

    def statuses(self, first, last=None):
        return [line for i, _, line in self.notify.lines()
                if i >= first and (last is None or i < last) and line.startswith("STATUS=")]

    def reload_until_ready(self, daemon):
        mark = self.notify.count()
        daemon.signal(signal.SIGHUP)
        ready = self.notify.wait_for("READY=1", after=mark, limit=5, proc=daemon)
        self.assertIsNotNone(ready, "no READY=1 after SIGHUP" + self.detail(daemon))
        return ready

    def test_failed_reload_shows_in_status_until_a_good_one(self):
        # A mistake of ours, not Postfix's: the --canary's key is no longer one the table is
        # asked for. The old tables stay in force, and every STATUS= says so.
        daemon = self.start(extra=["--canary", "%s=%s" % (self.table_file, tables.FOUND_KEY)])
        self.wait_ready(daemon)
        tables.set_parameter(self.table_file, "domain", "example.net")
        ready = self.reload_until_ready(daemon)
        good_rounds = self.wait_watchdogs(daemon, ready, n=2)
        failure = "; last reload failed: "
        after_failure = self.statuses(ready, good_rounds)
        self.assertGreaterEqual(len(after_failure), 2, self.detail(daemon))
        for line in after_failure:
            self.assertIn(failure, line, self.detail(daemon))
            self.assertIn(tables.FOUND_KEY, line, self.detail(daemon))

        tables.set_parameter(self.table_file, "domain", "example.com")
        ready = self.reload_until_ready(daemon)
        good_rounds = self.wait_watchdogs(daemon, ready, n=2)
        for line in self.statuses(ready, good_rounds):
            self.assertNotIn("reload failed", line, self.detail(daemon))
        self.assertIsNone(daemon.poll(), self.detail(daemon))

    def test_reload_stuck_on_postconf_keeps_watchdog_and_sigterm(self):
        # Zero-config mode: the first load's two postconf calls (main.cf, master.cf) answer,
        # every later one hangs, as a postconf stuck on an unreadable main.cf would.
        work = tempfile.mkdtemp(prefix="lhc-postconf-")
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        hung_pid = os.path.join(work, "hung.pid")
        self.addCleanup(kill_pid_in, hung_pid)
        script = os.path.join(work, "postconf")
        with open(script, "w") as f:
            f.write(POSTCONF_THAT_HANGS_LATER.format(count=os.path.join(work, "count"), pid=hung_pid,
                                                     table=self.table_file))
        os.chmod(script, 0o755)
        daemon = harness.Daemon(["--postconf", script, "--interval", str(INTERVAL), "--retry-interval",
                                 str(INTERVAL), "--failures", str(FAILURES), "--probe-key", tables.FOUND_KEY,
                                 "--debug"], self.notify)
        self.addCleanup(self.check_output, daemon)
        self.addCleanup(daemon.kill)
        self.wait_ready(daemon)
        mark = self.notify.count()
        daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", after=mark, limit=5, proc=daemon)
        self.assertIsNotNone(reloading, self.detail(daemon))
        deadline = time.monotonic() + 5
        while not os.path.exists(hung_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(hung_pid), "postconf was not asked again" + self.detail(daemon))
        self.wait_watchdogs(daemon, reloading, n=5)
        self.assertIsNone(self.notify.find("READY=1", after=reloading), self.detail(daemon))
        t0 = time.monotonic()
        daemon.signal(signal.SIGTERM)
        rc = daemon.wait(5)
        self.assertEqual(rc, harness.EXIT_OK, self.detail(daemon))
        self.timings.append(("SIGTERM during a stuck reload -> exit", daemon.ended - t0, 1))
        self.assertLess(daemon.ended - t0, 1, self.detail(daemon))

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

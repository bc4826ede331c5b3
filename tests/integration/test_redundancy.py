#!/usr/bin/env python3
"""Degraded redundancy: server_host = ldap1 ldap2 with one of them down.

Postfix still works (each new process first waits for the failing server, then uses the
other), so the daemon stays healthy, as Postfix does; but STATUS= says "LDAP degraded:"
and names the server and why, the log has one warning when it starts failing and one
notice when it answers again, and the metrics file has its ldap_health_check_server_up 0.
The server after the one in use is known too: each server is probed on its own in the
background whenever a round takes the full path.
"""

import os
import time
import unittest

from lhctest import harness, slapd, tables
from lhctest.notify import NotifyListener

LIMIT = 15  # seconds for a state change to show: a few full paths at --full-probe-interval 1


class Redundancy(unittest.TestCase):

    def setUp(self):
        self.first = slapd.Slapd().start()
        self.addCleanup(self.first.cleanup)
        self.second = slapd.Slapd().start()
        self.addCleanup(self.second.cleanup)
        params = tables.bind_yes(self.first, timeout=5)  # margin on a loaded machine
        params["server_host"] = "%s %s" % (self.first.url, self.second.url)
        self.table = tables.write_table(os.path.join(self.first.dir, "two.cf"), params)
        self.metrics = os.path.join(self.first.dir, "ldap.prom")
        self.notify = NotifyListener()
        self.addCleanup(self.notify.close)
        self.daemon = harness.Daemon(
            ["--conffile", self.table, "--interval", "0.2", "--retry-interval", "0.2",
             "--full-probe-interval", "1", "--probe-key", tables.FOUND_KEY,
             "--metrics-file", self.metrics], self.notify)
        self.addCleanup(self.daemon.kill)
        self.assertIsNotNone(self.notify.wait_for("READY=1", limit=10, proc=self.daemon),
                             self.detail())

    def detail(self):
        return "\nnotify:\n%s\nstderr:\n%s" % (self.notify.text()[-3000:],
                                               self.daemon.stderr()[-3000:])

    def wait_status(self, prefix, contains="", limit=LIMIT):
        """The first STATUS= that starts with `prefix` and holds `contains`, seen from now."""
        after = self.notify.count()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for i, _, line in self.notify.lines():
                if (i >= after and line.startswith("STATUS=" + prefix) and contains in line):
                    return line[len("STATUS="):]
            self.assertIsNone(self.daemon.poll(), "the daemon exited" + self.detail())
            time.sleep(0.05)
        self.fail("no STATUS=%s…%s within %d s%s" % (prefix, contains, limit, self.detail()))

    def metrics_text(self):
        with open(self.metrics) as f:
            return f.read()

    def metric(self, server):
        for line in self.metrics_text().splitlines():
            if line.startswith('ldap_health_check_server_up{server="%s"}' % server):
                return int(line.split()[-1])
        return None

    def lines(self, text):
        return [line for line in self.daemon.stderr().splitlines() if text in line]

    def check_degraded_then_back(self, down, up):
        self.wait_status("LDAP healthy: ", "2/2 servers answer")
        down.stop()
        status = self.wait_status("LDAP degraded: " + down.url + ": connect: ")
        self.assertIn("Can't contact LDAP server", status)
        self.assertIn("1/2 servers answer", status)
        # Healthy meanwhile, as Postfix: the watchdog is still fed, several rounds on.
        after = self.notify.count()
        for _ in range(5):
            after = self.notify.wait_for("WATCHDOG=1", after=after, limit=5, proc=self.daemon)
            self.assertIsNotNone(after, "no WATCHDOG=1 while degraded" + self.detail())
            after += 1
        self.assertEqual(self.metric(down.url), 0, self.metrics_text())
        self.assertEqual(self.metric(up.url), 1, self.metrics_text())
        down.start()
        self.wait_status("LDAP healthy: ", "2/2 servers answer")
        self.assertEqual(self.metric(down.url), 1, self.metrics_text())
        fails = self.lines("LDAP server %s fails" % down.url)
        back = self.lines("LDAP server %s answers again" % down.url)
        self.assertEqual(len(fails), 1, "one warning, not one per round:" + self.detail())
        self.assertTrue(fails[0].startswith("<4>"), fails[0])
        self.assertEqual(len(back), 1, "one notice:" + self.detail())
        self.assertTrue(back[0].startswith("<5>"), back[0])
        self.assertEqual(self.lines("LDAP server %s fails" % up.url), [])
        harness.assert_no_secret(self, self.daemon.stderr(), self.notify.text())

    def test_first_server_down(self):
        self.check_degraded_then_back(self.first, self.second)

    def test_server_after_the_one_in_use_down(self):
        # Postfix never reaches the second server while the first answers: only the
        # background probe of each server can see it.
        self.check_degraded_then_back(self.second, self.first)


if __name__ == "__main__":
    harness.main()

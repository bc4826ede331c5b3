#!/usr/bin/env python3
"""--once --wait: the recover timer's probe waits for LDAP itself.

It ends at the first good round (so Postfix starts as soon as LDAP answers), and during an
outage it prints a verdict only when the verdict changes, however many rounds it makes, so
that a long outage does not fill the journal.
"""

import os
import subprocess
import tempfile
import time
import unittest

from lhctest import harness, slapd, tables
from lhctest.proc import die_with_parent


class OnceWait(unittest.TestCase):

    def setUp(self):
        self.ldap = slapd.Slapd()  # configured, not started: LDAP is down
        self.addCleanup(self.ldap.cleanup)
        self.dir = tempfile.mkdtemp(prefix="lhc-wait-", dir=self.ldap.dir)

    def table(self, params, name="t.cf"):
        return tables.write_table(os.path.join(self.dir, name), params)

    def start(self, *args):
        proc = subprocess.Popen([harness.binary(), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=die_with_parent)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def test_ends_at_the_first_good_round(self):
        proc = self.start("--once", "--wait", "60", "--retry-interval", "0.5",
                          "--conffile", self.table(tables.bind_yes(self.ldap)))
        first = proc.stdout.readline()  # the first failed round has been made
        self.assertTrue(first.startswith("unhealthy: "), first)
        self.ldap.start()
        up = time.monotonic()
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_OK, err)
        # Within one --interval and a round of LDAP answering, not at the end of the wait.
        self.assertLess(time.monotonic() - up, 10)
        self.assertEqual(out.splitlines(), [out.splitlines()[0]])
        self.assertTrue(out.startswith("healthy: "), out)
        harness.assert_no_secret(self, first, out, err)

    def test_prints_a_verdict_only_when_it_changes(self):
        proc = self.start("--once", "--wait", "3", "--retry-interval", "0.25", "--debug",
                          "--conffile", self.table(tables.bind_yes(self.ldap)))
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_UNAVAILABLE, err)
        rounds = err.count(": connect: ")
        self.assertGreaterEqual(rounds, 5, "a round every --retry-interval for 3 s:\n" + err)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn("Can't contact LDAP server", out)

    def test_a_new_verdict_is_printed(self):
        # Down first, then up with a password the server refuses: two verdicts.
        proc = self.start("--once", "--wait", "4", "--retry-interval", "0.25",
                          "--conffile", self.table(tables.wrong_password(self.ldap)))
        first = proc.stdout.readline()
        self.assertIn("Can't contact LDAP server", first)
        self.ldap.start()
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_UNAVAILABLE, err)
        self.assertEqual(len(out.splitlines()), 1, "one more line, once:\n" + first + out)
        self.assertIn("Invalid credentials", out)
        harness.assert_no_secret(self, first, out, err)

    def test_a_table_fixed_during_the_wait_is_read_again(self):
        # The recover timer's minute: the administrator mends the table Postfix could not
        # open (and so a round could not judge); the next round reads it and passes.
        self.ldap.start()
        table = self.table(tables.bind_yes(self.ldap))
        number = tables.set_parameter(table, "bind", "maybe")
        proc = self.start("--once", "--wait", "30", "--retry-interval", "0.25",
                          "--conffile", table)
        first = proc.stdout.readline()
        self.assertIn("%s:%d: unsupported parameter value: bind = maybe" % (table, number), first)
        tables.set_parameter(table, "bind", "yes")
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_OK, first + out + err)
        self.assertTrue(out.startswith("healthy: "), out)

    def test_a_migration_during_the_wait_is_read_again(self):
        # The table moves to a server that answers while the old one stays down.
        table = self.table(tables.bind_yes(self.ldap))
        proc = self.start("--once", "--wait", "30", "--retry-interval", "0.25",
                          "--conffile", table)
        first = proc.stdout.readline()
        self.assertIn("Can't contact LDAP server", first)
        other = slapd.Slapd().start()
        self.addCleanup(other.cleanup)
        tables.write_table(table, tables.bind_yes(other))
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_OK, first + out + err)

    def test_a_table_broken_for_the_whole_wait_is_a_configuration_error(self):
        table = self.table(tables.bind_yes(self.ldap))
        tables.set_parameter(table, "bind", "maybe")
        proc = self.start("--once", "--wait", "1", "--retry-interval", "0.25", "--conffile", table)
        out, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, harness.EXIT_CONFIG, err)
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertIn("unsupported parameter value: bind = maybe", err)

    def test_without_wait_one_round(self):
        result = harness.run(["--once", "--retry-interval", "0.1",
                              "--conffile", self.table(tables.bind_yes(self.ldap))], limit=20)
        self.assertEqual(result.returncode, harness.EXIT_UNAVAILABLE, result.stderr)
        self.assertLess(result.elapsed, 5)

    def test_usage_errors(self):
        t = self.table(tables.bind_yes(self.ldap))
        for args in (["--wait", "5"], ["--once", "--wait", "-1"], ["--once", "--wait", "3601"],
                     ["--once", "--wait", "soon"]):
            result = harness.run([*args, "--conffile", t], limit=20)
            self.assertEqual(result.returncode, harness.EXIT_USAGE, (args, result.stderr))
            self.assertIn("--wait", result.stderr, args)


if __name__ == "__main__":
    harness.main()

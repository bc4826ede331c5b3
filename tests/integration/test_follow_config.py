#!/usr/bin/env python3
"""The daemon judges the tables a new Postfix process would open now (issue 22, part 1).

Against real slapds, with postmap as the oracle on the file as it is after each edit:
- a server migration is no outage: postmap finds the key, and the daemon reloads and stays
  healthy, without a counted failure; with the old server switched off right after the edit
  (before any reload could have run: its failed rounds wait for the file to be read again),
  and with both answering (only the change itself makes the daemon read the file);
- a broken edit (a wrong bind_pw; a value Postfix refuses) is no healthy: postmap fails, and
  the daemon fails its rounds and exits 69, naming the table;
- the same through main.cf: with zero configuration, main.cf switched to another table.
Edits are made the ways an administrator makes them: in place, and a new file renamed over
the old one. Each figure is measured from the end of the edit.
"""

import os
import shutil
import tempfile
import time
import unittest

from lhctest import harness, oracle, proc, slapd, tables
from lhctest.notify import NotifyListener

FOLLOW_LIMIT = 2.0  # s from a change to its reload (main.cf: 2 s after it cooled, Postfix's rule)
OUTAGE = 69
MASTER_CF = "smtp      inet  n       -       y       -       -       smtpd\n"


def replace_by_rename(path, params):
    """As an editor that writes a new file and renames it over the old one."""
    new = path + ".new"
    tables.write_table(new, params)
    os.rename(new, path)


class FollowConfig(unittest.TestCase):

    def setUp(self):
        self.old = slapd.Slapd().start()
        self.addCleanup(self.old.cleanup)
        self.new = slapd.Slapd().start()
        self.addCleanup(self.new.cleanup)
        self.notify = NotifyListener()
        self.addCleanup(self.notify.close)

    def start(self, args):
        self.daemon = harness.Daemon(
            args + ["--interval", "0.2", "--retry-interval", "0.2", "--probe-key",
                    tables.FOUND_KEY], self.notify)
        self.addCleanup(self.daemon.kill)
        self.assertIsNotNone(self.notify.wait_for("READY=1", limit=10, proc=self.daemon),
                             self.detail())

    def detail(self):
        return "\nnotify:\n%s\nstderr:\n%s" % (self.notify.text()[-3000:],
                                               self.daemon.stderr()[-3000:])

    def postmap(self, table):
        return oracle.postmap_verdict(table, tables.FOUND_KEY, 20).verdict

    def reloaded_within(self, after, started, limit=FOLLOW_LIMIT, what="reloaded: "):
        line = self.daemon.wait_for_log(what, limit=limit + 3, after=after)
        self.assertIsNotNone(line, "no reload after the change" + self.detail())
        took = time.monotonic() - started
        print("%s: %.2f s after the change" % (line.strip(), took))
        self.assertLessEqual(took, limit, self.detail())

    def stays_healthy(self, rounds=10):
        """`rounds` more good rounds, and not one failed round counted since the start."""
        before = self.notify.occurrences("WATCHDOG=1")
        seen = self.notify.wait_count("WATCHDOG=1", before + rounds, limit=10, proc=self.daemon)
        self.assertIsNone(self.daemon.poll(), "the daemon exited" + self.detail())
        self.assertEqual(seen, before + rounds, self.detail())
        self.assertNotIn("probe failed", self.daemon.stderr(), self.detail())

    def exits_naming(self, table, text):
        rc = self.daemon.wait(15)
        self.assertEqual(rc, OUTAGE, self.detail())
        self.assertIn(text, self.daemon.stderr(), self.detail())
        self.assertIn(table, self.notify.text(), self.detail())

    def test_a_migration_edited_in_place_is_no_outage(self):
        table = tables.write_table(os.path.join(self.old.dir, "users.cf"), tables.bind_yes(self.old))
        self.start(["--conffile", table])
        after = self.daemon.log_count()
        tables.set_parameter(table, "server_host", self.new.url)
        edited = time.monotonic()
        self.old.stop()
        self.reloaded_within(after, edited)
        self.assertEqual(self.postmap(table), "found")
        self.stays_healthy()

    def test_a_migration_renamed_into_place_is_no_outage(self):
        table = tables.write_table(os.path.join(self.old.dir, "users.cf"), tables.bind_yes(self.old))
        self.start(["--conffile", table])
        after = self.daemon.log_count()
        replace_by_rename(table, tables.bind_yes(self.new))
        edited = time.monotonic()
        # Both servers answer: only the change itself can make the daemon read the file.
        self.reloaded_within(after, edited)
        self.old.stop()
        self.assertEqual(self.postmap(table), "found")
        self.stays_healthy()

    def test_a_wrong_password_is_no_healthy(self):
        table = tables.write_table(os.path.join(self.old.dir, "users.cf"), tables.bind_yes(self.old))
        self.start(["--conffile", table])
        tables.set_parameter(table, "bind_pw", "Wrong-Pw-Not-Svc-9")
        self.assertEqual(self.postmap(table), "tempfail")
        self.exits_naming(table, "Invalid credentials")

    def test_a_value_postfix_refuses_is_no_healthy(self):
        table = tables.write_table(os.path.join(self.old.dir, "users.cf"), tables.bind_yes(self.old))
        self.start(["--conffile", table])
        number = tables.set_parameter(table, "bind", "maybe")
        self.assertEqual(self.postmap(table), "config-error")
        self.exits_naming(table, "%s:%d: unsupported parameter value: bind = maybe; Postfix "
                                 "cannot open this table either" % (table, number))

    def test_main_cf_switched_to_another_table_is_followed(self):
        config = tempfile.mkdtemp(prefix="lhc-postfix-")
        self.addCleanup(shutil.rmtree, config, True)
        old_table = tables.write_table(os.path.join(config, "old.cf"), tables.bind_yes(self.old))
        new_table = tables.write_table(os.path.join(config, "new.cf"), tables.bind_yes(self.new))
        main_cf = os.path.join(config, "main.cf")
        tables.write_file(main_cf, "virtual_alias_maps = ldap:%s\n" % old_table)
        tables.write_file(os.path.join(config, "master.cf"), MASTER_CF)
        self.start(["--postfix-config-dir", config, "--postconf", proc.find_program("postconf")])
        after = self.daemon.log_count()
        with open(main_cf, "w") as f:
            f.write("virtual_alias_maps = ldap:%s\n" % new_table)
        edited = time.monotonic()
        self.old.stop()
        # Postfix takes main.cf as written two clock seconds after its change (load_file()).
        self.reloaded_within(after, edited, limit=FOLLOW_LIMIT + 0.5)
        self.assertIn("watching the LDAP tables Postfix uses: " + new_table,
                      self.daemon.stderr(), self.detail())
        self.stays_healthy()

    def test_a_table_added_in_master_cf_is_watched(self):
        config = tempfile.mkdtemp(prefix="lhc-postfix-")
        self.addCleanup(shutil.rmtree, config, True)
        old_table = tables.write_table(os.path.join(config, "old.cf"), tables.bind_yes(self.old))
        new_table = tables.write_table(os.path.join(config, "new.cf"), tables.bind_yes(self.new))
        tables.write_file(os.path.join(config, "main.cf"),
                          "virtual_alias_maps = ldap:%s\n" % old_table)
        master_cf = tables.write_file(os.path.join(config, "master.cf"), MASTER_CF)
        self.start(["--postfix-config-dir", config, "--postconf", proc.find_program("postconf")])
        after = self.daemon.log_count()
        with open(master_cf, "a") as f:
            f.write("submission inet n - y - - smtpd -o virtual_alias_maps=ldap:%s\n" % new_table)
        edited = time.monotonic()
        self.reloaded_within(after, edited)
        self.assertIn("watching the LDAP tables Postfix uses: %s, %s" % (old_table, new_table),
                      self.daemon.stderr(), self.detail())
        self.stays_healthy()


if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""--canary TABLE=KEY against a real slapd, with Postfix's postmap as the oracle.

The point of the feature: a directory that answers but finds nobody (an entry deleted, a
group whose members are gone, an entry without the result attribute) is "not found" to
Postfix, so a probe faithful to Postfix calls it healthy while mail for real users bounces.
A canary fails the round exactly when `postmap -q KEY ldap:TABLE` finds nothing (or fails),
including group expansion through special_result_attribute, leaf_result_attribute and
terminal_result_attribute.
"""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

from lhctest import harness, oracle, slapd, tables
from lhctest.notify import NotifyListener

S = slapd.SUFFIX
CANARY_KEY = "lhc-canary@example.com"
CANARY_DN = "uid=lhc-canary,ou=people," + S
CANARY_LDIF = ("dn: %s\nobjectClass: inetOrgPerson\nuid: lhc-canary\ncn: canary\nsn: canary\n"
               "mail: %s\ndescription: example.com/lhc-canary/\n" % (CANARY_DN, CANARY_KEY))

DIRECTORY = "\n".join([
    "dn: ou=groups,%s\nobjectClass: organizationalUnit\nou: groups\n" % S,
    CANARY_LDIF,
    # Found by the search, but without the result attribute: Postfix says "not found".
    "dn: uid=noattr,ou=people,%s\nobjectClass: inetOrgPerson\nuid: noattr\ncn: n\nsn: n\n"
    "mail: noattr@example.com\n" % S,
    # A group Postfix expands through its members' DNs (one of them dangling).
    "dn: cn=staff,ou=groups,%s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
    "cn: staff\nmail: staff-list@example.com\nmember: uid=alice,ou=people,%s\n"
    "member: uid=bob,ou=people,%s\nmember: uid=gone,ou=people,%s\n" % (S, S, S, S),
    # Only a dangling member: the search finds the group, Postfix returns nothing.
    "dn: cn=ghosts,ou=groups,%s\nobjectClass: groupOfNames\ncn: ghosts\n"
    "member: uid=gone,ou=people,%s\n" % (S, S),
    # The canary group: its one member is the canary entry.
    "dn: cn=canary-group,ou=groups,%s\nobjectClass: groupOfNames\ncn: canary-group\n"
    "member: %s\n" % (S, CANARY_DN),
    # Members whose entries have no mail, and a list address of the group's own.
    "dn: cn=nomail,ou=groups,%s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
    "cn: nomail\nmail: nomail-list@example.com\nmember: %s\n" % (S, slapd.SERVICE_DN),
    # A dynamic group: an LDAP URL in a special result attribute.
    "dn: cn=dynamic,ou=groups,%s\nobjectClass: organizationalRole\nobjectClass: extensibleObject\n"
    "cn: dynamic\nlabeledURI: ldap:///ou=people,%s??sub?(mail=bob@example.com)\n" % (S, S),
    # A terminal entry: only its terminal attribute counts, its members are not followed.
    "dn: cn=terminal,ou=groups,%s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
    "cn: terminal\ndepartmentNumber: terminal-value\nmember: uid=alice,ou=people,%s\n" % (S, S),
])


def ldap_modify(server, tool, ldif, *args):
    """ldapadd/ldapdelete as the rootdn; raises on failure."""
    subprocess.run([tool, "-x", "-H", server.url, "-D", slapd.ROOT_DN, "-w", slapd.ROOT_PW, *args],
                   input=ldif, text=True, check=True, capture_output=True, timeout=10)


def users(server, **extra):
    return dict(tables.bind_yes(server, timeout=2), **extra)


def groups(server, **extra):
    p = dict(tables.bind_yes(server, timeout=2), search_base="ou=groups," + S,
             query_filter="(cn=%u)", result_attribute="mail", special_result_attribute="member")
    p.update(extra)
    return p


# (name, table, key, what postmap says): the expectation keeps each row meaningful, the
# comparison with postmap keeps it honest.
def oracle_cases(server):
    return [
        ("user", users(server), "alice@example.com", "found"),
        ("user-upper-case", users(server), "ALICE@Example.COM", "found"),
        ("no-such-user", users(server), "nobody@example.com", "notfound"),
        ("entry-without-result-attribute", users(server), "noattr@example.com", "notfound"),
        ("result-format-needs-a-domain", users(server, result_format="%d"), "alice@example.com",
         "notfound"),
        ("result-format", users(server, result_attribute="mail", result_format="smtp:[%d]/%u"),
         "alice@example.com", "found"),
        ("group-members", groups(server), "staff@example.com", "found"),
        ("group-of-ghosts", groups(server), "ghosts@example.com", "notfound"),
        ("no-such-group", groups(server), "nosuch@example.com", "notfound"),
        ("group-leaf-only", groups(server, result_attribute="uid", leaf_result_attribute="mail"),
         "nomail@example.com", "notfound"),
        ("group-leaf-members", groups(server, result_attribute="uid", leaf_result_attribute="mail"),
         "staff@example.com", "found"),
        ("group-url", groups(server, special_result_attribute="labeledURI"),
         "dynamic@example.com", "found"),
        ("group-terminal", groups(server, terminal_result_attribute="departmentNumber"),
         "terminal@example.com", "found"),
        ("group-expansion-limit", groups(server, expansion_limit="1"), "staff@example.com",
         "tempfail"),
        ("group-recursion-limit", groups(server, recursion_limit="1"), "staff@example.com",
         "tempfail"),
    ]


VALUE_LINE = re.compile(r'canary "[^"]*": value (.*)$', re.M)


class Canary(harness.SlapdTestCase):
    timings = []

    @classmethod
    def prepare_directory(cls):
        ldap_modify(cls.ldap, "ldapadd", DIRECTORY)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for what, seconds, bound in cls.timings:
            sys.stderr.write("%-44s %6.3f s (bound %.1f s)\n" % (what, seconds, bound))

    def once(self, table, key, *extra):
        return harness.run(["--once", "--debug", "--conffile", table, "--canary", "%s=%s" % (table, key),
                            *extra], limit=30)

    def test_agrees_with_postmap(self):
        for name, params, key, expected in oracle_cases(self.ldap):
            with self.subTest(name):
                table = self.table(name + ".cf", params)
                truth = oracle.postmap_verdict(table, key, 20)
                self.assertEqual(truth.verdict, expected, "postmap: %s %s" % (truth.stdout, truth.stderr))
                ours = self.once(table, key)
                detail = "\npostmap: %r\nours: %s%s" % (truth.stdout, ours.stdout, ours.stderr)
                harness.assert_no_secret(self, ours.stdout, ours.stderr)
                if expected == "found":
                    self.assertEqual(ours.returncode, harness.EXIT_OK, detail)
                    values = VALUE_LINE.findall(ours.stderr)
                    self.assertEqual(values, [truth.stdout.rstrip("\n")], detail)
                else:
                    self.assertEqual(ours.returncode, harness.EXIT_UNAVAILABLE, detail)
                    # "not found" only where Postfix says so: a temporary failure is another story.
                    self.assertEqual("not found" in ours.stdout, expected == "notfound", detail)

    def test_message_names_key_table_and_meaning(self):
        table = self.table("message.cf", users(self.ldap))
        r = self.once(table, "nobody@example.com")
        self.assertEqual(r.returncode, harness.EXIT_UNAVAILABLE, r.stderr)
        for part in (table, '"nobody@example.com"', "not found", "the directory answers",
                     "550 5.1.1"):
            self.assertIn(part, r.stdout)

    def test_bad_canary_is_a_usage_error(self):
        table = self.table("usage.cf", users(self.ldap))
        other = os.path.join(self.ldap.dir, "not-watched.cf")
        domain_only = self.table("domain.cf", users(self.ldap, domain="example.com"))
        for args, says in (
                (["--canary", table], "expected TABLE=KEY"),
                (["--canary", "=alice@example.com"], "table before '=' is empty"),
                (["--canary", table + "="], "key after '=' is empty"),
                (["--canary", other + "=alice@example.com"], other + " is not a watched table"),
                (["--canary", domain_only + "=alice@example.org"], "never sends a query")):
            for mode in ("--once", "--check-config"):
                with self.subTest(args=args, mode=mode):
                    r = harness.run([mode, "--conffile", table, "--conffile", domain_only, *args])
                    self.assertEqual(r.returncode, harness.EXIT_USAGE, r.stderr)
                    self.assertIn(says, r.stderr)

    def daemon(self, table, key, notify, extra=()):
        args = ["--conffile", table, "--canary", "%s=%s" % (table, key), "--interval", str(INTERVAL),
                "--retry-interval", str(INTERVAL), "--failures", str(FAILURES), *extra]
        d = harness.Daemon(args, notify)
        self.addCleanup(d.kill)
        return d

    def outage_by_deletion(self, name, params, key, delete_dn, restore_ldif):
        table = self.table(name + ".cf", params)
        notify = NotifyListener()
        self.addCleanup(notify.close)
        daemon = self.daemon(table, key, notify)
        ready = notify.wait_for("READY=1", limit=10, proc=daemon)
        self.assertIsNotNone(ready, daemon.stderr())
        self.assertIsNotNone(notify.wait_for("WATCHDOG=1", after=ready, limit=5, proc=daemon))
        ldap_modify(self.ldap, "ldapdelete", "", delete_dn)
        t0 = time.monotonic()
        self.addCleanup(ldap_modify, self.ldap, "ldapadd", restore_ldif)
        # The point: Postfix itself sees nothing wrong, only "not found".
        truth = oracle.postmap_verdict(table, key, 20)
        self.assertEqual(truth.verdict, "notfound", truth.stderr)
        rc = daemon.wait(GIVE_UP_BOUND + 10)
        elapsed = time.monotonic() - t0
        self.timings.append(("%s deleted -> exit 69" % name, elapsed, GIVE_UP_BOUND))
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE, daemon.stderr())
        self.assertLess(elapsed, GIVE_UP_BOUND, daemon.stderr())
        last = daemon.stderr().strip().splitlines()[-1]
        self.assertTrue(last.startswith("<2>"), last)
        for part in (table, key, "not found", "550 5.1.1"):
            self.assertIn(part, last)
        harness.assert_no_secret(self, daemon.stderr(), notify.text())
        # Restored: the recover timer's --once is healthy again.
        ldap_modify(self.ldap, "ldapadd", restore_ldif)
        r = self.once(table, key)
        self.assertEqual(r.returncode, harness.EXIT_OK, r.stdout + r.stderr)
        self.assertEqual(oracle.postmap_verdict(table, key, 20).verdict, "found")
        ldap_modify(self.ldap, "ldapdelete", "", delete_dn)  # for the cleanup's ldapadd

    def test_deleted_canary_entry_stops_the_daemon(self):
        self.outage_by_deletion("users-daemon", users(self.ldap), CANARY_KEY, CANARY_DN, CANARY_LDIF)

    def test_deleted_member_of_canary_group_stops_the_daemon(self):
        # The group is still there and still found by the search; its one member is not.
        self.outage_by_deletion("groups-daemon", groups(self.ldap), "canary-group@example.com",
                                CANARY_DN, CANARY_LDIF)


INTERVAL = 0.2
FAILURES = 3
MARGIN = 1.0
# A canary miss is a quick answer: the next round is at most --interval away, then
# `failures` rounds --retry-interval apart (here the same), each taking a few ms.
GIVE_UP_BOUND = INTERVAL * (FAILURES + 1) + MARGIN


class DirectoryCost(unittest.TestCase):
    """The canary's search rides on the table's own connection, kept between rounds."""

    ROUNDS_SECONDS = 3.0

    def measure(self, canary_key):
        with slapd.Slapd(debug="256") as ldap:
            table = tables.write_table(os.path.join(ldap.dir, "cost.cf"), users(ldap))
            notify = NotifyListener()
            self.addCleanup(notify.close)
            args = ["--conffile", table, "--canary", "%s=%s" % (table, canary_key), "--probe-key",
                    "alice@example.com", "--interval", "0.2", "--full-probe-interval", "120"]
            with harness.Daemon(args, notify) as daemon:
                ready = notify.wait_for("READY=1", limit=10, proc=daemon)
                self.assertIsNotNone(ready, daemon.stderr())
                # Counted from the first round after READY=1 (whose searches are all logged
                # once its WATCHDOG=1 is sent) to the daemon's end.
                first = notify.wait_for("WATCHDOG=1", after=ready + 1, limit=5, proc=daemon)
                self.assertIsNotNone(first, daemon.stderr())
                start_log = len(ldap.log().splitlines())
                start_rounds = notify.text().count("WATCHDOG=1")
                time.sleep(self.ROUNDS_SECONDS)
                daemon.signal(signal.SIGTERM)
                self.assertEqual(daemon.wait(10), 0, daemon.stderr())
                rounds = notify.text().count("WATCHDOG=1") - start_rounds
                time.sleep(0.5)  # slapd writes its stats lines after it answers
                lines = ldap.log().splitlines()[start_log:]
            accepts = sum(" ACCEPT " in line for line in lines)
            searches = sum(re.search(r" SRCH base=", line) is not None for line in lines)
            return accepts, searches, rounds

    def test_one_extra_search_per_round_on_the_kept_connection(self):
        accepts, searches, rounds = self.measure("bob@example.com")
        self.assertGreaterEqual(rounds, 5)
        self.assertEqual(accepts, 0, "a canary must not cost a connection")
        # A round cut short by SIGTERM may have sent its searches without its WATCHDOG=1.
        self.assertIn(searches, (2 * rounds, 2 * rounds + 2), "probe + canary per round")

    def test_canary_on_the_probe_key_is_the_probe_search(self):
        accepts, searches, rounds = self.measure("alice@example.com")
        self.assertGreaterEqual(rounds, 5)
        self.assertEqual(accepts, 0)
        self.assertIn(searches, (rounds, rounds + 1), "one search per round")


if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""`timeout` values Postfix accepts but libldap reads its own way, held against postmap.

libldap's ldap_result() polls without end for the first message when the wait is negative,
and gives up as soon as that message does not complete the answer (its deadline has passed):
with `timeout` below -1 a lookup that finds an entry (entry, then SearchResultDone) fails with
"Search error -5: Timed out", while one that finds nothing (one message) gets through. Mail
is looked up by keys that exist, so the table is unusable: --once and the daemon must say so
whichever probe key they use. `timeout = 0` fails at the bind or the search; -1 works.
"""

import os

from lhctest import harness, oracle, tables
from lhctest.notify import NotifyListener

TIMEOUTS = (-11, -7, -3, -2, -1, 0)
ORACLE_LIMIT = 15.0
INTERVAL = "0.05"
FAILURES = "2"


class TimeoutValues(harness.SlapdTestCase):

    def postfix_healthy(self, path):
        """Postfix's verdict on the lookups that deliver mail: a key that exists."""
        v = oracle.postmap_verdict(path, tables.FOUND_KEY, ORACLE_LIMIT)
        self.assertIn(v.verdict, ("found", "tempfail"), v.stderr)
        return v.verdict == "found", v

    def check_once(self, name, params):
        path = self.table(name + ".cf", params)
        healthy, v = self.postfix_healthy(path)
        for key in ([], ["--probe-key", tables.FOUND_KEY]):
            r = harness.run(["--once", "--conffile", path, *key], limit=30.0)
            detail = "\nkey %s\nstdout: %s\nstderr: %s\npostmap: %s" % (key, r.stdout, r.stderr, v.stderr)
            self.assertEqual(r.returncode, harness.EXIT_OK if healthy else harness.EXIT_UNAVAILABLE,
                             "binary and Postfix disagree (postmap: %s)%s" % (v.verdict, detail))
            harness.assert_no_secret(self, r.stdout, r.stderr)
            harness.assert_log_format(self, r.stderr)

    def check_daemon(self, name, params):
        path = self.table(name + "-daemon.cf", params)
        healthy, v = self.postfix_healthy(path)
        with NotifyListener() as notify:
            args = ["--conffile", path, "--interval", INTERVAL, "--retry-interval", INTERVAL,
                    "--failures", FAILURES, "--full-probe-interval", "1"]
            with harness.Daemon(args, notify, watchdog_usec=None) as daemon:
                if healthy:
                    ready = notify.wait_for("READY=1", limit=10, proc=daemon)
                    self.assertIsNotNone(ready, "no READY=1 where Postfix finds the key\n" + daemon.stderr())
                    # Kept-connection rounds (and the full path again after 1 s) stay good.
                    self.assertEqual(notify.wait_count("WATCHDOG=1", 25, limit=10, proc=daemon), 25,
                                     daemon.stderr())
                    self.assertIsNone(daemon.poll(), daemon.stderr())
                    return
                rc = daemon.wait(15)
                detail = "\nnotify:\n%s\nstderr:\n%s\npostmap: %s" % (notify.text(), daemon.stderr(), v.stderr)
                self.assertEqual(rc, harness.EXIT_UNAVAILABLE, detail)
                self.assertIsNone(notify.find("READY=1"), "READY=1 where Postfix fails" + detail)
                harness.assert_no_secret(self, daemon.stdout(), daemon.stderr(), notify.text())


def add_tests():
    builders = {
        "ldap": tables.bind_yes,
        "anonymous": tables.anonymous,
        "starttls": tables.starttls,
        "ldaps": tables.ldaps,
        "ldapi": tables.ldapi_external,
    }
    for timeout in TIMEOUTS:
        label = str(timeout).replace("-", "minus")
        for kind, build in builders.items():
            name = "%s_%s" % (kind, label)
            setattr(TimeoutValues, "test_once_" + name,
                    lambda self, n=name, b=build, t=timeout: self.check_once(n, b(self.ldap, timeout=t)))
        setattr(TimeoutValues, "test_daemon_ldap_" + label,
                lambda self, t=timeout: self.check_daemon("ldap_%d" % t, tables.bind_yes(self.ldap, timeout=t)))


add_tests()

if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""`--once` against a real slapd, held against Postfix's own verdict (postmap).

For every scenario the binary's exit code must be the expected one AND agree
with the oracle on the same table and the same server state: healthy exactly
when postmap did not fail temporarily.  Hung-server cases must also answer
within the table's timeout + a small margin, which Postfix itself does not manage over
ldaps:// and ldapi:// (there the oracle hits its own limit).
"""

import os
import sys

from lhctest import harness, oracle, slapd, tables

HUNG_TIMEOUT = 2  # `timeout =` in the hung-server tables
# Process start-up and scheduling on top of the one timeout; an ASan+UBSan build starts slower.
HUNG_MARGIN = 3.0 if "ASAN_OPTIONS" in os.environ else 1.5
ORACLE_LIMIT = 10.0


class ProbeMatrix(harness.SlapdTestCase):
    results = []

    @classmethod
    def prepare_directory(cls):
        cls.closed = slapd.ClosedPort()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if getattr(cls, "closed", None):
            cls.closed.close()
        if cls.results:
            rows = ["%-26s %-9s %-7s %8s  %-12s %8s" % ("scenario", "binary", "exit", "seconds", "postmap",
                                                         "seconds")]
            rows += ["%-26s %-9s %-7s %8.3f  %-12s %8.3f" % r for r in cls.results]
            sys.stderr.write("\n" + "\n".join(rows) + "\n")

    def check(self, name, params, expect_healthy, key=tables.FOUND_KEY, limit=None):
        path = self.table(name + ".cf", params)
        # Postfix needs timeout + 1 s (its fatal exit sleeps a second); past
        # timeout + 3 s it is stuck in a wait it does not bound.
        verdict = oracle.postmap_verdict(path, key, ORACLE_LIMIT if limit is None else HUNG_TIMEOUT + 3.0)
        result = harness.run(["--once", "--probe-key", key, "--conffile", path], limit=30.0)
        healthy = result.returncode == harness.EXIT_OK
        status = "healthy" if healthy else "unhealthy" if result.returncode == harness.EXIT_UNAVAILABLE else "?"
        self.results.append((name, status, result.returncode, result.elapsed, verdict.verdict, verdict.elapsed))
        detail = "\nstdout: %s\nstderr: %s\npostmap stderr: %s" % (result.stdout, result.stderr, verdict.stderr)

        self.assertEqual(result.returncode,
                         harness.EXIT_OK if expect_healthy else harness.EXIT_UNAVAILABLE, detail)
        self.assertEqual(healthy, verdict.verdict in ("found", "notfound"),
                         "binary and Postfix disagree (postmap: %s)%s" % (verdict.verdict, detail))
        first = result.stdout.splitlines()[0] if result.stdout.strip() else ""
        self.assertTrue(first.startswith("healthy:" if healthy else "unhealthy:"), detail)
        self.assertEqual(len(result.stdout.splitlines()), 1, "--once prints one line" + detail)
        harness.assert_no_secret(self, result.stdout, result.stderr)
        harness.assert_log_format(self, result.stderr)
        if limit is not None:
            self.assertLess(result.elapsed, limit, "verdict too late" + detail)
        return verdict

    def test_plain_bind(self):
        self.check("plain-bind", tables.bind_yes(self.ldap), True)

    def test_plain_key_not_found_is_healthy(self):
        v = self.check("plain-notfound", tables.bind_yes(self.ldap), True, key=tables.NOTFOUND_KEY)
        self.assertEqual(v.verdict, "notfound")

    def test_starttls_with_ca(self):
        self.check("starttls", tables.starttls(self.ldap), True)

    def test_ldaps(self):
        self.check("ldaps", tables.ldaps(self.ldap), True)

    def test_ldapi_sasl_external(self):
        self.check("ldapi-external", tables.ldapi_external(self.ldap), True)

    def test_anonymous(self):
        self.check("anonymous", tables.anonymous(self.ldap), True)

    def test_wrong_password(self):
        self.check("wrong-password", tables.wrong_password(self.ldap), False)

    def test_wrong_base(self):
        self.check("wrong-base", tables.wrong_base(self.ldap), False)

    def test_closed_port(self):
        self.check("closed-port", tables.closed_port(self.ldap, self.closed), False)

    def test_version_2(self):
        # slapd 2.5 refuses LDAPv2 binds (protocol error 2); Postfix fails temporarily.
        self.check("version-2", tables.version2(self.ldap), False)

    def test_two_servers_first_down(self):
        self.check("two-servers-first-down", tables.two_servers_first_down(self.ldap, self.closed), True)

    def test_hung_server_plain(self):
        self.ldap.hang()
        v = self.check("hung-plain", tables.bind_yes(self.ldap, timeout=HUNG_TIMEOUT), False,
                       limit=HUNG_TIMEOUT + HUNG_MARGIN)
        self.assertFalse(v.timed_out, "Postfix bounds this case itself")

    def test_hung_server_ldaps(self):
        self.ldap.hang()
        self.check("hung-ldaps", tables.ldaps(self.ldap, timeout=HUNG_TIMEOUT), False, limit=HUNG_TIMEOUT + HUNG_MARGIN)

    def test_hung_server_starttls(self):
        self.ldap.hang()
        self.check("hung-starttls", tables.starttls(self.ldap, timeout=HUNG_TIMEOUT), False,
                   limit=HUNG_TIMEOUT + HUNG_MARGIN)

    def test_hung_server_ldapi(self):
        self.ldap.hang()
        self.check("hung-ldapi", tables.ldapi_external(self.ldap, timeout=HUNG_TIMEOUT), False,
                   limit=HUNG_TIMEOUT + HUNG_MARGIN)

    def test_stopped_server(self):
        self.ldap.stop()
        self.check("stopped-server", tables.bind_yes(self.ldap), False)

    def test_password_changed_on_server(self):
        self.ldap.change_password(slapd.SERVICE_DN, "Changed-Pw-Zq81")
        try:
            self.check("password-changed", tables.bind_yes(self.ldap), False)
        finally:
            self.ldap.change_password(slapd.SERVICE_DN, slapd.SERVICE_PW)


if __name__ == "__main__":
    harness.main()

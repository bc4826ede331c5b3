#!/usr/bin/env python3
"""The oracle's classifications, each checked against a real slapd.

This keeps the other tests honest: if a Postfix update changed what postmap
prints, the probe matrix would compare against nonsense without this.
"""

import os

from lhctest import harness, oracle, tables


class Oracle(harness.SlapdTestCase):

    def verdict(self, name, params, key=tables.FOUND_KEY, limit=10.0):
        path = tables.write_table(os.path.join(self.ldap.dir, name + ".cf"), params)
        return oracle.postmap_verdict(path, key, limit)

    def test_found(self):
        v = self.verdict("found", tables.bind_yes(self.ldap))
        self.assertEqual((v.verdict, v.stdout.strip()), ("found", tables.FOUND_VALUE), v.stderr)
        self.assertLess(v.elapsed, 1.0, "tables.write_table should keep postmap from waiting")

    def test_notfound(self):
        v = self.verdict("notfound", tables.bind_yes(self.ldap), key=tables.NOTFOUND_KEY)
        self.assertEqual(v.verdict, "notfound", v.stderr)

    def test_tempfail_on_bind_error(self):
        v = self.verdict("wrongpw", tables.wrong_password(self.ldap))
        self.assertEqual(v.verdict, "tempfail", v.stderr)
        self.assertIn("query error", v.stderr)

    def test_tempfail_on_hang_within_timeout(self):
        self.ldap.hang()
        v = self.verdict("hung", tables.bind_yes(self.ldap, timeout=1), limit=5)
        self.assertEqual(v.verdict, "tempfail", v.stderr)
        self.assertFalse(v.timed_out, "Postfix bounds a plain-LDAP bind by its timeout")

    def test_unanswered_ldaps_handshake_as_the_installed_libldap_does(self):
        # libldap 2.5 (Debian 12) waits for the handshake for good: postmap hangs and is
        # killed at the limit. libldap 2.6 (Debian 13) gives up at the table's timeout.
        self.ldap.hang()
        v = self.verdict("hung-ldaps", tables.ldaps(self.ldap, timeout=1), limit=3)
        self.assertEqual(v.verdict, "tempfail")
        release = ".".join(map(str, oracle.postmap_libldap()))
        if oracle.postmap_bounds_tls_handshake():
            self.assertFalse(v.timed_out, f"libldap {release} should end the handshake at 1 s")
            self.assertIn("query error", v.stderr)
        else:
            self.assertTrue(v.timed_out, f"libldap {release} now bounds the TLS handshake: "
                            "move its version in postmap_bounds_tls_handshake()")

    def test_config_error(self):
        v = self.verdict("bad", dict(tables.bind_yes(self.ldap), timeout="5x"))
        self.assertEqual(v.verdict, "config-error", v.stderr)
        self.assertIn("bad numerical configuration", v.stderr)


if __name__ == "__main__":
    harness.main()

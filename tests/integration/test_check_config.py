#!/usr/bin/env python3
"""--check-config: exit 0 on a good table, 78 and `file:line:` on a broken one.

Postfix's own verdict on each file is checked too, so a "broken" file here is
one Postfix refuses as well (postmap: config-error).
"""

import os
import tempfile

from lhctest import harness, oracle, tables


class CheckConfig(harness.SlapdTestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="lhc-cf-", dir=self.ldap.dir)

    def table(self, name, params):
        return tables.write_table(os.path.join(self.dir, name), params)

    def check(self, *paths):
        result = harness.run(["--check-config", *harness.conffile_args(*paths)], limit=20)
        harness.assert_no_secret(self, result.stdout, result.stderr)
        harness.assert_log_format(self, result.stderr)
        return result

    def test_good_file(self):
        path = self.table("good.cf", tables.bind_yes(self.ldap))
        result = self.check(path)
        self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)

    def test_good_files_several(self):
        a = self.table("a.cf", tables.bind_yes(self.ldap))
        b = self.table("b.cf", tables.ldapi_external(self.ldap))
        self.assertEqual(self.check(a, b).returncode, harness.EXIT_OK)

    def break_table(self, name, parameter, value):
        """A table Postfix itself refuses; returns (path, line of the fault)."""
        path = self.table(name, tables.bind_yes(self.ldap))
        line = tables.set_parameter(path, parameter, value)
        os.utime(path, (0, 0))  # keep postmap from waiting on a fresh file
        verdict = oracle.postmap_verdict(path, tables.FOUND_KEY, 10)
        self.assertEqual(verdict.verdict, "config-error", "Postfix accepts it: " + verdict.stderr)
        return path, line

    def assert_refused(self, result, path, line):
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assertIn("%s:%d:" % (path, line), result.stderr)

    def test_bad_number(self):
        path, line = self.break_table("bad-timeout.cf", "timeout", "5x")
        self.assert_refused(self.check(path), path, line)

    def test_bad_number_in_second_file(self):
        good = self.table("good.cf", tables.bind_yes(self.ldap))
        bad, line = self.break_table("bad-version.cf", "version", "three")
        self.assert_refused(self.check(good, bad), bad, line)

    def test_missing_file(self):
        result = self.check(os.path.join(self.dir, "absent.cf"))
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assertIn("absent.cf", result.stderr)

    def test_usage_error(self):
        result = harness.run(["--no-such-option"], limit=10)
        self.assertEqual(result.returncode, harness.EXIT_USAGE, result.stderr)

    def test_no_ldap_traffic(self):
        # --check-config must not need the server: it passes with slapd stopped.
        path = self.table("offline.cf", tables.bind_yes(self.ldap))
        self.ldap.stop()
        try:
            self.assertEqual(self.check(path).returncode, harness.EXIT_OK)
        finally:
            self.ldap.start()

    def test_fifo_is_refused_at_once(self):
        # A FIFO with no writer used to block the reader for ever (and a reload with it).
        fifo = os.path.join(self.dir, "fifo.cf")
        os.mkfifo(fifo)
        result = harness.run(["--check-config", "--conffile", fifo], limit=10)
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assertLess(result.elapsed, 1.0)
        self.assertIn(fifo + ": not a regular file (FIFO)", result.stderr)

    def write_bytes(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (0, 0))  # keep postmap from waiting on a fresh file
        return path

    def test_nul_byte_judged_as_postfix_does(self):
        # Postfix ends each logical line at its first NUL: in a name that leaves no '=' (refused),
        # in a value it cuts the value (accepted); at the start of a line it leaves no name.
        params = tables.bind_yes(self.ldap)
        good = "".join("%s = %s\n" % kv for kv in params.items()).encode()
        cases = {
            "nul-name.cf": (good + b"bind_dn\0 = cn=x\n", 4 + len(params)),
            "nul-value.cf": (good + b"search_base = " + params["search_base"].encode()
                             + b"\0,dc=junk\n  ,dc=more\n", None),
            "nul-first.cf": (good + b"\0version = 3\n", 4 + len(params)),
        }
        for name, (data, line) in cases.items():
            with self.subTest(name):
                path = self.write_bytes(name, b"# NUL cases\n\n\n" + data)
                verdict = oracle.postmap_verdict(path, tables.FOUND_KEY, 10)
                result = self.check(path)
                self.assertNotIn("\0", result.stderr)
                if line is None:
                    self.assertEqual(verdict.verdict, "found", verdict.stderr)
                    self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)
                else:
                    self.assertEqual(verdict.verdict, "config-error", verdict.stderr)
                    self.assert_refused(result, path, line)


if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""`--once` loads Cyrus SASL's mechanism plugins only when a table binds with SASL.

libldap starts SASL with its first handle, and SASL then opens every plugin installed
(shared libraries, some pulling in libcrypto): a large part of what a one-shot probe costs.
A round whose tables all bind simply or anonymously must load none and still probe as
before; a table with `bind = sasl` must get them all, as Postfix does. The dynamic loader
itself (LD_DEBUG=files) says which libraries the process opened.
"""

import glob
import os
import re
import unittest

from lhctest import harness, tables

# LD_DEBUG=files names each library as it is loaded: "file=/usr/lib/.../sasl2/libplain.so [0];"
PLUGIN_LOADED = re.compile(r"file=(\S*/sasl2/lib[^/\s]*\.so)")


def installed_plugins():
    return glob.glob("/usr/lib/*/sasl2/lib*.so") + glob.glob("/usr/lib/sasl2/lib*.so")


class SaslPlugins(harness.SlapdTestCase):

    @classmethod
    def setUpClass(cls):
        if not installed_plugins():
            raise unittest.SkipTest("no Cyrus SASL plugin installed (package libsasl2-modules)")
        super().setUpClass()

    def once(self, *paths):
        """Runs --once on `paths`; returns (result, the SASL plugins the process loaded)."""
        env = dict(os.environ, LD_DEBUG="files")
        result = harness.run(["--once", *harness.conffile_args(*paths)], env=env)
        detail = "\nstdout: %s\nstderr: %s" % (result.stdout, result.stderr[-3000:])
        self.assertEqual(result.returncode, harness.EXIT_OK, detail)
        self.assertTrue(result.stdout.startswith("healthy:"), detail)
        return result, sorted(set(PLUGIN_LOADED.findall(result.stderr)))

    def test_simple_bind_loads_no_plugin(self):
        _, loaded = self.once(self.table("simple.cf", tables.bind_yes(self.ldap)))
        self.assertEqual(loaded, [])

    def test_starttls_and_anonymous_load_no_plugin(self):
        starttls = self.table("starttls.cf", tables.starttls(self.ldap))
        anonymous = self.table("anonymous.cf", tables.anonymous(self.ldap))
        _, loaded = self.once(starttls, anonymous)
        self.assertEqual(loaded, [])

    def test_sasl_bind_loads_the_plugins(self):
        _, loaded = self.once(self.table("external.cf", tables.ldapi_external(self.ldap)))
        self.assertNotEqual(loaded, [], "bind = sasl must find the installed mechanisms")

    def test_one_sasl_table_among_others_loads_the_plugins(self):
        simple = self.table("simple.cf", tables.bind_yes(self.ldap))
        external = self.table("external.cf", tables.ldapi_external(self.ldap))
        _, loaded = self.once(simple, external)
        self.assertNotEqual(loaded, [])


if __name__ == "__main__":
    harness.main()

#!/usr/bin/env python3
"""Zero-configuration discovery with the real postconf(1) on a Postfix config dir of our own.

Tables are named through $config_directory, ${config_directory}, $(config_directory), the
admin's own parameters (one nested in another) and master.cf -o overrides. The oracle is
Postfix itself: `postconf -c DIR -x` shows what Postfix expands each name to, and the binary
must watch exactly those files. Also, as the real binary runs it: a postconf that hangs
is killed at the deadline, and postconf starts with default signals although the daemon
blocks SIGTERM, SIGINT and SIGHUP and ignores SIGPIPE.

--check-config does not contact the server, so no slapd is needed here: only postconf.
"""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

from lhctest import harness, proc, tables

POSTCONF_DEADLINE = 10.0  # src/postfix_tables.hpp: postconf_deadline
WATCHING = re.compile(r"watching the LDAP tables Postfix uses: (.*)$", re.M)

MASTER_CF = "smtp      inet  n       -       y       -       -       smtpd\n"


def find_postconf():
    return proc.find_program("postconf")


def watched(stderr):
    m = WATCHING.search(stderr)
    return m.group(1).split(", ") if m else []


class Discovery(unittest.TestCase):

    def setUp(self):
        self.postconf = find_postconf()
        self.dir = tempfile.mkdtemp(prefix="lhc-postfix-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        # As a main.cf that was not written a moment ago: Postfix reads a file changed in the
        # last second again ("pausing to let it cool down"), and Postfix 3.10's postconf
        # then forgets `-c DIR` and expands $config_directory to /etc/postfix.
        cool = time.time() - 10
        os.utime(path, (cool, cool))
        return path

    def table(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return tables.write_table(path, tables.base("ldap://127.0.0.1:9/"))

    def ask_postfix(self, *args):
        """The oracle: postconf's own answer for this config dir."""
        proc = subprocess.run([self.postconf, "-c", self.dir, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def fake_postconf(self, body, shell="/bin/sh"):
        path = self.write("fake-postconf", "#!%s\necho $$ > \"$0.pid\"\n%s\n" % (shell, body))
        os.chmod(path, stat.S_IRWXU)
        return path

    def test_names_through_variables_are_found_as_postfix_expands_them(self):
        d = self.dir
        ldap_dir = os.path.join(d, "ldap")
        self.write("main.cf", "\n".join([
            "my_ldap_dir = " + ldap_dir,
            "my_nested_dir = $my_ldap_dir/nested",
            "virtual_alias_maps = ldap:$config_directory/dollar.cf",
            "virtual_mailbox_maps = proxy:ldap:${config_directory}/braces.cf",
            "relay_recipient_maps = ldap:$(config_directory)/parens.cf",
            "smtpd_sender_login_maps = ldap:$my_ldap_dir/user.cf",
            "transport_maps = proxy:ldap:${my_nested_dir}/nested.cf",
            "",
        ]))
        self.write("master.cf", MASTER_CF + "\n".join([
            "2525      inet  n       -       y       -       -       smtpd",
            "  -o local_recipient_maps=proxy:ldap:$config_directory/override.cf",
            "  -o smtpd_client_restrictions=check_client_access,ldap:$my_ldap_dir/client.cf",
            "",
        ]))
        expected = {self.table(p) for p in (
            d + "/dollar.cf", d + "/braces.cf", d + "/parens.cf", ldap_dir + "/user.cf",
            ldap_dir + "/nested/nested.cf", d + "/override.cf", ldap_dir + "/client.cf")}

        # What Postfix itself makes of each name.
        main = self.ask_postfix("-x", "virtual_alias_maps", "virtual_mailbox_maps",
                                "relay_recipient_maps", "smtpd_sender_login_maps",
                                "transport_maps")
        self.assertEqual(main, "virtual_alias_maps = ldap:%s/dollar.cf\n"
                               "virtual_mailbox_maps = proxy:ldap:%s/braces.cf\n"
                               "relay_recipient_maps = ldap:%s/parens.cf\n"
                               "smtpd_sender_login_maps = ldap:%s/user.cf\n"
                               "transport_maps = proxy:ldap:%s/nested/nested.cf\n"
                         % (d, d, d, ldap_dir, ldap_dir))
        master = self.ask_postfix("-P", "-x")
        self.assertIn("2525/inet/local_recipient_maps = proxy:ldap:%s/override.cf" % d, master)
        self.assertIn("2525/inet/smtpd_client_restrictions = check_client_access,ldap:%s/client.cf"
                      % ldap_dir, master)

        result = harness.run(["--check-config", "--postconf", self.postconf,
                              "--postfix-config-dir", d, "--debug"], limit=30)
        self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)
        self.assertEqual(set(watched(result.stderr)), expected, result.stderr)
        self.assertNotIn("not watched", result.stderr)

    def test_relative_name_after_expansion_is_skipped_with_a_reason(self):
        found = self.table(os.path.join(self.dir, "found.cf"))
        self.write("main.cf", "my_prefix = relative\n"
                              "virtual_alias_maps = ldap:$config_directory/found.cf\n"
                              "relay_domains = ldap:$my_prefix\n")
        self.write("master.cf", MASTER_CF)
        self.assertEqual(self.ask_postfix("-x", "relay_domains"), "relay_domains = ldap:relative\n")
        result = harness.run(["--check-config", "--postconf", self.postconf,
                              "--postfix-config-dir", self.dir], limit=30)
        self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)
        self.assertEqual(watched(result.stderr), [found])
        self.assertRegex(result.stderr, r"<4>ldap:relative: not an absolute path after Postfix's "
                                        r"\$name expansion.*not watched")

    def test_hung_postconf_is_killed_at_the_deadline(self):
        fake = self.fake_postconf("exec sleep 600")
        result = harness.run(["--check-config", "--postconf", fake], limit=POSTCONF_DEADLINE + 20)
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assertIn("%s -x did not answer within 10 s" % fake, result.stderr)
        self.assertGreaterEqual(result.elapsed, POSTCONF_DEADLINE)
        self.assertLess(result.elapsed, POSTCONF_DEADLINE + 5)
        with open(fake + ".pid") as f:
            pid = int(f.read())
        self.assertFalse(os.path.exists("/proc/%d" % pid), "the hung postconf still runs")

    def test_daemon_runs_postconf_with_default_signals(self):
        # The daemon (not --check-config) blocks SIGTERM/SIGINT/SIGHUP before it asks postconf.
        # bash keeps that mask across exec (dash would clear it); awk reports its own state.
        fake = self.fake_postconf(
            "exec awk '/^SigBlk/ { b = $2 } /^SigIgn/ { i = $2 } END { print "
            "\"virtual_alias_maps = ldap:/SigBlk-\" b \"/SigIgn-\" i \".cf\" }' /proc/self/status",
            shell="/bin/bash")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        result = harness.run(["--postconf", fake], limit=30, env=env)
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        masks = watched(result.stderr)
        self.assertEqual(len(masks), 1, result.stderr)
        blocked, ignored = re.match(r"/SigBlk-(\w+)/SigIgn-(\w+)\.cf", masks[0]).groups()
        self.assertEqual(int(blocked, 16), 0, masks[0])
        # Signals 1-31: glibc's posix_spawn leaves its internal signals 32 and 33 ignored.
        self.assertEqual(int(ignored, 16) & 0x7FFFFFFF, 0, masks[0])


def main():
    if not find_postconf():
        print("SKIP: postconf not found; install postfix")
        sys.exit(harness.SKIP)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unittest.main(verbosity=2, buffer=False)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""--nss-user NAME: the NSS path of Postfix's unix:passwd.byname, bounded.

Users come from the host's own NSS (root is in /etc/passwd everywhere). A hung NSS source
is made in a mount namespace of the test's own: a FIFO with no writer bound over
/etc/passwd makes the files module's open() wait for good, as a getpwnam() waits on an nslcd
or sssd that waits on a dead directory. --check-config's warning reads /etc/nsswitch.conf,
which the test replaces the same way, and local_recipient_maps from a fake postconf.
"""

import os
import shutil
import tempfile
import time
import unittest

from lhctest import harness, tables
from lhctest.notify import NotifyListener

REAL_BINARY = harness.binary()  # before any test points $LHC_BINARY at a wrapper
TIMEOUT = 2  # the table's `timeout`: the bound of the NSS lookups too
MARGIN = 1.5


def binary_in_namespace(test, binds):
    """From now on in `test`, the harness runs the binary in a mount namespace of its own with
    each (source, target) of `binds` bound: a wrapper script that execs it there (the PID stays
    the binary's) replaces $LHC_BINARY until the test ends."""
    wrapper = os.path.join(tempfile.mkdtemp(prefix="lhc-ns-"), "ldap-health-check")
    test.addCleanup(shutil.rmtree, os.path.dirname(wrapper), True)
    mounts = " && ".join('mount --bind "%s" "%s"' % b for b in binds)
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec unshare --mount --propagation private sh -c '%s && exec \"$0\" \"$@\"' "
                '"%s" "$@"\n' % (mounts, REAL_BINARY))
    os.chmod(wrapper, 0o755)
    old = os.environ.get("LHC_BINARY")
    os.environ["LHC_BINARY"] = wrapper
    test.addCleanup(lambda: os.environ.__setitem__("LHC_BINARY", old) if old is not None
                    else os.environ.pop("LHC_BINARY", None))


class NssUser(harness.SlapdTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            raise unittest.SkipTest("needs root and unshare for mount namespaces")
        super().setUpClass()

    def setUp(self):
        super().setUp()
        self.table_file = self.table("nss.cf", tables.bind_yes(self.ldap, timeout=TIMEOUT))
        self.tmp = tempfile.mkdtemp(prefix="lhc-nss-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_existing_user_is_healthy(self):
        r = harness.run(["--once", "--conffile", self.table_file, "--nss-user", "root"])
        self.assertEqual(r.returncode, harness.EXIT_OK, r.stdout + r.stderr)
        self.assertIn("1 NSS user", r.stdout)

    def test_unknown_user_fails_naming_user_and_path(self):
        r = harness.run(["--once", "--conffile", self.table_file, "--nss-user", "root",
                         "--nss-user", "lhc-no-such-user"])
        self.assertEqual(r.returncode, harness.EXIT_UNAVAILABLE, r.stdout + r.stderr)
        for part in ("NSS user lhc-no-such-user", 'getpwnam("lhc-no-such-user")', "550 5.1.1"):
            self.assertIn(part, r.stdout)

    def hung_passwd(self):
        fifo = os.path.join(self.tmp, "passwd")
        os.mkfifo(fifo)
        return [(fifo, "/etc/passwd")]

    def test_hung_nss_is_bounded_in_once(self):
        binary_in_namespace(self, self.hung_passwd())
        t0 = time.monotonic()
        r = harness.run(["--once", "--conffile", self.table_file, "--nss-user", "root"],
                        limit=TIMEOUT + 20)
        elapsed = time.monotonic() - t0
        self.assertEqual(r.returncode, harness.EXIT_UNAVAILABLE, r.stdout + r.stderr)
        self.assertIn("no answer within %d s" % TIMEOUT, r.stdout)
        self.assertLess(elapsed, TIMEOUT + MARGIN, r.stdout + r.stderr)

    def test_hung_nss_stops_the_daemon(self):
        interval, failures = 0.2, 3
        notify = NotifyListener()
        self.addCleanup(notify.close)
        binary_in_namespace(self, self.hung_passwd())
        args = ["--conffile", self.table_file, "--nss-user", "root", "--interval", str(interval),
                "--retry-interval", str(interval), "--failures", str(failures)]
        t0 = time.monotonic()
        daemon = harness.Daemon(args, notify)
        self.addCleanup(daemon.kill)
        # Never ready: the first rounds already hang; rounds overlap, so the third failure
        # comes about one NSS bound after the first round started.
        rc = daemon.wait(TIMEOUT + 20)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE, daemon.stderr())
        self.assertLess(elapsed, interval * failures + TIMEOUT + MARGIN, daemon.stderr())
        self.assertNotIn("READY=1", notify.text())
        self.assertIn("NSS user root", daemon.stderr())


FAKE_POSTCONF = """#!/bin/sh
# Answers `postconf -x -h local_recipient_maps` only.
echo '{maps}'
"""


class CheckConfigNssPath(harness.SlapdTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            raise unittest.SkipTest("needs root and unshare for mount namespaces")
        super().setUpClass()

    def check(self, maps, nsswitch, *extra):
        tmp = tempfile.mkdtemp(prefix="lhc-nsswitch-")
        self.addCleanup(shutil.rmtree, tmp, True)
        postconf = os.path.join(tmp, "postconf")
        with open(postconf, "w") as f:
            f.write(FAKE_POSTCONF.format(maps=maps))
        os.chmod(postconf, 0o755)
        conf = os.path.join(tmp, "nsswitch.conf")
        with open(conf, "w") as f:
            f.write(nsswitch)
        table = self.table("check.cf", tables.bind_yes(self.ldap))
        binary_in_namespace(self, [(conf, "/etc/nsswitch.conf")])
        r = harness.run(["--check-config", "--conffile", table, "--postconf", postconf, *extra])
        self.assertEqual(r.returncode, harness.EXIT_OK, r.stderr)
        return r.stderr

    DEFAULT_MAPS = "proxy:unix:passwd.byname"

    def test_warns_when_passwd_goes_to_a_directory_unwatched(self):
        for source, daemon in (("ldap", "nslcd"), ("sss", "sssd")):
            with self.subTest(source):
                err = self.check(self.DEFAULT_MAPS, "passwd: files %s\ngroup: files\n" % source)
                self.assertIn("the NSS path is not watched", err)
                self.assertIn(daemon, err)
                self.assertIn("--nss-user", err)

    def test_quiet_when_watched_or_not_in_a_directory(self):
        for maps, nsswitch, extra in (
                (self.DEFAULT_MAPS, "passwd: files ldap\n", ["--nss-user", "root"]),
                (self.DEFAULT_MAPS, "passwd: files systemd\n# passwd: ldap\n", []),
                ("hash:/etc/postfix/local_users", "passwd: files ldap\n", []),
                ("", "passwd: files sss\n", [])):
            with self.subTest(maps=maps, nsswitch=nsswitch):
                self.assertNotIn("NSS path", self.check(maps, nsswitch, *extra))


if __name__ == "__main__":
    harness.main()

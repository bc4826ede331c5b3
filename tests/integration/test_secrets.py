#!/usr/bin/env python3
"""No output of the binary ever carries a bind password.

A distinctive canary password is set on the server and in the tables; every
mode (--once, --check-config, the daemon through reload and outage) runs with
--debug, where the effective configuration is logged, and on paths that tend
to quote input: a failed bind, a malformed bind_pw line.
"""

import resource
import signal

from lhctest import harness, slapd, tables
from lhctest.notify import NotifyListener

CANARY = "Canary-Bind-Pw-5150-xQ"
WRONG_CANARY = "Canary-Wrong-Pw-6161-yR"
# Only letters, digits and '_', as a parameter name: the old reader echoed such a leading word.
WORD_CANARY = "CanaryOwnLinePw_7272"


class Secrets(harness.SlapdTestCase):
    @classmethod
    def prepare_directory(cls):
        cls.ldap.change_password(slapd.SERVICE_DN, CANARY)

    def assert_clean(self, *texts):
        for text in texts:
            for secret in (CANARY, WRONG_CANARY) + harness.SECRETS:
                self.assertNotIn(secret, text)

    def test_once_debug_every_kind(self):
        closed = slapd.ClosedPort()
        self.addCleanup(closed.close)
        cases = {
            "good.cf": (tables.bind_yes(self.ldap, password=CANARY), harness.EXIT_OK),
            "starttls.cf": (dict(tables.starttls(self.ldap), bind_pw=CANARY), harness.EXIT_OK),
            "wrong.cf": (tables.wrong_password(self.ldap, password=WRONG_CANARY), harness.EXIT_UNAVAILABLE),
            "closed.cf": (dict(tables.closed_port(self.ldap, closed), bind_pw=CANARY), harness.EXIT_UNAVAILABLE),
        }
        for name, (params, expected) in cases.items():
            with self.subTest(name):
                result = harness.run(["--once", "--debug", "--probe-key", tables.FOUND_KEY,
                                      "--conffile", self.table(name, params)])
                self.assertEqual(result.returncode, expected, result.stderr)
                self.assert_clean(result.stdout, result.stderr)

    def test_check_config_debug(self):
        good = self.table("cc-good.cf", tables.bind_yes(self.ldap, password=CANARY))
        result = harness.run(["--check-config", "--debug", "--conffile", good])
        self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)
        self.assert_clean(result.stdout, result.stderr)

    def test_malformed_password_line_is_not_quoted(self):
        path = self.table("cc-bad.cf", tables.bind_yes(self.ldap, password=CANARY))
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("bind_pw = " + CANARY, "bind_pw " + CANARY))
        # Postfix itself quotes the whole line: `fatal: FILE, line N: missing
        # '=' after attribute name: "bind_pw SECRET"`.  We must not.
        result = harness.run(["--check-config", "--debug", "--conffile", path])
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assert_clean(result.stdout, result.stderr)

    def test_password_on_its_own_line_is_not_quoted(self):
        # "bind_pw = \" does not continue the line in Postfix: the password becomes a line of
        # its own, all of it secret, refused for its missing '='.
        path = self.table("own-line.cf", tables.bind_yes(self.ldap, password=WORD_CANARY))
        with open(path) as f:
            lines = f.read().splitlines()
        number = lines.index("bind_pw = " + WORD_CANARY)
        lines[number:number + 1] = ["bind_pw = \\", WORD_CANARY]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        result = harness.run(["--check-config", "--debug", "--conffile", path])
        self.assertEqual(result.returncode, harness.EXIT_CONFIG, result.stderr)
        self.assertIn("%s:%d: missing '=' after attribute name" % (path, number + 2), result.stderr)
        self.assert_clean(result.stdout, result.stderr)
        self.assertNotIn(WORD_CANARY, result.stdout + result.stderr)

    def test_daemon_debug_reload_and_outage(self):
        path = self.table("daemon.cf", tables.bind_yes(self.ldap, password=CANARY, timeout=2))
        with NotifyListener() as notify, \
                harness.Daemon(["--conffile", path, "--interval", "0.1", "--retry-interval", "0.1",
                                "--failures", "2", "--probe-key", tables.FOUND_KEY, "--debug"],
                               notify) as daemon:
            self.assertIsNotNone(notify.wait_for("READY=1", limit=10, proc=daemon), daemon.stderr())
            mark = notify.count()
            daemon.signal(signal.SIGHUP)
            self.assertIsNotNone(notify.wait_for("READY=1", after=mark, limit=10, proc=daemon), daemon.stderr())
            self.ldap.stop()
            self.assertEqual(daemon.wait(15), harness.EXIT_UNAVAILABLE, daemon.stderr())
            self.assert_clean(daemon.stdout(), daemon.stderr(), notify.text())

    def start_daemon(self, name, notify):
        path = self.table(name, tables.bind_yes(self.ldap, password=CANARY, timeout=2))
        daemon = harness.Daemon(["--conffile", path, "--interval", "0.1", "--probe-key",
                                 tables.FOUND_KEY, "--debug"], notify)
        self.addCleanup(daemon.kill)
        self.assertIsNotNone(notify.wait_for("READY=1", limit=10, proc=daemon), daemon.stderr())
        return daemon

    def test_debug_shows_password_masked(self):
        path = self.table("masked.cf", tables.bind_yes(self.ldap, password=CANARY))
        result = harness.run(["--check-config", "--debug", "--conffile", path])
        self.assertEqual(result.returncode, harness.EXIT_OK, result.stderr)
        self.assertIn(path + ": bind_pw = ***", result.stderr)
        self.assert_clean(result.stdout, result.stderr)

    def test_password_not_in_argv_or_environment(self):
        # The password reaches the process only through the table file: nothing in
        # /proc/PID/cmdline or /proc/PID/environ (what ps e and other local users' tools
        # read) may carry it, before and after a reload.
        with NotifyListener() as notify:
            daemon = self.start_daemon("proc.cf", notify)
            for stage in ("running", "reloaded"):
                with self.subTest(stage):
                    for name in ("cmdline", "environ"):
                        with open("/proc/%d/%s" % (daemon.pid, name), "rb") as f:
                            data = f.read().decode(errors="replace")
                        self.assertTrue(data, name)
                        self.assert_clean(data)
                mark = notify.count()
                daemon.signal(signal.SIGHUP)
                self.assertIsNotNone(notify.wait_for("READY=1", after=mark, limit=10, proc=daemon))
            self.assert_clean(daemon.stdout(), daemon.stderr(), notify.text())

    def test_crash_prints_no_password(self):
        # A crash (no core dump: RLIMIT_CORE 0, as under LimitCORE=0) must print nothing of
        # the password either, whatever prints the crash: the kernel, libc, a sanitizer.
        old = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, old[1]))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_CORE, old)
        for sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            with self.subTest(sig.name), NotifyListener() as notify:
                daemon = self.start_daemon("crash-%s.cf" % sig.name, notify)
                daemon.signal(sig)
                rc = daemon.wait(10)
                self.assertIsNotNone(rc, "still running after %s" % sig.name)
                self.assertNotEqual(rc, harness.EXIT_OK, daemon.stderr())
                self.assert_clean(daemon.stdout(), daemon.stderr(), notify.text())


if __name__ == "__main__":
    harness.main()

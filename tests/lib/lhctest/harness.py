"""Running the built ldap-health-check binary from integration tests.

The binary comes from $LHC_BINARY (set by tests/meson.build), or
build/src/ldap-health-check when a test script is run by hand.  Every wait is
bounded, every child is killed and reaped in cleanup.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

from lhctest import oracle, proc, slapd, tables

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

EXIT_OK = 0
EXIT_USAGE = 64
EXIT_UNAVAILABLE = 69
EXIT_INTERNAL = 70
EXIT_CONFIG = 78

SKIP = 77  # meson: test skipped

# Passwords that must never show up in anything the binary prints or sends.
SECRETS = (slapd.SERVICE_PW, slapd.ROOT_PW, "Wrong-Pw-Not-Svc-9")

PRIORITY_LINE = re.compile(r"^<[0-7]>")


def binary():
    return os.environ.get("LHC_BINARY") or os.path.join(REPO, "build", "src", "ldap-health-check")


def require_components():
    """Exit 77 (skipped) when slapd, the LDAP tools or postmap are missing."""
    missing = slapd.missing_tools()
    if not oracle.find_postmap():
        missing.append("postmap (package postfix-ldap)")
    if missing:
        print("SKIP: missing %s; install slapd ldap-utils postfix-ldap openssl" % ", ".join(missing))
        sys.exit(SKIP)


def main():
    """unittest.main() for a test script registered in meson."""
    require_components()
    # meson ends a test that runs too long with SIGTERM: unwind like ^C so
    # that the atexit hooks stop slapd and remove the temporary directories.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unittest.main(verbosity=2, buffer=False)


def run(args, limit=30.0, env=None):
    """Run the binary to completion (killed after `limit` s); return a proc.Result."""
    result = proc.run([binary(), *args], limit, env)
    if result.timed_out:
        result = result._replace(stderr=result.stderr + "\n[harness: killed after %.1f s]\n" % limit)
    return result


def conffile_args(*tables):
    args = []
    for t in tables:
        args += ["--conffile", t]
    return args


def assert_no_secret(test, *texts):
    for text in texts:
        for secret in SECRETS:
            test.assertNotIn(secret, text, "a password leaked into the output")


def assert_log_format(test, stderr):
    """One event a line, each with an sd-daemon priority prefix."""
    for line in stderr.splitlines():
        if line.startswith("[harness"):
            continue
        test.assertRegex(line, PRIORITY_LINE, "log line without <N> prefix")


class Daemon:
    """The binary in daemon mode, talking to a lhctest.notify.NotifyListener.

    watchdog_pid: None leaves $WATCHDOG_PID unset; True sets it to the
    daemon's own PID (through `sh -c 'exec'`, which keeps the PID).
    """

    def __init__(self, args, notify, watchdog_usec=60000000, watchdog_pid=None):
        env = dict(os.environ, NOTIFY_SOCKET=notify.path)
        env.pop("WATCHDOG_PID", None)
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        argv = [binary(), *args]
        if watchdog_pid:
            argv = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"', *argv]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                                     preexec_fn=proc.die_with_parent)
        self.pid = self.proc.pid
        self._out, self._err = [], []
        self._cond = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(s, b), daemon=True)
                         for s, b in ((self.proc.stdout, self._out), (self.proc.stderr, self._err))]
        for r in self._readers:
            r.start()
        self.ended = None

    def _read(self, stream, buf):
        for line in stream:
            with self._cond:
                buf.append(line)
                self._cond.notify_all()

    def poll(self):
        rc = self.proc.poll()
        if rc is not None and self.ended is None:
            self.ended = time.monotonic()
        return rc

    def wait(self, limit):
        """Exit code, or None if still running after `limit` s."""
        try:
            rc = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            return None
        self.poll()
        for r in self._readers:
            r.join(2)
        return rc

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stderr(self):
        with self._cond:
            return "".join(self._err)

    def stdout(self):
        with self._cond:
            return "".join(self._out)

    def wait_for_log(self, pattern, limit=10.0, after=0):
        """First stderr line (index >= after) matching regex `pattern`, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                for line in self._err[after:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                    return None
                self._cond.wait(min(left, 0.05))

    def log_count(self):
        with self._cond:
            return len(self._err)

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        for r in self._readers:
            r.join(2)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()


class SlapdTestCase(unittest.TestCase):
    """A test class that shares one throwaway slapd, always cleaned up.

    Every test starts with the server running and not hung, whatever the
    previous test did to it.
    """

    ldap = None

    @classmethod
    def setUpClass(cls):
        cls.ldap = slapd.Slapd()
        try:
            cls.ldap.start()
            cls.prepare_directory()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def prepare_directory(cls):
        """Hook: change the directory once for the whole class."""

    @classmethod
    def tearDownClass(cls):
        cls.ldap.cleanup()

    def setUp(self):
        if self.ldap.hung:
            self.ldap.resume()
        if not self.ldap.running():
            self.ldap.start()

    def table(self, name, params):
        """Writes an ldap_table file in the server's directory; returns its path."""
        return tables.write_table(os.path.join(self.ldap.dir, name), params)

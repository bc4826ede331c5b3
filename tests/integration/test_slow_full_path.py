#!/usr/bin/env python3
"""A full path that fails slowly is an outage, whatever the kept connection says (issue 19).

slapd sits behind a proxy on loopback that delays every new connection (or stalls it for
good), while the connection the daemon keeps goes on answering. The rounds between full
paths search on that kept connection; until a full path ends well every round must take the
full path, or the kept rounds started beside a slow one pass and hide its failure for ever.
postmap is the oracle for "a new Postfix process fails".
"""

import socket
import threading
import time

from lhctest import harness, oracle, slapd, tables
from lhctest.notify import NotifyListener

DELAY = 0.4          # seconds added to every new connection, as a slow link would
INTERVAL = 0.5
RETRY = 0.25
FULL_PROBE = 3
FAILURES = 3
TIMEOUT = 3          # `timeout =` in the table
MARGIN = 2.0


class DelayingProxy:
    """Forwards 127.0.0.1:port to slapd; each new connection waits `delay` s before the
    proxy connects onwards, or for ever while `stall` is set."""

    def __init__(self, target_port, delay):
        self.delay = delay
        self.stall = threading.Event()
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.url = "ldap://127.0.0.1:%d/" % self._listener.getsockname()[1]
        self._held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        time.sleep(self.delay)  # the link's delay: nothing to poll for
        if self.stall.is_set():
            self._held.append(client)
            return
        upstream = socket.create_connection(self._target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        src.close()

    def close(self):
        self._listener.close()
        for c in self._held:
            c.close()


class SlowFullPath(harness.SlapdTestCase):
    def setUp(self):
        super().setUp()
        self.proxy = DelayingProxy(self.ldap.port, DELAY)
        self.addCleanup(self.proxy.close)
        self.table_file = self.table(self.id().rsplit(".", 1)[1] + ".cf",
                                     tables.bind_yes(self.proxy, timeout=TIMEOUT))
        self.notify = NotifyListener()
        self.addCleanup(self.notify.close)

    def start(self):
        args = ["--conffile", self.table_file, "--interval", str(INTERVAL), "--retry-interval",
                str(RETRY), "--full-probe-interval", str(FULL_PROBE), "--failures", str(FAILURES),
                "--probe-key", tables.FOUND_KEY]
        daemon = harness.Daemon(args, self.notify)
        self.addCleanup(lambda: harness.assert_no_secret(self, daemon.stderr(), self.notify.text()))
        self.addCleanup(daemon.kill)
        self.assertIsNotNone(self.notify.wait_for("READY=1", limit=10, proc=daemon),
                             daemon.stderr())
        return daemon

    def postmap(self):
        return oracle.postmap_verdict(self.table_file, tables.FOUND_KEY, TIMEOUT + 5)

    def assert_outage_within(self, daemon, bound, changed_at):
        rc = daemon.wait(bound)
        took = time.monotonic() - changed_at
        self.assertEqual(rc, harness.EXIT_UNAVAILABLE,
                         "still running %.1f s after the change (bound %.1f s): %s\n%s"
                         % (took, bound, self.notify.text()[-600:], daemon.stderr()[-1500:]))
        self.assertNotIn("LDAP answers again", daemon.stderr())
        print("detected after %.2f s (bound %.1f s)" % (took, bound))

    def test_a_changed_password_behind_a_slow_link_stops_the_daemon(self):
        daemon = self.start()
        self.ldap.change_password(slapd.SERVICE_DN, "Changed-Pw-Not-In-Table-7")
        self.addCleanup(self.ldap.change_password, slapd.SERVICE_DN, slapd.SERVICE_PW)
        changed = time.monotonic()
        verdict = self.postmap()
        self.assertEqual(verdict.verdict, "tempfail", verdict)
        # The next full path, the two started beside it, each DELAY plus a bind.
        bound = FULL_PROBE + INTERVAL + (FAILURES - 1) * RETRY + 2 * DELAY + MARGIN
        self.assert_outage_within(daemon, bound, changed)

    def test_new_connections_that_stall_stop_the_daemon(self):
        """slapd at its connection limit: new connections hang, the kept one answers."""
        daemon = self.start()
        self.proxy.stall.set()
        changed = time.monotonic()
        verdict = self.postmap()
        self.assertEqual(verdict.verdict, "tempfail", verdict)
        bound = FULL_PROBE + INTERVAL + (FAILURES - 1) * RETRY + TIMEOUT + 0.5 + MARGIN
        self.assert_outage_within(daemon, bound, changed)

    def test_a_slow_link_alone_stays_healthy(self):
        daemon = self.start()
        self.assertEqual(self.postmap().verdict, "found")
        after = self.notify.count()
        # Two full paths and the kept rounds between them.
        self.assertIsNone(daemon.wait(2 * FULL_PROBE + 1), daemon.stderr())
        self.assertGreaterEqual(self.notify.occurrences("WATCHDOG=1"), 2 * FULL_PROBE)
        self.assertNotIn("probe failed", daemon.stderr())
        self.assertIsNone(self.notify.find("READY=1", after), "READY=1 is sent once")


if __name__ == "__main__":
    harness.main()

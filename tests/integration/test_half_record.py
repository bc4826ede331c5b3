#!/usr/bin/env python3
"""A server that sends the first bytes of an answer on the kept connection and then nothing.

A proxy in front of slapd passes everything through until the test cuts: from then
on, a request that comes after a quiet spell (a search on the connection kept from
the last good round) is answered with only the first bytes of the server's next TLS
record (ldaps://, StartTLS) or, on a plain connection, of its next LDAP message, and
the connection is held open. libldap reads the rest of a message it has begun in a
blocking read: on a plain connection (TLS ones libldap 2.5 leaves non-blocking) that
read waited for good, and three such rounds on threads filled the rounds in flight:
no verdict, no watchdog ping. Every kind of round must still end within the table's timeout
(plus a grace) with a failure, wherever it runs: in the daemon's loop (one connection),
on a thread because of --nss-user, or side by side (two connections). A new connection
is not cut, as a new Postfix process would get an answer on one: the full path that
follows passes, and the daemon goes on.
"""

import os
import signal
import socket
import struct
import threading
import time

from lhctest import harness, tables
from lhctest.notify import NotifyListener

INTERVAL = 1.0
TIMEOUT = 2  # `timeout =` in the table
# The kept round that meets the cut starts within INTERVAL; its wait ends at TIMEOUT, then
# the step grace and scheduling.
GRACE = 1.5


def ber_length(sock, first):
    """The length of a BER element and the bytes that said it, after its first length byte."""
    if first < 0x80:
        return first, b""
    more = recv_exactly(sock, first & 0x7F)
    return (int.from_bytes(more, "big"), more) if more is not None else (None, None)


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class HalfRecordProxy:
    """TCP proxy to a TLS port; after cut(), see the module's docstring."""

    QUIET = 0.3  # seconds without traffic that make the next request a kept round's
    PASSED = 7  # bytes of the cut record passed on: its 5-byte header and 2 of its body

    def __init__(self, target_port):
        self.target_port = target_port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.cutting = False
        self.cutting_new = False  # the first answer on every new connection is cut too
        self.cuts = 0
        self._socks = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self.cutting = True

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._socks += [client, server]
            state = {"last": time.monotonic(), "cut_next": self.cutting_new}
            threading.Thread(target=self._upstream, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._downstream, args=(server, client, state), daemon=True).start()

    def _upstream(self, client, server, state):
        try:
            while data := client.recv(65536):
                now = time.monotonic()
                if self.cutting and now - state["last"] >= self.QUIET:
                    state["cut_next"] = True
                state["last"] = now
                server.sendall(data)
        except OSError:
            pass
        self._shut(server)

    @staticmethod
    def _next_unit(server):
        """The server's next TLS record, or before StartTLS its next LDAP message: (header,
        body), or None at the end."""
        head = recv_exactly(server, 2)
        if head is None:
            return None
        if head[0] == 0x30:  # an LDAP message in the clear (before StartTLS)
            length, more = ber_length(server, head[1])
            header = head + (more or b"")
        else:
            rest = recv_exactly(server, 3)
            length = None if rest is None else struct.unpack("!H", rest[1:3])[0]
            header = head + (rest or b"")
        body = recv_exactly(server, length) if length is not None else None
        return None if body is None else (header, body)

    def _downstream(self, server, client, state):
        try:
            while unit := self._next_unit(server):
                header, body = unit
                if state["cut_next"]:
                    client.sendall((header + body)[:self.PASSED])
                    self.cuts += 1
                    while server.recv(65536):  # swallowed: the client hears nothing more
                        pass
                    break
                state["last"] = time.monotonic()
                client.sendall(header + body)
        except OSError:
            return
        # The server ended; a cut connection stays open to the client all the same.
        if not state["cut_next"]:
            self._shut(client)

    @staticmethod
    def _shut(sock):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        with self._lock:
            for s in self._socks:
                s.close()


class HalfRecordLdaps(harness.SlapdTestCase):
    kind = "ldaps"

    def setUp(self):
        super().setUp()
        self.proxy = HalfRecordProxy(self.ldap.tls_port if self.kind == "ldaps" else self.ldap.port)
        self.addCleanup(self.proxy.close)
        self.notify = NotifyListener()
        self.addCleanup(self.notify.close)

    def cut_table(self, name, timeout=TIMEOUT):
        params = getattr(tables, self.kind)(self.ldap, timeout=timeout)
        scheme = "ldaps" if self.kind == "ldaps" else "ldap"
        params["server_host"] = "%s://127.0.0.1:%d/" % (scheme, self.proxy.port)
        return self.table(name, params)

    def start(self, args, failures=3):
        argv = ["--interval", str(INTERVAL), "--retry-interval", "0.25", "--failures", str(failures),
                "--full-probe-interval", "3600", "--probe-key", tables.FOUND_KEY, "--debug", *args]
        daemon = harness.Daemon(argv, self.notify)
        self.addCleanup(daemon.kill)
        return daemon

    def detail(self, daemon):
        return "\nnotify:\n%s\nstderr:\n%s" % (self.notify.text(), daemon.stderr())

    def assert_cut_round_fails_in_time(self, daemon, timeout):
        ready = self.notify.wait_for("READY=1", limit=10, proc=daemon)
        self.assertIsNotNone(ready, "no READY=1" + self.detail(daemon))
        # A good round on the kept connection first: the cut is what fails the next one.
        kept = self.notify.wait_for("WATCHDOG=1", after=ready + 1, limit=5, proc=daemon)
        self.assertIsNotNone(kept, "no round on the kept connection" + self.detail(daemon))
        logged = daemon.log_count()
        t0 = time.monotonic()
        self.proxy.cut()
        bound = INTERVAL + timeout + GRACE
        # The round that meets the cut fails, or, when a full path started beside it has
        # already answered for a later moment, ends without being counted.
        line = daemon.wait_for_log(r"probe failed \(1 of 3\)|not counted \(failed: ",
                                   limit=bound + 10, after=logged)
        elapsed = time.monotonic() - t0
        self.assertGreater(self.proxy.cuts, 0, "no record was cut: the test proves nothing")
        self.assertIsNotNone(line, "no failed round %.1f s after the cut%s" % (elapsed, self.detail(daemon)))
        self.assertLessEqual(elapsed, bound, line)
        self.assertIn("search", line)
        # The full path that follows makes a new connection, which answers: mail goes on.
        after = len(self.notify.messages)
        self.assertIsNotNone(self.notify.wait_for("WATCHDOG=1", after=after, limit=5, proc=daemon),
                             "no good round after the failed one" + self.detail(daemon))
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(5), harness.EXIT_OK, self.detail(daemon))

    def test_kept_round_in_the_daemons_loop(self):
        daemon = self.start(["--conffile", self.cut_table("loop.cf")])
        self.assert_cut_round_fails_in_time(daemon, TIMEOUT)

    def test_kept_round_on_a_thread_beside_nss(self):
        daemon = self.start(["--conffile", self.cut_table("nss.cf"), "--nss-user", "root"])
        self.assert_cut_round_fails_in_time(daemon, TIMEOUT)

    def test_kept_rounds_of_two_connections_side_by_side(self):
        # Different timeouts make different connection settings: two kept connections.
        daemon = self.start(["--conffile", self.cut_table("one.cf"),
                             "--conffile", self.cut_table("two.cf", TIMEOUT + 1)])
        self.assert_cut_round_fails_in_time(daemon, TIMEOUT + 1)

    def test_full_paths_cut_at_the_bind_leave_no_thread_behind(self):
        """New connections cut too: each full path's bind gets half an answer. The rounds must
        end at the timeout with their threads, or after max_stragglers (8) of them left
        waiting the daemon stops connecting at all and never sees the directory come back."""
        daemon = self.start(["--conffile", self.cut_table("full.cf")], failures=1000)
        self.assertIsNotNone(self.notify.wait_for("READY=1", limit=10, proc=daemon),
                             "no READY=1" + self.detail(daemon))
        self.proxy.cutting_new = True
        self.proxy.cut()
        deadline = time.monotonic() + 60
        while self.proxy.cuts < 12 and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.1)  # rounds of their own pace: nothing to wait on but the count
        self.assertGreaterEqual(self.proxy.cuts, 12, "too few cuts" + self.detail(daemon))
        self.proxy.cutting = self.proxy.cutting_new = False
        after = len(self.notify.messages)
        back = self.notify.wait_for("WATCHDOG=1", after=after, limit=INTERVAL + TIMEOUT + 5,
                                    proc=daemon)
        self.assertIsNotNone(back, "no good round once the cuts ended" + self.detail(daemon))
        self.assertNotIn("still wait for an answer", daemon.stderr())
        daemon.signal(signal.SIGTERM)
        self.assertEqual(daemon.wait(5), harness.EXIT_OK, self.detail(daemon))


class HalfRecordStartTls(HalfRecordLdaps):
    kind = "starttls"


class HalfMessagePlain(HalfRecordLdaps):
    kind = "plain"


if __name__ == "__main__":
    harness.main()

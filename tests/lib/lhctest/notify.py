"""A $NOTIFY_SOCKET for a daemon under test: the sd_notify datagram listener.

An AF_UNIX datagram socket in a private directory, read by a thread of its own until
closed (a daemon whose datagrams nobody reads blocks in sd_notify() and could not even act
on SIGTERM). Every datagram is kept with its arrival time as a list of KEY=VALUE lines, and
can be handed to a callback as it arrives.
"""

import atexit
import os
import shutil
import socket
import tempfile
import threading
import time

_LIVE = set()  # listeners not closed yet


@atexit.register
def _close_all():
    for listener in list(_LIVE):
        listener.close()


class NotifyListener:
    """on_message(lines), if given, runs in the listener's thread for every datagram before
    it is kept; receive_buffer sets SO_RCVBUF for daemons that send very fast."""

    def __init__(self, on_message=None, receive_buffer=None):
        self.dir = tempfile.mkdtemp(prefix="lhc-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        if receive_buffer:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.messages = []  # (monotonic time, [lines])
        self._on_message = on_message
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        _LIVE.add(self)

    def _loop(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if self._closed:
                return
            lines = data.decode(errors="replace").splitlines()
            if self._on_message:
                self._on_message(lines)
            with self._cond:
                self.messages.append((time.monotonic(), lines))
                self._cond.notify_all()

    def lines(self):
        """All KEY=VALUE lines so far, in order, as (index, time, line)."""
        with self._cond:
            return [(i, t, line) for i, (t, msg) in enumerate(self.messages) for line in msg]

    def count(self):
        with self._cond:
            return len(self.messages)

    def occurrences(self, line):
        """How many datagrams so far hold `line` (WATCHDOG=1: good rounds)."""
        with self._cond:
            return sum(1 for _, msg in self.messages if line in msg)

    def find(self, line, after=0):
        """Index of the first message at or after `after` holding `line`, or None."""
        with self._cond:
            for i in range(after, len(self.messages)):
                if line in self.messages[i][1]:
                    return i
        return None

    def wait_for(self, line, after=0, limit=10.0, proc=None):
        """Index of the first message >= after holding `line`; None after `limit` s.

        Stops early when `proc` (anything with poll()) has exited and nothing is pending.
        """
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                for i in range(after, len(self.messages)):
                    if line in self.messages[i][1]:
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                if proc is not None and proc.poll() is not None:
                    # Let a datagram sent just before exit land, then give up.
                    self._cond.wait(0.05)
                    proc = None
                    continue
                self._cond.wait(min(left, 0.05))

    def wait_count(self, line, n, limit, proc=None):
        """Blocks until `n` datagrams hold `line`, `limit` s pass or `proc` exits; returns
        how many do."""
        deadline = time.monotonic() + limit
        seen = scanned = 0
        with self._cond:
            while True:
                seen += sum(1 for _, msg in self.messages[scanned:] if line in msg)
                scanned = len(self.messages)
                left = deadline - time.monotonic()
                if seen >= n or left <= 0 or proc is not None and proc.poll() is not None:
                    return seen
                self._cond.wait(min(left, 0.05))

    def text(self):
        with self._cond:
            return "\n".join("\n".join(m) for _, m in self.messages)

    def close(self):
        _LIVE.discard(self)
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(2)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

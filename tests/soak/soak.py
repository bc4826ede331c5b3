#!/usr/bin/env python3
"""Soak: many probe rounds in a row without growth in memory or file descriptors.

The daemon probes a throwaway slapd on loopback every millisecond; a
NOTIFY_SOCKET listener counts WATCHDOG=1 datagrams (one per good round) and
samples the daemon's VmRSS, anonymous memory (smaps_rollup), open fds and
threads at round 1,000 (after warm-up) and at the last round (the lowest of
40 readings each time, so that a round in progress does not count). Fails on any
growth beyond RSS_TOLERANCE_KIB / ANON_TOLERANCE_KIB or on a single extra fd.

  LHC_SOAK_ROUNDS   rounds to run (default 10000; CI sets 100000)
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from lhctest import harness, proc, slapd, tables
from lhctest.notify import NotifyListener

ROUNDS = int(os.environ.get("LHC_SOAK_ROUNDS", "10000"))
WARMUP = min(1000, ROUNDS // 2)
RSS_TOLERANCE_KIB = 256
ANON_TOLERANCE_KIB = 256
STALL_SECONDS = 30  # no round at all for this long: the daemon is stuck
INTERVAL = "0.001"


def sample(pid):
    """Memory, fds and threads of a live process, in KiB and counts."""
    figures = {k: v for k, v in proc.status(pid).items() if k in ("VmRSS", "Threads")}
    figures["Anonymous"] = proc.smaps_rollup(pid)["Anonymous"]
    figures["fds"] = proc.fd_count(pid)
    return figures


def steady_sample(pid, n=40):
    """The smallest of each figure over n samples a few ms apart: a round in progress holds
    its new connection open next to the idle one, and a single sample could catch it."""
    low = sample(pid)
    for _ in range(n - 1):
        time.sleep(0.002)
        low = {k: min(v, low[k]) for k, v in sample(pid).items()}
    return low


class RoundCounter:
    """Counts good rounds as the datagrams arrive and samples the daemon at two of them."""

    def __init__(self):
        self.pid = None
        self.good = 0
        self.failed = 0
        self.samples = {}  # round -> (monotonic time, figures)
        self.last_round_at = time.monotonic()
        self.done = threading.Event()

    def __call__(self, lines):
        if "WATCHDOG=1" in lines:
            self.good += 1
            self.last_round_at = time.monotonic()
            if self.good in (WARMUP, ROUNDS):
                self.samples[self.good] = (time.monotonic(), steady_sample(self.pid))
            if self.good >= ROUNDS:
                self.done.set()
        elif any(line.startswith(("STATUS=LDAP failing", "STATUS=LDAP down")) for line in lines):
            self.failed += 1


def main():
    harness.require_components()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ldap = slapd.Slapd()
    work = tempfile.mkdtemp(prefix="lhc-soak-")
    counter = RoundCounter()
    notify = NotifyListener(on_message=counter, receive_buffer=1 << 20)
    daemon = None
    try:
        ldap.start()
        table = tables.write_table(os.path.join(ldap.dir, "soak.cf"), tables.bind_yes(ldap))
        env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="60000000")
        env.pop("WATCHDOG_PID", None)
        log = open(os.path.join(work, "stderr"), "w+")
        started = time.monotonic()
        daemon = subprocess.Popen([harness.binary(), "--conffile", table, "--interval", INTERVAL,
                                   "--probe-key", tables.FOUND_KEY],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                  start_new_session=True, preexec_fn=proc.die_with_parent)
        counter.pid = daemon.pid
        while not counter.done.wait(1):
            if daemon.poll() is not None:
                break
            if time.monotonic() - counter.last_round_at > STALL_SECONDS:
                break
        elapsed = time.monotonic() - started
        rc = daemon.poll()
        if counter.good < ROUNDS:
            log.seek(0)
            print("FAIL: %d of %d rounds after %.1f s (daemon %s)\n%s" % (
                counter.good, ROUNDS, elapsed,
                "still running" if rc is None else "exited %d" % rc, log.read()[-4000:]))
            return 1
        daemon.send_signal(signal.SIGTERM)
        rc = daemon.wait(10)
        return report(counter, elapsed, rc)
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        notify.close()
        ldap.cleanup()


def report(counter, elapsed, rc):
    (t0, first), (t1, last) = counter.samples[WARMUP], counter.samples[ROUNDS]
    rounds = ROUNDS - WARMUP
    print("soak: %d good rounds (%d failed) in %.1f s, %.3f ms a round; measured over rounds %d-%d "
          "(%.1f s)" % (ROUNDS, counter.failed, elapsed, 1000 * elapsed / ROUNDS, WARMUP, ROUNDS,
                        t1 - t0))
    print("%-10s %10s %10s %8s" % ("", "round %d" % WARMUP, "round %d" % ROUNDS, "growth"))
    for name, unit in (("VmRSS", "KiB"), ("Anonymous", "KiB"), ("fds", ""), ("Threads", "")):
        print("%-10s %10d %10d %+8d %s" % (name, first[name], last[name], last[name] - first[name],
                                           unit))
    problems = []
    if rc != 0:
        problems.append("daemon exited %s on SIGTERM, expected 0" % rc)
    if last["VmRSS"] - first["VmRSS"] > RSS_TOLERANCE_KIB:
        problems.append("RSS grew by more than %d KiB" % RSS_TOLERANCE_KIB)
    if last["Anonymous"] - first["Anonymous"] > ANON_TOLERANCE_KIB:
        problems.append("anonymous memory grew by more than %d KiB" % ANON_TOLERANCE_KIB)
    if last["fds"] > first["fds"]:
        problems.append("open file descriptors grew")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

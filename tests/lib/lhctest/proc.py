"""Running processes with a bounded wait, and reading a live process's figures from /proc.

Every child started here dies with the test (die_with_parent) and is killed, with its whole
process group, when its time is up. The samplers read one process's CPU, memory, fds and
thread states; figures are KiB and counts, CPU is seconds.
"""

import collections
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time


Result = collections.namedtuple("Result", "returncode stdout stderr elapsed timed_out")


def die_with_parent():
    """preexec_fn: SIGKILL the child when the test process dies.

    A test runner that times a test out kills the Python process; without
    this its slapd and daemon children would live on and hold their ports.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def find_program(name):
    """Path of a program, looking in /usr/sbin and /sbin too (often not on a user's PATH)."""
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def run(argv, limit, env=None):
    """Run argv to completion in a session of its own; after `limit` s kill its process
    group. Returns a Result (timed_out: it was killed)."""
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=die_with_parent)
    try:
        out, err = proc.communicate(timeout=limit)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    return Result(proc.returncode, out, err, time.monotonic() - t0, timed_out)


def wait_until(predicate, limit, what):
    """Poll predicate() with a growing step until it holds; RuntimeError after `limit` s."""
    deadline = time.monotonic() + limit
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# ---------------------------------------------------------------- /proc samplers

def cpu_seconds(pid):
    """user + sys of the whole process, threads that exited included, to the nanosecond.

    The process's CPU clock (clock_getcpuclockid(3): ((~pid) << 3) | 2) rather than the clock
    ticks of /proc/PID/stat (fields 14 and 15): at 100 ticks/s a 2-minute window holds a few
    ticks of a daemon that costs seconds a day, and one tick is 7 s/day."""
    return time.clock_gettime(((~pid) << 3) | 2)


def status(pid):
    """The numeric lines of /proc/PID/status: {"VmRSS": KiB, "Threads": n, ...}."""
    figures = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            words = value.split()
            if words and words[0].isdigit():
                figures[name] = int(words[0])
    return figures


def rss_kib(pid):
    return status(pid)["VmRSS"]


def smaps_rollup(pid):
    """{"Rss": KiB, "Pss": KiB, "Anonymous": KiB, ...} of /proc/PID/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def all_threads_in_state(pid, state):
    """True when every thread of pid is in /proc state `state` (e.g. "T", stopped)."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        states = []
        for tid in tasks:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
    except OSError:
        return False
    return bool(states) and all(s == state for s in states)

#!/usr/bin/env python3
"""ldap-health-check benchmarks against the alternatives, with the targets of issues 4 and 11.

Usage: bench.py [--quick] [--no-container] [--out docs/performance.md] [--deb FILE]
Run through bench/run, which installs what is missing, builds the binary first and sets
PYTHONPATH to tests/lib for the lhctest package.
Exit status: 0 every target met, 1 a target missed, 2 the bench itself failed.
"""

import argparse
import os
import shutil
import sys
import tempfile
import traceback

import host
import report
from lhctest import slapd, tables

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOTES = [
    "1. **Steady state**: the daemon (`--interval 0.001`, otherwise defaults) against a throwaway",
    "   slapd on loopback (`lhctest.slapd`, simple bind as the service account, one search);",
    "   rounds are the `WATCHDOG=1` datagrams it sends after each good round; CPU is the process's",
    "   CPU clock (clock_getcpuclockid(3), in ns, exited threads included) between two round counts; latency is",
    "   the daemon's own `last round` figure from its STATUS= lines. check_ldap and ldapsearch make",
    "   the same bind and search, run as processes (posix_spawn + `os.wait4`, CPU = ru_utime +",
    "   ru_stime of the child); medians. The ratio takes the cheaper of the two.",
    "2. **Footprint**: `/proc/PID/smaps_rollup` of the same daemon at the two round counts. Before",
    "   the first count slapd is stopped for 0.6 s (SIGSTOP, SIGCONT), so that rounds overlap once:",
    "   the one-time memory of such an incident is its own row, and the growth window after it",
    "   shows leaks only. In the container, with the shipped defaults, 60 s after start: on a",
    "   cgroup v2 host `MemoryCurrent` of the service (what `systemctl status` prints as Memory:);",
    "   on a cgroup v1 host, where the container's systemd has no memory controller, the service",
    "   is started (first start after the install) inside a v1 memory cgroup of its own: the",
    "   container's PID 1 is moved into it for the start job only, so ExecStartPre and the daemon",
    "   are forked into it and charged from their first page, and `memory.usage_in_bytes` is read,",
    "   the file systemd itself reads for MemoryCurrent on cgroup v1. As in any cgroup, file pages",
    "   already in the page cache (shared libraries that slapd and postfix loaded, the binary that",
    "   dpkg wrote) stay charged to whoever brought them in; anonymous and kernel memory are the",
    "   service's own.",
    "3. **Detection** in the e2e container (`lhctest.mailhost`: debootstrapped Debian 12, real",
    "   systemd, real postfix, the .deb): slapd runs in a network namespace of its own behind a",
    "   veth pair; the table (timeout 2 s) points at it; the daemon runs with the shipped defaults",
    "   and unit. Faults: `systemctl kill -s SIGKILL slapd`; `systemctl kill -s SIGSTOP slapd`;",
    "   `ip route add blackhole` of the daemon's address inside slapd's namespace (every packet",
    "   slapd sends is dropped; the client sees silence). Latency: from just before the fault",
    "   command to postfix@-.service's `InactiveEnterTimestampMonotonic` (host and container share",
    "   CLOCK_MONOTONIC); each run starts at a random phase of the 1 s interval.",
    "4. **Recovery**: from the end of the repair command (`systemctl start slapd`, SIGCONT, route",
    "   removed) to postfix@-.service's `ActiveEnterTimestampMonotonic`.",
    "5. **Scale**: 10 slapds with the monitor database, 10 tables each (differing in search base",
    "   and filter), one slapd SIGSTOPped; `--once` wall time as a whole process; connections",
    "   counted at the servers (`cn=Total,cn=Connections,cn=Monitor`) and in `--debug` lines.",
    "6. **One-shot**: `--once`, check_ldap and ldapsearch, interleaved, the same bind and search.",
    "",
    "**#11, directory cost** (issue 11: what watching one StartTLS table costs the directory).",
    "Three ways of watching, in one run, each against a throwaway slapd of its own at loglevel",
    "stats (`-d 256`: one line per connection event and operation), so the logs do not mix:",
    "(a) the daemon at the shipped defaults, started with no timing options at all (the row",
    "label names them, as `ldap-health-check --help` shows them); (b) the same with",
    "`--full-probe-interval 0`, a new connection (StartTLS, bind, search) every round, the old",
    "design; (c) check_ldap `-T` (StartTLS, the bind and search of target 1) once a minute.",
    "(a) and (b) are watched for one --full-probe-interval, at least 60 s (15 s with `--quick`), from",
    "READY=1 and three good rounds (`WATCHDOG=1`), so start-up is not counted: new connections",
    "are the `ACCEPT` lines slapd logged in the window, stats lines all the lines it logged in",
    "the window, CPU is the process's CPU clock (ns, not the 10 ms ticks of `/proc/PID/stat`) over",
    "the window; each is scaled to a",
    "minute or a day. (c) is run 5 times after one uncounted run: connections and lines per run",
    "(each run's lines read once slapd logged its `closed`) are its figures per minute, its",
    "median CPU (`os.wait4` of bench/measure) x 1440 its CPU per day. Targets apply to (a) only.",
    "Beside (a) runs bench/wakeups.c, which does nothing but sleep and wake twice per interval (a",
    "round on the kept connection wakes the daemon twice: the timer, the answer): what any",
    "process that wakes that often costs on this machine, before it does any work.",
]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short runs, for developing the bench")
    p.add_argument("--no-container", action="store_true", help="skip targets 2 (cgroup), 3, 4")
    p.add_argument("--no-host", action="store_true", help="only the container's targets")
    p.add_argument("--out", default=os.path.join(REPO, "docs", "performance.md"))
    p.add_argument("--deb", default=os.environ.get("LHC_E2E_DEB"))
    p.add_argument("--command", default="bash bench/run")
    args = p.parse_args()
    quick = args.quick
    started = report.now()
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    rows = []

    def add(new_rows):
        for r in new_rows:
            report.print_row(r)
        rows.extend(new_rows)

    work = tempfile.mkdtemp(prefix="lhc-bench-")
    try:
        if not args.no_host:
            host_targets(add, work, quick)
        if not args.no_container:
            import container
            add(container.run(REPO, work, args.deb, runs=2 if quick else 10))
    except Exception:
        traceback.print_exc()
        return 2
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report.markdown(rows, args.command, started, load, NOTES)
    with open(args.out, "w") as f:
        f.write(text)
    failed = [r for r in rows if r.ok is False]
    print("bench: %d targets, %d failed; wrote %s" % (
        sum(1 for r in rows if r.ok not in ("", None)), len(failed), os.path.relpath(args.out)))
    return 1 if failed else 0


def host_targets(add, work, quick):
    """Targets 1, 2 (process memory), 5, 6 and #11 against throwaway slapds on loopback."""
    with slapd.Slapd() as server:
        table = tables.write_table(os.path.join(work, "users.cf"), tables.bind_yes(server))
        add(host.steady_state(server, table, rounds=2000 if quick else 10000,
                              per_check_runs=20 if quick else 200, interval=0.001))
        add(host.one_shot(server, table, runs=20 if quick else 200))
    # Postfix's default timeout: the fixed cost of a --once process (start-up, 100 tables)
    # is then measured against the timeout an administrator really has.
    add(host.scale(work, n_servers=10, per_server=10, timeout=10, runs=2 if quick else 3))
    # Issue 11: each way of watching gets a slapd of its own at loglevel stats.
    add(host.directory_cost(work, quick))


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks on this machine against throwaway slapds on loopback (lhctest.slapd).

Each function returns a list of Row; bench.py prints them and writes docs/performance.md.
Processes run per check are measured with os.wait4 (CPU = ru_utime + ru_stime, peak RSS =
ru_maxrss); the daemon with /proc/PID/stat and /proc/PID/smaps_rollup, its rounds counted
by the WATCHDOG=1 datagrams it sends after each good round.
"""

import os
import re
import statistics
import subprocess
import time

from lhctest import harness, proc, slapd, tables
from lhctest.notify import NotifyListener
from report import Row, mib, ms

CHECK_LDAP = "/usr/lib/nagios/plugins/check_ldap"
STALL = 0.6  # seconds: more than 2 x the default --retry-interval, well under the timeout
MEASURE = os.environ.get("LHC_BENCH_MEASURE", "measure")  # bench/measure.c, built by bench/run
WAKEUPS = os.environ.get("LHC_BENCH_WAKEUPS", "wakeups")  # bench/wakeups.c, built by bench/run


class Sample:
    """Figures of one process run: wall and CPU seconds, peak RSS in KiB."""

    def __init__(self, wall, cpu, maxrss_kib, code):
        self.wall, self.cpu, self.maxrss, self.code = wall, cpu, maxrss_kib, code


def spawn(argv, env=None):
    """Runs argv once under bench/measure; returns its Sample."""
    out = subprocess.run([MEASURE, *argv], capture_output=True, text=True, check=True,
                         env=env).stdout
    wall, cpu, rss, code = out.split()
    return Sample(float(wall), float(cpu), int(rss), int(code))


def per_check_commands(server, table):
    """The same bind + search three ways: our --once, check_ldap, ldapsearch."""
    base = "ou=people," + slapd.SUFFIX
    return {
        "ldap-health-check --once": [harness.binary(), "--once", "--conffile", table],
        "check_ldap": [CHECK_LDAP, "-H", "127.0.0.1", "-p", str(server.port), "-3", "-b", base,
                       "-D", slapd.SERVICE_DN, "-P", slapd.SERVICE_PW, "-t", "5",
                       "-a", "(mail=%s)" % tables.FOUND_KEY],
        "ldapsearch": ["/usr/bin/ldapsearch", "-x", "-LLL", "-o", "nettimeout=5", "-l", "5",
                       "-H", server.url, "-D", slapd.SERVICE_DN, "-w", slapd.SERVICE_PW,
                       "-b", base, "(mail=%s)" % tables.FOUND_KEY, "description"],
    }


def run_interleaved(commands, runs):
    """Runs every command `runs` times, round robin so that load drift hits all alike."""
    samples = {name: [] for name in commands}
    for name, argv in commands.items():  # warm the page cache, not counted
        s = spawn(argv)
        if s.code != 0:
            raise RuntimeError("%s exited %d" % (" ".join(argv[:1]), s.code))
    for _ in range(runs):
        for name, argv in commands.items():
            s = spawn(argv)
            if s.code != 0:
                raise RuntimeError("%s exited %d" % (name, s.code))
            samples[name].append(s)
    return samples


def med(samples, attr):
    return statistics.median(getattr(s, attr) for s in samples)


def wait_rounds(notify, daemon, n, limit):
    """Blocks until `n` WATCHDOG=1 datagrams (good rounds) arrived; returns the count seen."""
    count = notify.wait_count("WATCHDOG=1", n, limit, proc=daemon)
    if count < n:
        raise RuntimeError("daemon: %d of %d good rounds, then stopped:\n%s"
                           % (count, n, daemon.stderr()[-2000:]))
    return count


ROUND_MS = re.compile(r"last round ([0-9.]+) ms")


def round_latencies(notify, first, last):
    """The daemon's own round latencies (ms) from STATUS= lines of good rounds first..last."""
    found = [float(m.group(1)) for _, _, line in notify.lines()
             for m in [ROUND_MS.search(line)] if m]
    return found[first:last]


class SteadyRun:
    """What the daemon did in its steady state: rounds counted, CPU, memory, latencies."""

    def __init__(self, n0, n1, n2, mem0, mem1, mem2, cpu, wall, latencies):
        self.n0, self.n1, self.n2 = n0, n1, n2
        self.mem0, self.mem1, self.mem2 = mem0, mem1, mem2
        self.cpu_round = cpu / (n2 - n1)
        self.wall_round = wall / (n2 - n1)
        self.latencies = latencies


def run_daemon_steady(server, table, rounds, interval):
    """The daemon against `server`, from an incident to `rounds` good rounds."""
    with NotifyListener() as notify, harness.Daemon(
            ["--conffile", table, "--interval", str(interval)], notify) as daemon:
        early = min(1000, rounds // 10)
        # An incident first: slapd stalls for longer than --retry-interval, so rounds overlap
        # (extra round threads, a higher heap). That one-time high-water mark is reported on
        # its own; the window from round `early` on then shows leaks, growth per round, only.
        n0 = wait_rounds(notify, daemon, early // 2, 120)
        mem0 = proc.smaps_rollup(daemon.pid)
        server.hang()
        try:
            time.sleep(STALL)
        finally:
            server.resume()
        n1 = wait_rounds(notify, daemon, early, 120)
        cpu1, mem1, t1 = proc.cpu_seconds(daemon.pid), proc.smaps_rollup(daemon.pid), time.monotonic()
        n2 = wait_rounds(notify, daemon, rounds, 600)
        cpu2, mem2, t2 = proc.cpu_seconds(daemon.pid), proc.smaps_rollup(daemon.pid), time.monotonic()
        latencies = round_latencies(notify, n1, n2)
        daemon.signal(15)
        daemon.wait(10)
    return SteadyRun(n0, n1, n2, mem0, mem1, mem2, cpu2 - cpu1, t2 - t1, latencies)


def cpu_rows(run, procs, interval):
    """Target 1: the daemon's CPU and wall per round against a process per check."""
    cheapest = min(med(s, "cpu") for s in procs.values())
    ratio = cheapest / run.cpu_round if run.cpu_round > 0 else float("inf")
    latencies = run.latencies
    rows = [
        Row("1", "daemon CPU per round (user+sys, rounds %d..%d at --interval %g)"
            % (run.n1, run.n2, interval), ms(run.cpu_round, 3), "", ""),
        Row("1", "daemon round latency: median / p99 (STATUS line, connect+bind+search)",
            "%s / %s" % (ms(statistics.median(latencies) / 1000, 3),
                         ms(sorted(latencies)[int(len(latencies) * 0.99)] / 1000, 3)), "", ""),
        Row("1", "daemon wall time per round at --interval %g (round + sleep)" % interval,
            ms(run.wall_round, 3), "", ""),
        Row("1", "daemon CPU per round times the rounds of a day at the shipped --interval %s "
            "(the #11 rows measure a day at the shipped defaults directly)"
            % shipped_defaults()["interval"],
            "%.1f s" % (run.cpu_round * 86400 / float(shipped_defaults()["interval"])), "", ""),
    ]
    for name, s in procs.items():
        rows.append(Row("1", "%s once per check: CPU / wall (median of %d)" % (name, len(s)),
                        "%s / %s" % (ms(med(s, "cpu"), 2), ms(med(s, "wall"), 2)), "", ""))
    rows.append(Row("1", "CPU per check: cheapest process per check / daemon round",
                    "%.0fx" % ratio, ">= 20x", ratio >= 20))
    return rows


def memory_rows(run):
    """Target 2: footprint, the memory an incident leaves, and growth (leaks)."""
    mem0, mem1, mem2 = run.mem0, run.mem1, run.mem2
    growth_anon = mem2["Anonymous"] - mem1["Anonymous"]
    growth_rss = mem2["Rss"] - mem1["Rss"]
    return [
        Row("2", "memory an incident leaves: anonymous, round %d to %d, with a %.1f s slapd "
            "stall between (rounds overlap; the daemon trims its heap after them)"
            % (run.n0, run.n1, STALL),
            "%+d KiB" % (mem1["Anonymous"] - mem0["Anonymous"]), "", ""),
        Row("2", "daemon after %d rounds: RSS / PSS / anonymous" % run.n1,
            "%s / %s / %s" % (mib(mem1["Rss"]), mib(mem1["Pss"]), mib(mem1["Anonymous"])), "", ""),
        Row("2", "daemon anonymous memory after %d rounds" % run.n1, mib(mem1["Anonymous"]),
            "<= 2 MiB", mem1["Anonymous"] <= 2048),
        Row("2", "daemon after %d rounds: RSS / PSS / anonymous" % run.n2,
            "%s / %s / %s" % (mib(mem2["Rss"]), mib(mem2["Pss"]), mib(mem2["Anonymous"])), "", ""),
        Row("2", "growth from round %d to %d: anonymous / RSS" % (run.n1, run.n2),
            "%+d KiB / %+d KiB" % (growth_anon, growth_rss), "none (<= 0 KiB anonymous)",
            growth_anon <= 0),
    ]


def steady_state(server, table, rounds, per_check_runs, interval):
    """Targets 1 and 2: CPU and wall per round, footprint and leaks, against a process a check."""
    run = run_daemon_steady(server, table, rounds, interval)
    procs = run_interleaved({k: v for k, v in per_check_commands(server, table).items()
                             if k != "ldap-health-check --once"}, per_check_runs)
    return cpu_rows(run, procs, interval) + memory_rows(run)


def one_shot(server, table, runs):
    """Target 6: --once as a whole process against check_ldap and ldapsearch."""
    samples = run_interleaved(per_check_commands(server, table), runs)
    ours = samples["ldap-health-check --once"]
    rows = []
    for name, s in samples.items():
        rows.append(Row("6", "%s: wall / CPU / peak RSS (median of %d)" % (name, len(s)),
                        "%s / %s / %s" % (ms(med(s, "wall"), 2), ms(med(s, "cpu"), 2),
                                          mib(med(s, "maxrss"))), "", ""))
    for name, s in samples.items():
        if s is ours:
            continue
        for attr, what in (("wall", "wall"), ("cpu", "CPU")):
            rows.append(Row("6", "--once %s vs %s (medians)" % (what, name), "%s vs %s" % (
                ms(med(ours, attr), 2), ms(med(s, attr), 2)), "no slower",
                med(ours, attr) <= med(s, attr)))
        rows.append(Row("6", "--once peak RSS vs %s (medians)" % name, "%s vs %s" % (
            mib(med(ours, "maxrss")), mib(med(s, "maxrss"))), "no bigger",
            med(ours, "maxrss") <= med(s, "maxrss")))
    return rows


# ---------------------------------------------------------------- scale

MONITOR_DB = "\ndatabase monitor\n"


def monitored_slapd():
    """A Slapd with the monitor database, whose counter says how many connections it accepted."""
    server = slapd.Slapd()
    with open(server.conf_path, "a") as f:
        f.write(MONITOR_DB)
    return server.start()


def accepted_connections(server):
    """cn=Monitor's total of accepted connections, the one asking included."""
    out = subprocess.run(["ldapsearch", "-x", "-LLL", "-H", server.url, "-s", "base",
                          "-b", "cn=Total,cn=Connections,cn=Monitor", "monitorCounter"],
                         capture_output=True, text=True, timeout=10, check=True).stdout
    return int(re.search(r"monitorCounter: (\d+)", out).group(1))


def scale_tables(servers, per_server, directory, timeout):
    """`per_server` tables on each server, each a different search (base and filter)."""
    paths = []
    for i, server in enumerate(servers):
        for j in range(per_server):
            params = tables.bind_yes(server, timeout=timeout)
            params["query_filter"] = "(|(mail=%%s)(cn=table-%d-%d))" % (i, j)
            if j % 2:
                params["search_base"] = slapd.SUFFIX
            paths.append(tables.write_table(os.path.join(directory, "t%02d-%02d.cf" % (i, j)),
                                            params))
    return paths


def scale(directory, n_servers, per_server, timeout, runs):
    """Target 5: one round over n_servers x per_server tables, one server hung."""
    servers = []
    try:
        for _ in range(n_servers):
            servers.append(monitored_slapd())
        paths = scale_tables(servers, per_server, directory, timeout)
        args = ["--once", "--debug"] + harness.conffile_args(*paths)
        healthy = harness.run(args, limit=60)
        if healthy.returncode != 0:
            raise RuntimeError("scale: healthy --once failed:\n" + healthy.stderr[-3000:])
        walls = []
        before = [accepted_connections(s) for s in servers]  # this query counts in `after`
        hung = servers[-1]
        hung.hang()
        for _ in range(runs):
            r = harness.run(args, limit=10 * timeout + 30)
            if r.returncode != harness.EXIT_UNAVAILABLE:
                raise RuntimeError("scale: a round with a hung server exited %d" % r.returncode)
            walls.append(r.elapsed)
            last = r
        hung.resume()
        time.sleep(0.2)  # let the resumed slapd accept what queued up while it was stopped
        after = [accepted_connections(s) for s in servers]
    finally:
        for s in servers:
            s.cleanup()
    per_server_conns = [(a - b - 1) / runs for a, b in zip(after, before)]
    connects = len(re.findall(r": connect ok", last.stderr))
    searches = len(re.findall(r": search base=", last.stderr))
    worst = max(walls)
    bound = timeout * 1.1
    return [
        Row("5", "%d tables on %d servers, all healthy: one --once round (wall)"
            % (len(paths), n_servers), ms(healthy.elapsed, 1), "", ""),
        Row("5", "same, one server hung (SIGSTOP), table timeout %d s: --once wall, max of %d"
            % (timeout, runs), "%.3f s" % worst, "<= %.2f s (timeout + 10%%)" % bound,
            worst <= bound),
        Row("5", "connections accepted per server per round (slapd cn=Monitor), min..max",
            "%g..%g" % (min(per_server_conns), max(per_server_conns)), "1 (one per server)",
            all(c == 1 for c in per_server_conns)),
        Row("5", "--debug of the hung round: connects / searches sent",
            "%d / %d" % (connects, searches), "%d / %d" % (n_servers, (n_servers - 1) * per_server),
            connects == n_servers and searches == (n_servers - 1) * per_server),
    ]


# ---------------------------------------------------------------- directory cost (issue 11)

ACCEPT = re.compile(rb" ACCEPT from ")
CLOSED = re.compile(rb" fd=\d+ closed")
CHECK_LDAP_RUNS = 5  # runs of check_ldap measured (median CPU); one more warms the cache


def shipped_defaults():
    """{"interval": "0.5", ...}: the SEC defaults the binary ships, from its --help."""
    text = subprocess.run([harness.binary(), "--help"], capture_output=True, text=True,
                          check=True, timeout=10).stdout
    found = dict(re.findall(r"--([a-z][a-z-]*)(?: \])? SEC \(=([^)]*)\)", text))
    for name in ("interval", "full-probe-interval"):
        if name not in found:
            raise RuntimeError("directory cost: no default for --%s in --help:\n%s" % (name, text))
    return found


def stats_server(work, name):
    """A started throwaway slapd at loglevel stats and one StartTLS table on it."""
    server = slapd.Slapd(debug="256").start()
    table = tables.write_table(os.path.join(work, name), tables.starttls(server))
    return server, table


def log_since(server, offset):
    """(bytes slapd logged after `offset`, the new offset)."""
    with open(server.log_path, "rb") as f:
        f.seek(offset)
        data = f.read()
    return data, offset + len(data)


def daemon_window(work, name, extra, window, interval):
    """The daemon with `extra` options: (connections, stats lines, CPU s, window s).

    Counted from a few good rounds after READY=1 on, so start-up is not in the window."""
    server, table = stats_server(work, name)
    try:
        with NotifyListener() as notify, harness.Daemon(
                ["--conffile", table, *extra], notify) as daemon:
            if notify.wait_for("READY=1", limit=30, proc=daemon) is None:
                raise RuntimeError("daemon %s: no READY=1:\n%s" % (extra, daemon.stderr()[-2000:]))
            wait_rounds(notify, daemon, 3, 3 * interval + 30)
            _, offset = log_since(server, 0)
            cpu0, t0 = proc.cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(window)
            cpu1, t1 = proc.cpu_seconds(daemon.pid), time.monotonic()
            data, _ = log_since(server, offset)
            if daemon.poll() is not None:
                raise RuntimeError("daemon %s exited in the window:\n%s"
                                   % (extra, daemon.stderr()[-2000:]))
            daemon.signal(15)
            daemon.wait(10)
    finally:
        server.cleanup()
    return len(ACCEPT.findall(data)), data.count(b"\n"), cpu1 - cpu0, t1 - t0


def closed_log(server, offset, limit=5.0):
    """(bytes logged after `offset`, new offset) once every connection in them is closed:
    slapd logs `closed` after the client has gone, so a run's last line comes late."""
    deadline = time.monotonic() + limit
    data = b""
    while True:
        more, offset = log_since(server, offset)
        data += more
        accepted = len(ACCEPT.findall(data))
        if accepted and len(CLOSED.findall(data)) >= accepted or time.monotonic() > deadline:
            return data, offset
        time.sleep(0.01)


def check_ldap_runs(work, runs):
    """check_ldap -T, `runs` times: (connections, stats lines, median CPU s), each per run."""
    server, table = stats_server(work, "check-ldap.cf")
    try:
        argv = per_check_commands(server, table)["check_ldap"] + ["-T"]
        env = dict(os.environ, LDAPTLS_CACERT=server.ca_cert)  # trust the test CA
        spawn(argv, env)  # warms the page cache, not counted
        _, offset = closed_log(server, 0)
        cpus, logged = [], b""
        for _ in range(runs):
            s = spawn(argv, env)
            if s.code != 0:
                raise RuntimeError("check_ldap -T exited %d" % s.code)
            cpus.append(s.cpu)
            data, offset = closed_log(server, offset)
            logged += data
    finally:
        server.cleanup()
    return len(ACCEPT.findall(logged)) / runs, logged.count(b"\n") / runs, statistics.median(cpus)


def directory_cost(work, quick):
    """Issue 11: what watching one StartTLS table costs a slapd at loglevel stats, three ways:
    the daemon at the shipped defaults, the same with a new connection every round
    (--full-probe-interval 0, the old design), and check_ldap once a minute."""
    defaults = shipped_defaults()
    # At least one whole full-probe period, or its new connection may fall outside.
    window = 15 if quick else max(60.0, float(defaults["full-probe-interval"]))
    interval = float(defaults["interval"])
    shipped = "--interval %s, --full-probe-interval %s" % (defaults["interval"],
                                                           defaults["full-probe-interval"])
    ways = [("daemon at the shipped defaults (%s; no timing options)" % shipped, []),
            ("daemon with --full-probe-interval 0 (a new connection every round, the old "
             "design), otherwise the shipped defaults",
             ["--full-probe-interval", "0"])]
    figures = []  # (who, connections/min, stats lines/min, CPU s/day, target?)
    floor = None
    for n, (who, extra) in enumerate(ways):
        if n == 0:  # beside (a), so that both see the same load
            floor = subprocess.Popen([WAKEUPS, str(interval), "2", str(window + 5)],
                                     stdout=subprocess.PIPE, text=True)
        conns, lines, cpu, wall = daemon_window(work, "starttls-%d.cf" % n, extra, window, interval)
        figures.append((who + ", %.0f s window" % wall, conns * 60 / wall, lines * 60 / wall,
                        cpu * 86400 / wall, n == 0))
        if n == 0:
            floor_cpu, floor_wall = map(float, floor.communicate(timeout=60)[0].split())
    conns, lines, cpu = check_ldap_runs(work, CHECK_LDAP_RUNS)
    figures.append(("check_ldap -T once a minute (one run x 1/min, x 1440/day; mean of %d runs, "
                    "median CPU)" % CHECK_LDAP_RUNS, conns, lines, cpu * 1440, False))
    rows = []
    for what, col, fmt, bound, shown in (
            ("new connections per minute (slapd ACCEPT lines)", 1, "%.1f", 3, "<= 3"),
            ("slapd stats lines per minute (-d 256)", 2, "%.0f", 150, "<= 150"),
            ("CPU per day", 3, "%.1f s", 10, "<= 10 s")):
        for who, *values, target in figures:  # side by side: the three ways, one measure
            value = values[col - 1]
            rows.append(Row("#11", "%s: %s" % (what, who), fmt % value,
                            shown if target else "", value <= bound if target else ""))
    rows.append(Row("#11", "CPU per day: the floor on this machine, a C program that only sleeps "
                    "and wakes twice per %s s as (a) does (the timer, the answer), beside (a); no "
                    "LDAP, no TLS, no work (bench/wakeups.c)" % defaults["interval"],
                    "%.1f s" % (floor_cpu * 86400 / floor_wall), "", ""))
    return rows

"""Benchmarks on this machine against throwaway slapds on loopback (tests/lib/slapd.py).

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

import harness
import slapd
import tables

from report import Row, mib, ms

CHECK_LDAP = "/usr/lib/nagios/plugins/check_ldap"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STALL = 0.6  # seconds: more than 2 x the default --retry-interval, well under the timeout
MEASURE = os.environ.get("LHC_BENCH_MEASURE", "measure")  # bench/measure.c, built by bench/run


class Sample:
    """Figures of one process run: wall and CPU seconds, peak RSS in KiB."""

    def __init__(self, wall, cpu, maxrss_kib, code):
        self.wall, self.cpu, self.maxrss, self.code = wall, cpu, maxrss_kib, code


def spawn(argv):
    """Runs argv once under bench/measure; returns its Sample."""
    out = subprocess.run([MEASURE, *argv], capture_output=True, text=True, check=True).stdout
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


def proc_cpu_seconds(pid):
    """user + sys of the whole process, threads that exited included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def smaps_rollup(pid):
    """{"Rss": KiB, "Pss": KiB, "Anonymous": KiB, ...}"""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    return out


def wait_rounds(notify, daemon, n, limit):
    """Blocks until `n` WATCHDOG=1 datagrams (good rounds) arrived; returns the count seen."""
    deadline = time.monotonic() + limit
    while True:
        count = sum(1 for _, _, line in notify.lines() if line == "WATCHDOG=1")
        if count >= n:
            return count
        if daemon.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("daemon: %d of %d good rounds, then stopped:\n%s"
                               % (count, n, daemon.stderr()[-2000:]))
        time.sleep(0.01)


ROUND_MS = re.compile(r"last round ([0-9.]+) ms")


def round_latencies(notify, first, last):
    """The daemon's own round latencies (ms) from STATUS= lines of good rounds first..last."""
    found = [float(m.group(1)) for _, _, line in notify.lines()
             for m in [ROUND_MS.search(line)] if m]
    return found[first:last]


def steady_state(server, table, rounds, per_check_runs, interval):
    """Targets 1 and 2: CPU and wall per round, footprint and leaks, against a process a check."""
    with harness.NotifyListener() as notify, harness.Daemon(
            ["--conffile", table, "--interval", str(interval)], notify) as daemon:
        early = min(1000, rounds // 10)
        # An incident first: slapd stalls for longer than --retry-interval, so rounds overlap
        # (extra round threads, a higher heap). That one-time high-water mark is reported on
        # its own; the window from round `early` on then shows leaks, growth per round, only.
        n0 = wait_rounds(notify, daemon, early // 2, 120)
        mem0 = smaps_rollup(daemon.pid)
        server.hang()
        try:
            time.sleep(STALL)
        finally:
            server.resume()
        n1 = wait_rounds(notify, daemon, early, 120)
        cpu1, mem1, t1 = proc_cpu_seconds(daemon.pid), smaps_rollup(daemon.pid), time.monotonic()
        n2 = wait_rounds(notify, daemon, rounds, 600)
        cpu2, mem2, t2 = proc_cpu_seconds(daemon.pid), smaps_rollup(daemon.pid), time.monotonic()
        latencies = round_latencies(notify, n1, n2)
        daemon.signal(15)
        daemon.wait(10)
    counted = n2 - n1
    cpu_round = (cpu2 - cpu1) / counted
    wall_round = (t2 - t1) / counted
    procs = run_interleaved({k: v for k, v in per_check_commands(server, table).items()
                             if k != "ldap-health-check --once"}, per_check_runs)
    cheapest = min(med(s, "cpu") for s in procs.values())
    ratio = cheapest / cpu_round if cpu_round > 0 else float("inf")
    rows = [
        Row("1", "daemon CPU per round (user+sys, rounds %d..%d at --interval %g)"
            % (n1, n2, interval), ms(cpu_round, 3), "", ""),
        Row("1", "daemon round latency: median / p99 (STATUS line, connect+bind+search)",
            "%s / %s" % (ms(statistics.median(latencies) / 1000, 3),
                         ms(sorted(latencies)[int(len(latencies) * 0.99)] / 1000, 3)), "", ""),
        Row("1", "daemon wall time per round at --interval %g (round + sleep)" % interval,
            ms(wall_round, 3), "", ""),
        Row("1", "daemon CPU per day at the shipped --interval 0.5",
            "%.1f s" % (cpu_round * 86400 / 0.5), "", ""),
    ]
    for name, s in procs.items():
        rows.append(Row("1", "%s once per check: CPU / wall (median of %d)" % (name, len(s)),
                        "%s / %s" % (ms(med(s, "cpu"), 2), ms(med(s, "wall"), 2)), "", ""))
    rows.append(Row("1", "CPU per check: cheapest process per check / daemon round",
                    "%.0fx" % ratio, ">= 20x", ratio >= 20))
    growth_anon = mem2["Anonymous"] - mem1["Anonymous"]
    growth_rss = mem2["Rss"] - mem1["Rss"]
    rows += [
        Row("2", "memory an incident leaves: anonymous, round %d to %d, with a %.1f s slapd "
            "stall between (rounds overlap; the daemon trims its heap after them)"
            % (n0, n1, STALL),
            "%+d KiB" % (mem1["Anonymous"] - mem0["Anonymous"]), "", ""),
        Row("2", "daemon after %d rounds: RSS / PSS / anonymous" % n1,
            "%s / %s / %s" % (mib(mem1["Rss"]), mib(mem1["Pss"]), mib(mem1["Anonymous"])), "", ""),
        Row("2", "daemon anonymous memory after %d rounds" % n1, mib(mem1["Anonymous"]),
            "<= 2 MiB", mem1["Anonymous"] <= 2048),
        Row("2", "daemon after %d rounds: RSS / PSS / anonymous" % n2,
            "%s / %s / %s" % (mib(mem2["Rss"]), mib(mem2["Pss"]), mib(mem2["Anonymous"])), "", ""),
        Row("2", "growth from round %d to %d: anonymous / RSS" % (n1, n2),
            "%+d KiB / %+d KiB" % (growth_anon, growth_rss), "none (<= 0 KiB anonymous)",
            growth_anon <= 0),
    ]
    return rows


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

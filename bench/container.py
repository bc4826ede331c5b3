"""Targets 2 (cgroup memory), 3 (detection) and 4 (recovery) under a real systemd.

The container, its root fs, the .deb and the postfix + slapd setup come from tests/e2e/e2e.py.
On top of it slapd moves into a network namespace of its own (made here, inside the container's
private network), behind a veth pair, so that "packets dropped" is a blackhole route there.
The daemon runs with the shipped unit and defaults; only the table (timeout 2 s) is ours.
"""

import os
import random
import shutil
import statistics
import subprocess
import time

import e2e
import host

from report import Row, mib

NETNS = "/run/netns/lhc-ldap"
CLIENT_IP, SERVER_IP = "10.203.0.1", "10.203.0.2"
TIMEOUT = 2  # the table's timeout, seconds
DETECT_KILLED = 2.0
# A hung server is asked at most one --interval (1.5 s) after it hangs, and its rounds time
# out after the timeout, the last of them (--failures - 1) x --retry-interval later.
DETECT_SILENT = TIMEOUT + 2.5
RECOVER = 10.0
SETTLE = 60  # seconds of rounds at the shipped --interval before the cgroup is read


def wait_no_other_container(limit=1800):
    """One container at a time on this machine: wait while another systemd-nspawn runs."""
    deadline = time.monotonic() + limit
    while subprocess.run(["pgrep", "-x", "systemd-nspawn"], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("another systemd-nspawn kept running for %d s" % limit)
        print("bench: another systemd-nspawn is running, waiting", flush=True)
        time.sleep(15)


def host_ip(c, *args, netns=None):
    """The host's `ip` inside the container's network namespace (or slapd's)."""
    ns = ["--net=/proc/%d/root%s" % (c.leader, NETNS)] if netns else ["-t", str(c.leader), "-n"]
    subprocess.run(["nsenter", *ns, "--", "ip", *args], check=True, capture_output=True)


def slapd_behind_veth(c):
    """Moves slapd into its own network namespace, reachable at SERVER_IP over a veth pair."""
    c.sh("mkdir -p /run/netns && (mountpoint -q /run/netns || mount --bind /run/netns /run/netns)"
         f" && mount --make-private /run/netns && touch {NETNS} && unshare --net={NETNS} true")
    host_ip(c, "link", "add", "lhc0", "type", "veth", "peer", "name", "lhc1")
    host_ip(c, "link", "set", "lhc1", "netns", "/proc/%d/root%s" % (c.leader, NETNS))
    host_ip(c, "addr", "add", CLIENT_IP + "/30", "dev", "lhc0")
    host_ip(c, "link", "set", "lhc0", "up")
    for args in (("link", "set", "lo", "up"), ("addr", "add", SERVER_IP + "/30", "dev", "lhc1"),
                 ("link", "set", "lhc1", "up")):
        host_ip(c, *args, netns=True)
    c.sh("mkdir -p /etc/systemd/system/slapd.service.d")
    c.write("/etc/systemd/system/slapd.service.d/netns.conf",
            f"[Service]\nNetworkNamespacePath={NETNS}\n")
    c.sh("systemctl daemon-reload && systemctl restart slapd")
    table = e2e.TABLE.replace("ldap://127.0.0.1/", f"ldap://{SERVER_IP}/")
    assert f"timeout = {TIMEOUT}\n" in table and SERVER_IP in table
    c.write("/etc/postfix/ldap-users.cf", table, mode="0640", owner="root:postfix")
    c.sh("postmap -q alice@example.org ldap:/etc/postfix/ldap-users.cf && systemctl restart postfix")


def install_guard(c, deb):
    """The .deb with the shipped defaults: only the table is named. Returns the v1 memory
    cgroup the service was started in, or None (see start_in_memory_cgroup)."""
    c.sh(f"dpkg -i /mnt/deb/{os.path.basename(deb)}")
    c.write("/etc/default/ldap-health-check",
            'LDAP_HEALTH_CHECK_OPTS="--conffile /etc/postfix/ldap-users.cf"\n')
    c.sh("systemctl enable ldap-health-check.service")
    return start_in_memory_cgroup(c)


def start_in_memory_cgroup(c):
    """Starts the service. Where the host has cgroup v1, the container's systemd gets no memory
    controller (MemoryCurrent=[not set]) and this kernel no longer moves charges between v1
    cgroups; so the container's PID 1 is moved into a v1 memory cgroup of ours for the start
    job only (ExecStartPre and the daemon are forked into it, as into a service's cgroup on
    v2) and back once the service is ready. Returns that cgroup, or None on a v2 host."""
    with open("/proc/%d/cgroup" % c.leader) as f:
        rel = next((line.split(":", 2)[2] for line in f.read().splitlines()
                    if line.split(":", 2)[1] == "memory"), None)
    if rel is None:
        c.sh("systemctl start ldap-health-check.service")
        return None
    base = "/sys/fs/cgroup/memory" + rel
    own = os.path.join(base, "lhc-bench-service")
    os.mkdir(own)  # fails on a leftover: its old charges would count
    c.bench_memory_cgroup = own  # removed by run() after the container, whatever happens

    def move_leader(cgroup):
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(c.leader))

    move_leader(own)
    try:
        c.sh("systemctl start ldap-health-check.service")
    finally:
        move_leader(base)
    return own


def remove_memory_cgroup(own):
    """After the container is gone: the cgroup is empty, its charges go to the parent."""
    if own and os.path.isdir(own):
        os.rmdir(own)


def show(c, unit, *props):
    out = c.sh(f"systemctl show {unit} " + " ".join("-p " + p for p in props)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def monotonic_of(c, unit, prop):
    return int(show(c, unit, prop)[prop]) / 1e6


def settled(c, r):
    """Postfix and the guard up, the recover timer gone: the state an outage starts from."""
    return (r.postfix_up() and r.state("ldap-health-check-recover.timer") != "active"
            and show(c, "ldap-health-check", "StatusText")["StatusText"].startswith("LDAP healthy"))


def host_pid(c, ns_pid):
    """The host's PID of a process the container knows as ns_pid."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as f:
                nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
        except (OSError, IndexError):
            continue
        if c._in_ns(pid) and nspid[-1] == str(ns_pid):
            return int(pid)
    raise e2e.Failed(f"no host PID for container PID {ns_pid}")


def cgroup_memory(c, own, label):
    """The service's cgroup memory, as `systemctl status` shows it (Memory:)."""
    time.sleep(SETTLE)
    if own is None:
        value = show(c, "ldap-health-check", "MemoryCurrent")["MemoryCurrent"]
        if not value.isdigit():
            return [Row("2", "container: cgroup memory NOT AVAILABLE (MemoryCurrent %s)" % value,
                        "", "<= 6 MiB", None)]
        return [Row("2", "container: cgroup memory of ldap-health-check.service (systemctl "
                    "status Memory:), %s" % label, mib(int(value) / 1024), "<= 6 MiB",
                    int(value) <= 6 * 1024 * 1024)]
    return v1_memory(c, own, label)


def v1_memory(c, own, label):
    """memory.usage_in_bytes of the cgroup the service was started in, the file systemd reads
    for MemoryCurrent on cgroup v1. It also holds what PID 1 allocated for the start job.
    As with any cgroup, file pages another process read first (shared libraries slapd and
    postfix had loaded) stay charged to that process's cgroup."""
    pid = host_pid(c, show(c, "ldap-health-check", "MainPID")["MainPID"])
    with open(os.path.join(own, "cgroup.procs")) as f:
        members = [int(p) for p in f.read().split()]
    if members != [pid]:
        raise e2e.Failed("own memory cgroup holds %s, not just the daemon %d" % (members, pid))
    with open(os.path.join(own, "memory.usage_in_bytes")) as f:
        usage = int(f.read())
    stat = {}
    with open(os.path.join(own, "memory.stat")) as f:
        for line in f:
            k, v = line.split()
            stat[k] = int(v)
    m = host.smaps_rollup(pid)
    return [
        Row("2", "container: cgroup memory of ldap-health-check.service, %s (cgroup v1 host: "
            "memory.usage_in_bytes of the memory cgroup the service was started in, what "
            "systemd shows as Memory: on cgroup v1)" % label, mib(usage / 1024), "<= 6 MiB",
            usage <= 6 * 1024 * 1024),
        Row("2", "container: same cgroup, memory.stat rss / cache (the rest: kernel memory); "
            "the process: RSS / PSS / anonymous", "%s / %s; %s / %s / %s" % (
                mib(stat["rss"] / 1024), mib(stat["cache"] / 1024), mib(m["Rss"]),
                mib(m["Pss"]), mib(m["Anonymous"])), "", ""),
    ]


FAULTS = {
    # name: (break, repair, detection bound); commands run inside the container, or
    # ("ip", ...) for the host's ip in slapd's namespace.
    "killed (SIGKILL)": ("systemctl kill -s SIGKILL slapd", "systemctl start slapd",
                         DETECT_KILLED),
    "hung (SIGSTOP)": ("systemctl kill -s SIGSTOP slapd", "systemctl kill -s SIGCONT slapd",
                       DETECT_SILENT),
    "packets dropped (blackhole)": (("route", "add", "blackhole", CLIENT_IP + "/32"),
                                    ("route", "del", "blackhole", CLIENT_IP + "/32"),
                                    DETECT_SILENT),
}


def act(c, command):
    if isinstance(command, tuple):
        host_ip(c, *command, netns=True)
    else:
        c.sh(command)


def one_outage(c, r, fault):
    """(detection, recovery) seconds of one outage."""
    break_cmd, repair_cmd, _ = FAULTS[fault]
    if r.wait_for(lambda: settled(c, r), 60, step=0.2) is None:
        raise e2e.Failed("not healthy before an outage: " + r.state("postfix@-.service"))
    time.sleep(1.0 + random.uniform(0, 1.5))  # any phase of the shipped 1.5 s interval
    t0 = time.monotonic()
    act(c, break_cmd)
    # Not r.postfix_down: that holds while postfix@- is still deactivating.
    if r.wait_for(lambda: r.state("postfix@-.service") in ("inactive", "failed"), 60,
                  step=0.05) is None:
        raise e2e.Failed(f"{fault}: postfix@- still not inactive after 60 s")
    times = show(c, "postfix@-.service", "ActiveExitTimestampMonotonic",
                 "InactiveEnterTimestampMonotonic")
    stopping = int(times["ActiveExitTimestampMonotonic"]) / 1e6 - t0
    detect = int(times["InactiveEnterTimestampMonotonic"]) / 1e6 - t0
    if not 0 < stopping <= detect:
        raise e2e.Failed(f"{fault}: timestamps before the fault: {times}, t0 {t0}")
    act(c, repair_cmd)
    t1 = time.monotonic()
    if r.wait_for(r.postfix_up, 60, step=0.05) is None:
        raise e2e.Failed(f"{fault}: postfix not active 60 s after the repair")
    recover = monotonic_of(c, "postfix@-.service", "ActiveEnterTimestampMonotonic") - t1
    print(f"bench: {fault}: postfix@- stopping after {stopping:.3f} s, inactive after "
          f"{detect:.3f} s, active again "
          f"{recover:.3f} s after the repair", flush=True)
    return detect, recover


def outage_rows(c, r, runs):
    rows = []
    recoveries = []
    for fault, (_, _, bound) in FAULTS.items():
        results = [one_outage(c, r, fault) for _ in range(runs)]
        detect = [d for d, _ in results]
        recoveries += [(fault, rec) for _, rec in results]
        rows.append(Row("3", "container: slapd %s -> postfix@- inactive: median / max of %d"
                        % (fault, runs), "%.2f s / %.2f s" % (statistics.median(detect),
                                                             max(detect)),
                        "<= %.1f s" % bound, max(detect) <= bound))
    values = [rec for _, rec in recoveries]
    worst = max(recoveries, key=lambda x: x[1])
    rows.append(Row("4", "container: slapd back -> postfix@- active: median / max of %d "
                    "(worst after: %s)" % (len(values), worst[0]),
                    "%.2f s / %.2f s" % (statistics.median(values), max(values)),
                    "<= %.0f s" % RECOVER, max(values) <= RECOVER))
    return rows


def run(repo, work, deb, runs):
    """Boots the e2e container, installs the .deb and measures; returns rows."""
    wait_no_other_container()
    root = e2e.rootfs(os.environ.get("LHC_E2E_CACHE", "/var/cache/ldap-health-check-e2e"))
    deb = os.path.abspath(deb) if deb else e2e.build_deb(repo, work)
    debdir = os.path.join(work, "deb")
    os.makedirs(debdir, exist_ok=True)
    shutil.copy(deb, debdir)
    wait_no_other_container()
    c = e2e.Container(root, debdir, work)
    try:
        c.boot()
        r = e2e.Run(c)
        e2e.setup_ldap_and_postfix(c)
        slapd_behind_veth(c)
        own = install_guard(c, deb)
        if r.wait_for(lambda: settled(c, r), 30) is None:
            raise e2e.Failed("the guard did not come up: " + c.sh(
                "journalctl --no-pager -n 50 -u ldap-health-check", check=False).stdout)
        rows = cgroup_memory(c, own, "%d s after start" % SETTLE)
        rows += outage_rows(c, r, runs)
        return rows
    except Exception:
        if c.leader:
            print(c.sh("journalctl --no-pager -n 80", check=False).stdout)
        raise
    finally:
        try:
            c.shutdown()
        finally:
            remove_memory_cgroup(getattr(c, "bench_memory_cgroup", None))

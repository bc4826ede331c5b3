"""Targets 2 (cgroup memory), 3 (detection) and 4 (recovery) under a real systemd.

The container (under the one container lock), its root fs, the .deb and the postfix + slapd
setup are those of the end-to-end test: lhctest.container and lhctest.mailhost. On top of it
slapd moves into a network namespace of its own, behind a veth pair, so that "packets
dropped" is a blackhole route there. The daemon runs with the shipped unit and defaults; only
the table (timeout 2 s) is ours.
"""

import os
import random
import shutil
import statistics
import time

from lhctest import container, mailhost, proc
from lhctest.container import Failed
from lhctest.mailhost import CLIENT_IP, NETNS, SERVER_IP, TIMEOUT
from report import Row, mib

DETECT_KILLED = 2.0
# A hung server is asked at most one --interval (1.5 s) after it hangs, and its rounds time
# out after the timeout, the last of them (--failures - 1) x --retry-interval later.
DETECT_SILENT = TIMEOUT + 2.5
RECOVER = 10.0
SETTLE = 60  # seconds of rounds at the shipped --interval before the cgroup is read


def slapd_behind_veth(c):
    """slapd at SERVER_IP behind a veth pair, the table pointed at it."""
    mailhost.slapd_behind_veth(c)
    table = mailhost.TABLE.replace("ldap://127.0.0.1/", f"ldap://{SERVER_IP}/")
    assert f"timeout = {TIMEOUT}\n" in table and SERVER_IP in table
    c.write("/etc/postfix/ldap-users.cf", table, mode="0640", owner="root:postfix")
    c.sh("postmap -q alice@example.org ldap:/etc/postfix/ldap-users.cf && systemctl restart postfix")


def install_guard(c, deb, made):
    """The .deb with the shipped defaults: only the table is named. Returns the v1 memory
    cgroup the service was started in, or None (see start_in_memory_cgroup)."""
    c.sh(f"dpkg -i /mnt/deb/{os.path.basename(deb)}")
    c.write("/etc/default/ldap-health-check",
            'LDAP_HEALTH_CHECK_OPTS="--conffile /etc/postfix/ldap-users.cf"\n')
    c.sh("systemctl enable ldap-health-check.service")
    return start_in_memory_cgroup(c, made)


def start_in_memory_cgroup(c, made):
    """Starts the service. Where the host has cgroup v1, the container's systemd gets no memory
    controller (MemoryCurrent=[not set]) and this kernel no longer moves charges between v1
    cgroups; so the container's PID 1 is moved into a v1 memory cgroup of ours for the start
    job only (ExecStartPre and the daemon are forked into it, as into a service's cgroup on
    v2) and back once the service is ready. Returns that cgroup, or None on a v2 host; `made`
    gets it as soon as it exists, for its removal after the container, whatever happens."""
    with open("/proc/%d/cgroup" % c.leader) as f:
        rel = next((line.split(":", 2)[2] for line in f.read().splitlines()
                    if line.split(":", 2)[1] == "memory"), None)
    if rel is None:
        c.sh("systemctl start ldap-health-check.service")
        return None
    base = "/sys/fs/cgroup/memory" + rel
    own = os.path.join(base, "lhc-bench-service")
    os.mkdir(own)  # fails on a leftover: its old charges would count
    made.append(own)

    def move_leader(cgroup):
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(c.leader))

    move_leader(own)
    try:
        c.sh("systemctl start ldap-health-check.service")
    finally:
        move_leader(base)
    return own


def remove_memory_cgroups(made):
    """After the container is gone: the cgroups are empty, their charges go to the parent."""
    for own in made:
        if os.path.isdir(own):
            os.rmdir(own)


def cgroup_memory(r, own, label):
    """The service's cgroup memory, as `systemctl status` shows it (Memory:)."""
    time.sleep(SETTLE)
    if own is None:
        value = r.show("MemoryCurrent")
        if not value.isdigit():
            return [Row("2", "container: cgroup memory NOT AVAILABLE (MemoryCurrent %s)" % value,
                        "", "<= 6 MiB", None)]
        return [Row("2", "container: cgroup memory of ldap-health-check.service (systemctl "
                    "status Memory:), %s" % label, mib(int(value) / 1024), "<= 6 MiB",
                    int(value) <= 6 * 1024 * 1024)]
    return v1_memory(r, own, label)


def v1_memory(r, own, label):
    """memory.usage_in_bytes of the cgroup the service was started in, the file systemd reads
    for MemoryCurrent on cgroup v1. It also holds what PID 1 allocated for the start job.
    As with any cgroup, file pages another process read first (shared libraries slapd and
    postfix had loaded) stay charged to that process's cgroup."""
    pid = r.c.host_pid(r.show("MainPID"))
    with open(os.path.join(own, "cgroup.procs")) as f:
        members = [int(p) for p in f.read().split()]
    if members != [pid]:
        raise Failed("own memory cgroup holds %s, not just the daemon %d" % (members, pid))
    with open(os.path.join(own, "memory.usage_in_bytes")) as f:
        usage = int(f.read())
    stat = {}
    with open(os.path.join(own, "memory.stat")) as f:
        for line in f:
            k, v = line.split()
            stat[k] = int(v)
    m = proc.smaps_rollup(pid)
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
        c.ip(*command, netns=NETNS)
    else:
        c.sh(command)


def one_outage(r, fault):
    """(detection, recovery) seconds of one outage."""
    c = r.c
    break_cmd, repair_cmd, _ = FAULTS[fault]
    if r.wait_for(r.settled, 60, step=0.2) is None:
        raise Failed("not healthy before an outage: " + r.state(mailhost.MTA))
    time.sleep(1.0 + random.uniform(0, 1.5))  # any phase of the shipped 1.5 s interval
    t0 = time.monotonic()
    act(c, break_cmd)
    # Not r.postfix_down: that holds while postfix@- is still deactivating.
    if r.wait_for(lambda: r.state(mailhost.MTA) in ("inactive", "failed"), 60,
                  step=0.05) is None:
        raise Failed(f"{fault}: postfix@- still not inactive after 60 s")
    times = r.properties(mailhost.MTA, "ActiveExitTimestampMonotonic",
                         "InactiveEnterTimestampMonotonic")
    stopping = int(times["ActiveExitTimestampMonotonic"]) / 1e6 - t0
    detect = int(times["InactiveEnterTimestampMonotonic"]) / 1e6 - t0
    if not 0 < stopping <= detect:
        raise Failed(f"{fault}: timestamps before the fault: {times}, t0 {t0}")
    act(c, repair_cmd)
    t1 = time.monotonic()
    if r.wait_for(r.postfix_up, 60, step=0.05) is None:
        raise Failed(f"{fault}: postfix not active 60 s after the repair")
    recover = int(r.show("ActiveEnterTimestampMonotonic", mailhost.MTA)) / 1e6 - t1
    print(f"bench: {fault}: postfix@- stopping after {stopping:.3f} s, inactive after "
          f"{detect:.3f} s, active again "
          f"{recover:.3f} s after the repair", flush=True)
    return detect, recover


def outage_rows(r, runs):
    rows = []
    recoveries = []
    for fault, (_, _, bound) in FAULTS.items():
        results = [one_outage(r, fault) for _ in range(runs)]
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
    root = mailhost.rootfs(container.default_cache())
    deb = os.path.abspath(deb) if deb else container.build_deb(repo, work)
    debdir = os.path.join(work, "deb")
    os.makedirs(debdir, exist_ok=True)
    shutil.copy(deb, debdir)
    made = []
    try:
        with container.booted(root, work, [f"{debdir}:/mnt/deb"]) as c:
            r = mailhost.Run(c)
            mailhost.setup_ldap_and_postfix(c)
            slapd_behind_veth(c)
            own = install_guard(c, deb, made)
            if r.wait_for(r.settled, 30) is None:
                raise Failed("the guard did not come up: " + c.sh(
                    "journalctl --no-pager -n 50 -u ldap-health-check", check=False).stdout)
            rows = cgroup_memory(r, own, "%d s after start" % SETTLE)
            rows += outage_rows(r, runs)
            return rows
    finally:
        remove_memory_cgroups(made)

#!/usr/bin/env python3
"""End-to-end test: the .deb under a real systemd with Debian's real postfix.

Boots a debootstrapped Debian 12 with systemd-nspawn, installs the package,
points postfix at a slapd inside the container, enables the guard and checks
that postfix goes down on an LDAP outage and comes back by itself.

Usage: e2e.py [--source DIR | --deb FILE.deb] [--cache DIR] [--keep-going]
Exit status: 0 passed, 1 failed, 77 skipped (not root, tools missing).
Environment: LHC_E2E_DEB (a prebuilt .deb), LHC_E2E_CACHE (root fs cache).
"""

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

SKIP = 77
SUITE = "bookworm"
PACKAGES = [
    "postfix", "postfix-ldap", "slapd", "ldap-utils",
    # Local users from LDAP through NSS, as on a mail host with nslcd (the NSS-path rows).
    "nslcd", "libnss-ldapd",
    # Runtime libraries of the package: the container has no network.
    "libboost-program-options1.74.0", "libldap-2.5-0", "libsystemd0",
]
BOOTSTRAP_INCLUDE = "systemd,systemd-sysv,dbus,procps"
PRESEED = """\
slapd slapd/domain string example.org
slapd shared/organization string Example
slapd slapd/password1 password e2e-admin-secret
slapd slapd/password2 password e2e-admin-secret
slapd slapd/no_configuration boolean false
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string mx.example.org
nslcd nslcd/ldap-uris string ldap://127.0.0.1/
nslcd nslcd/ldap-base string dc=example,dc=org
libnss-ldapd libnss-ldapd/nsswitch multiselect
"""
# How the root fs is finished after the packages: part of the cache key with the package list
# and the preseed, so that a cache made another way is never used (a new one is built beside
# it). nslcd and the NSS module are installed but unused (nsswitch.conf untouched, nslcd not
# started at boot): only the NSS-path rows turn them on, inside their container's overlay.
ROOTFS_FINISH = ("apt-get clean && rm -f /tmp/preseed /usr/sbin/policy-rc.d && "
                 "systemctl disable -q nslcd.service")

BIND_PW = "e2e-bind-Secret-7Qx"
INTERVAL, FAILURES, RETRY, TIMEOUT = 1.0, 3, 0.2, 2
FULL_PROBE = 4           # --full-probe-interval: the shipped 120 s, shortened for the rows it bounds
WATCHDOG_SEC = 20        # the shipped 2min, shortened so a hang is seen sooner
TIMER_PERIOD = 5         # OnUnitInactiveSec= of ldap-health-check-recover.timer
SLACK = 5.0              # systemd jobs, postfix start and stop, polling, a busy CI host
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

LDIF = f"""\
dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Example
mail: alice@example.org

dn: cn=postfix,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: postfix
userPassword: {BIND_PW}
"""

TABLE = f"""\
server_host = ldap://127.0.0.1/
search_base = ou=people,dc=example,dc=org
query_filter = (mail=%s)
result_attribute = mail
bind = yes
bind_dn = cn=postfix,dc=example,dc=org
bind_pw = {BIND_PW}
timeout = {TIMEOUT}
version = 3
"""

SMTP_CLIENT = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", 25), timeout=40)
f = s.makefile("rwb")
def reply():
    while True:
        line = f.readline().decode()
        if line[3:4] != "-":
            return line.strip()
def say(cmd):
    f.write((cmd + "\r\n").encode()); f.flush(); return reply()
reply(); say("EHLO e2e.example.net"); say("MAIL FROM:<test@example.net>")
print(say("RCPT TO:<%s>" % sys.argv[1])); say("QUIT")
"""


def log(msg):
    print(msg, flush=True)


class Failed(Exception):
    pass


# ---------------------------------------------------------------- root fs

def mirror():
    """The first Debian URI of the host's apt sources."""
    for path in ("/etc/apt/sources.list.d/debian.sources",):
        with contextlib.suppress(OSError), open(path) as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    return "http://deb.debian.org/debian"


@contextlib.contextmanager
def exclusive(cache, container=False):
    """The cache's lock: held while the root fs is built and while a container runs
    (nspawn uses the same machine name and cgroups every time: one container at a time)."""
    os.makedirs(cache, exist_ok=True)
    with open(os.path.join(cache, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if container and other_container():
            log("another lhc-e2e container is running, waiting")
            while other_container():
                time.sleep(5)
        yield


def other_container():
    """A systemd-nspawn of this machine name started by something that skips the lock."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if os.path.basename(argv[0]) == b"systemd-nspawn" and b"--machine=lhc-e2e" in argv:
                return True
    return False


def rootfs(cache):
    """A cached minbase root with systemd, postfix and slapd; built if missing."""
    uri = mirror()
    key = hashlib.sha256("\n".join(
        [SUITE, uri, BOOTSTRAP_INCLUDE, PRESEED, ROOTFS_FINISH] + PACKAGES).encode()).hexdigest()[:16]
    root = os.path.join(cache, f"rootfs-{key}")
    with exclusive(cache):
        if os.path.exists(os.path.join(root, ".complete")):
            return root
        tmp = root + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        log(f"building root fs {root} from {uri} (about 2 minutes)")
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={BOOTSTRAP_INCLUDE}",
                        SUITE, tmp, uri], check=True, stdout=subprocess.DEVNULL)
        policy = os.path.join(tmp, "usr/sbin/policy-rc.d")
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
        with open(os.path.join(tmp, "tmp/preseed"), "w") as f:
            f.write(PRESEED)
        env = {"PATH": PATH, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
        script = ("debconf-set-selections /tmp/preseed && apt-get update -q && "
                  "apt-get install -y -q --no-install-recommends " + " ".join(PACKAGES) +
                  " && " + ROOTFS_FINISH)
        subprocess.run(["chroot", tmp, "sh", "-c", script], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)
        return root


# ---------------------------------------------------------------- the .deb

def build_deb(source, out):
    """dpkg-buildpackage on a copy of the tree, so the tree stays clean."""
    src = os.path.join(out, "src")
    files = subprocess.run(["git", "-C", source, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if not os.path.isfile(os.path.join(source, rel)):
            continue
        dst = os.path.join(src, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.join(source, rel), dst)
    log("building the .deb (dpkg-buildpackage -us -uc -b)")
    with open(os.path.join(out, "build.log"), "w") as logf:
        r = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src,
                           stdout=logf, stderr=subprocess.STDOUT,
                           env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
    if r.returncode:
        with open(os.path.join(out, "build.log")) as f:
            sys.stdout.write(f.read()[-4000:])
        raise Failed("dpkg-buildpackage failed")
    debs = [f for f in os.listdir(out) if f.endswith(".deb") and "dbgsym" not in f]
    return os.path.join(out, debs[0])


# ---------------------------------------------------------------- container

def nspawn_cgroups():
    """Cgroup directories that systemd-nspawn makes for a container."""
    found = set()
    for top, dirs, _ in os.walk("/sys/fs/cgroup"):
        for d in dirs:
            if d in ("payload", "supervisor") or "/payload/" in top + "/":
                found.add(os.path.join(top, d))
    return found


class Container:
    def __init__(self, root, debdir, logdir):
        self.root, self.debdir, self.logdir = root, debdir, logdir
        self.proc = self.leader = self.pidns = None

    def boot(self):
        self.cgroups_before = nspawn_cgroups()
        self.console = open(os.path.join(self.logdir, "console.log"), "w")
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "-D", self.root, "--boot", "--register=no", "--keep-unit",
             "--volatile=overlay", "--private-network", "--console=pipe",
             f"--bind-ro={self.debdir}:/mnt/deb", "--machine=lhc-e2e"],
            stdin=subprocess.DEVNULL, stdout=self.console, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while self.leader is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise Failed("systemd-nspawn did not start a container")
            self.leader = self._find_leader()
            time.sleep(0.1)
        self.pidns = os.readlink(f"/proc/{self.leader}/ns/pid")
        t = time.monotonic()
        state = ""
        while state not in ("running", "degraded"):
            if time.monotonic() - t > 120:
                raise Failed(f"container did not boot: {state!r}")
            time.sleep(0.2)
            state = self.sh("systemctl is-system-running --wait", check=False,
                            timeout=120).stdout.strip()
        log(f"container booted: {state} in {time.monotonic() - t:.1f} s")

    def _find_leader(self):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError):
                status = open(f"/proc/{pid}/status").read()
                nspid = [line.split()[1:] for line in status.splitlines()
                         if line.startswith("NSpid:")][0]
                if len(nspid) == 2 and nspid[1] == "1" and self._descends(int(pid)):
                    return int(pid)
        return None

    def host_pid(self, ns_pid):
        """The host's PID of the process the container knows as ns_pid."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, IndexError):
                with open(f"/proc/{pid}/status") as f:
                    nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
                if nspid[-1] == str(ns_pid) and self._in_ns(pid):
                    return int(pid)
        raise Failed(f"no host PID for container PID {ns_pid}")

    def _descends(self, pid):
        while pid > 1:
            if pid == self.proc.pid:
                return True
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        return False

    def sh(self, script, check=True, timeout=60, stdin=None, net_only=False):
        """Run a shell script inside the container (all namespaces)."""
        cmd = ["nsenter", "-t", str(self.leader), "-a", "--", "/bin/sh", "-c", script]
        env = {"PATH": PATH, "LC_ALL": "C.UTF-8", "SYSTEMD_PAGER": "cat", "SYSTEMD_COLORS": "0"}
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                           timeout=timeout)
        if check and r.returncode:
            raise Failed(f"in container: {script!r} exited {r.returncode}: {r.stdout}{r.stderr}")
        return r

    def write(self, path, text, mode="0644", owner="root:root"):
        self.sh(f"cat > {path} && chmod {mode} {path} && chown {owner} {path}", stdin=text)

    def smtp_rcpt(self, address):
        """RCPT TO answer from postfix, talking from inside the container's network."""
        r = subprocess.run(["nsenter", "-t", str(self.leader), "-n", "--", sys.executable,
                            "-c", SMTP_CLIENT, address], capture_output=True, text=True,
                           timeout=60)
        lines = (r.stdout or r.stderr).strip().splitlines()
        return lines[-1] if lines else ""

    def shutdown(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._kill_leftovers()
        self.console.close()
        # nspawn --keep-unit makes payload/ and supervisor/ next to our own cgroup.
        for path in sorted(nspawn_cgroups() - self.cgroups_before, key=len, reverse=True):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(path)
        left = nspawn_cgroups() - self.cgroups_before
        if left:
            raise Failed(f"cgroups left behind: {sorted(left)}")

    def _kill_leftovers(self):
        """Whatever still lives in the container's PID namespace is ours to end."""
        if not self.pidns:
            return
        for _ in range(50):
            left = [int(p) for p in filter(str.isdigit, os.listdir("/proc"))
                    if self._in_ns(p)]
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        raise Failed(f"processes left in the container's namespace: {left}")

    def _in_ns(self, pid):
        try:
            return os.readlink(f"/proc/{pid}/ns/pid") == self.pidns
        except OSError:
            return False


# ---------------------------------------------------------------- checks

class Run:
    def __init__(self, c):
        self.c = c
        self.rows = []   # (scenario, verdict, measured, bound)

    def record(self, name, ok, measured="", bound=""):
        self.rows.append((name, "PASS" if ok else "FAIL", measured, bound))
        log(f"{'PASS' if ok else 'FAIL'}: {name} {measured} {('(bound ' + bound + ')') if bound else ''}")

    def state(self, unit):
        return self.c.sh(f"systemctl is-active {unit}", check=False).stdout.strip()

    def wait_for(self, predicate, limit, step=0.1):
        """Seconds until predicate() held, or None after limit seconds."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if predicate():
                return time.monotonic() - t0
            time.sleep(step)
        return None

    def postfix_down(self):
        return (self.state("postfix@-.service") != "active"
                and self.state("postfix.service") != "active")

    def postfix_up(self):
        return (self.state("postfix@-.service") == "active"
                and self.state("postfix.service") == "active"
                and self.state("ldap-health-check.service") == "active")

    def master(self):
        """postfix@- runs with GuessMainPID=no: identify the MTA by master's PID."""
        r = self.c.sh("cat /var/spool/postfix/pid/master.pid", check=False)
        return r.stdout.strip()

    def timed(self, name, predicate, bound):
        took = self.wait_for(predicate, bound + 30)
        ok = took is not None and took <= bound
        self.record(name, ok, "not within %.0f s" % (bound + 30) if took is None
                    else f"{took:.1f} s", f"{bound:.1f} s")
        return took is not None

    def journal_since(self, cursor_time, unit="ldap-health-check"):
        return self.c.sh(f"journalctl -q --no-pager -o cat -u {unit} --since '@{cursor_time}'",
                         check=False).stdout

    def now(self):
        return self.c.sh("date +%s.%N").stdout.strip()


def setup_ldap_and_postfix(c):
    c.sh("systemctl is-active slapd")
    c.sh("ldapadd -x -H ldap://127.0.0.1/ -D cn=admin,dc=example,dc=org -w e2e-admin-secret",
         stdin=LDIF)
    c.write("/etc/postfix/ldap-users.cf", TABLE, mode="0640", owner="root:postfix")
    c.sh("postconf -e 'virtual_mailbox_domains = example.org' "
         "'virtual_mailbox_maps = ldap:/etc/postfix/ldap-users.cf' "
         "'virtual_mailbox_base = /var/mail/vhosts' 'virtual_uid_maps = static:5000' "
         "'virtual_gid_maps = static:5000' 'smtpd_delay_reject = no' "
         "'inet_protocols = ipv4' 'inet_interfaces = loopback-only' && "
         "postmap -q alice@example.org ldap:/etc/postfix/ldap-users.cf && "
         "systemctl restart postfix && systemctl is-active postfix@-.service")


def enable_guard(c, tables, extra=""):
    """The test's timings (short watchdog), the tables named, `extra` options, then enable
    --now."""
    files = " ".join(f"--conffile {t}" for t in tables)
    c.write("/etc/default/ldap-health-check",
            f'LDAP_HEALTH_CHECK_OPTS="{files} '
            f'--interval {INTERVAL} --failures {FAILURES} --retry-interval {RETRY} '
            f'--full-probe-interval {FULL_PROBE} {extra}"\n')
    c.sh("mkdir -p /etc/systemd/system/ldap-health-check.service.d")
    c.write("/etc/systemd/system/ldap-health-check.service.d/e2e.conf",
            f"[Service]\nWatchdogSec={WATCHDOG_SEC}s\n")
    c.sh("systemctl daemon-reload && systemctl enable --now ldap-health-check.service")


def scenarios(c, deb):
    r = Run(c)
    setup_ldap_and_postfix(c)
    name = os.path.basename(deb)

    # -- install: nothing is enabled or started, postfix untouched
    before = r.master()
    c.sh(f"dpkg -i /mnt/deb/{name}")
    time.sleep(1)
    r.record("install leaves postfix running (master PID unchanged)",
             r.master() == before and r.state("postfix@-.service") == "active",
             f"{before} -> {r.master()}")
    r.record("install enables and starts nothing",
             r.state("ldap-health-check.service") == "inactive"
             and c.sh("systemctl is-enabled ldap-health-check.service", check=False)
             .stdout.strip() == "disabled"
             and "ldap-health-check" not in c.sh("systemctl show -p Requires postfix.service")
             .stdout)

    units = ("ldap-health-check.service ldap-health-check-outage.service "
             "ldap-health-check-recover.service ldap-health-check-recover.timer")
    verify = c.sh(f"systemd-analyze verify --man=no {units}", check=False)
    complaint = (verify.stdout + verify.stderr).strip()
    r.record("systemd-analyze verify of the installed units",
             verify.returncode == 0 and not complaint, complaint[:60])
    for unit in units.split()[:3]:
        out = c.sh(f"systemd-analyze security --no-pager {unit}", check=False).stdout
        score = re.search(r"exposure level for \S+: ([0-9.]+) (\w+)", out)
        r.record(f"systemd-analyze security {unit} <= 2.0",
                 bool(score) and float(score.group(1)) <= 2.0,
                 " ".join(score.groups()) if score else out[-60:])

    enable_guard(c, ["/etc/postfix/ldap-users.cf"])
    r.record("enable --now leaves postfix running", r.master() == before)

    # -- healthy
    healthy = r.wait_for(r.postfix_up, 10) is not None
    status = c.sh("systemctl status --no-pager ldap-health-check", check=False).stdout
    status_line = next((l.strip() for l in status.splitlines()
                        if l.strip().startswith("Status:")), "")
    r.record("healthy: postfix@-, postfix, ldap-health-check active", healthy)
    r.record("healthy: systemctl status shows a Status line", bool(status_line), status_line)
    log(status)
    rcpt = c.smtp_rcpt("alice@example.org")
    r.record("healthy: RCPT TO an LDAP user answers 250", rcpt.startswith("250"), rcpt)
    rcpt = c.smtp_rcpt("nobody@example.org")
    r.record("healthy: RCPT TO an unknown user answers 550", rcpt.startswith("550"), rcpt)

    detect = INTERVAL * FAILURES + TIMEOUT + SLACK
    recover = TIMER_PERIOD + TIMEOUT + SLACK

    def outage(title, break_cmd, repair_cmd, bound, why):
        since = r.now()
        c.sh(break_cmd)
        if r.timed(f"{title}: postfix and postfix@- inactive", r.postfix_down, bound):
            reason = why(since)
            r.record(f"{title}: the journal says why", bool(reason), reason[:100])
            r.record(f"{title}: outage marker present",
                     c.sh("test -e /run/ldap-health-check/outage", check=False).returncode == 0)
        c.sh(repair_cmd)
        r.timed(f"{title}: postfix active again, no manual step", r.postfix_up, recover)
        r.record(f"{title}: marker cleared, recover timer stopped",
                 c.sh("test -e /run/ldap-health-check/outage", check=False).returncode != 0
                 and r.wait_for(lambda: r.state("ldap-health-check-recover.timer")
                                != "active", 5) is not None)
        rcpt = c.smtp_rcpt("alice@example.org")
        r.record(f"{title}: RCPT TO answers 250 again", rcpt.startswith("250"), rcpt)

    def daemon_said(since):
        """The daemon's own warning (or worse) about the outage."""
        return c.sh(f"journalctl -q --no-pager -o cat -p warning --since '@{since}' "
                    "SYSLOG_IDENTIFIER=ldap-health-check", check=False).stdout.strip()

    def systemd_said(text):
        return lambda since: next((line for line in r.journal_since(since).splitlines()
                                   if text in line), "")

    outage("slapd stopped", "systemctl stop slapd", "systemctl start slapd", detect,
           daemon_said)
    outage("slapd hung (SIGSTOP)", "systemctl kill -s SIGSTOP slapd",
           "systemctl kill -s SIGCONT slapd",
           INTERVAL + FAILURES * (TIMEOUT + RETRY) + TIMEOUT + SLACK, daemon_said)
    outage("health check SIGKILL", "systemctl kill -s SIGKILL ldap-health-check", "true", SLACK,
           systemd_said("Failed with result 'signal'"))
    outage("health check hung (SIGSTOP, watchdog)",
           "systemctl kill -s SIGSTOP --kill-who=main ldap-health-check", "true",
           WATCHDOG_SEC + SLACK, systemd_said("Watchdog timeout"))

    # -- the administrator stops postfix: it stays stopped
    c.sh("systemctl stop postfix")
    stays = r.wait_for(lambda: not r.postfix_down(), 2 * TIMER_PERIOD + 2) is None
    r.record("admin stop: postfix stays stopped over two timer periods",
             stays and r.state("ldap-health-check-recover.timer") != "active",
             f"{2 * TIMER_PERIOD + 2} s watched")
    c.sh("systemctl start postfix")
    r.record("admin start: postfix and the guard active", r.wait_for(r.postfix_up, 10) is not None)

    # -- postfix started while LDAP is down, as at boot: it stays down until LDAP answers
    c.sh("systemctl stop postfix ldap-health-check && systemctl stop slapd")
    since = r.now()
    refused = c.sh("systemctl start postfix", check=False, timeout=300).returncode != 0
    started = c.sh(f"journalctl -q --no-pager -o cat -u postfix@- --since '@{since}' "
                   "| grep -c '^Started'", check=False).stdout.strip()
    r.record("start with LDAP down: systemctl start postfix fails, the MTA never starts",
             refused and started == "0" and r.postfix_down(), f"{started} MTA starts")
    c.sh("systemctl start slapd")
    r.timed("start with LDAP down: postfix active once slapd answers", r.postfix_up, recover)

    # -- zero-config: postconf, run inside the sandbox, finds the table
    c.write("/etc/default/ldap-health-check",
            f'LDAP_HEALTH_CHECK_OPTS="--interval {INTERVAL} --failures {FAILURES}"\n')
    since = r.now()
    c.sh("systemctl restart ldap-health-check postfix")
    found = c.sh(f"journalctl -q --no-pager -o cat --since '@{since}' "
                 "SYSLOG_IDENTIFIER=ldap-health-check | grep -m1 ldap-users.cf", check=False)
    r.record("zero-config: postconf in the sandbox finds the table, postfix active",
             r.wait_for(r.postfix_up, 10) is not None and found.returncode == 0,
             found.stdout.strip()[:60])

    nss_path(c, r)

    # -- upgrade (the same version again) restarts the guard, not postfix
    before = r.master()
    guard = c.sh("systemctl show -P MainPID ldap-health-check").stdout.strip()
    c.sh(f"dpkg -i /mnt/deb/{name}")
    time.sleep(1)
    after_guard = c.sh("systemctl show -P MainPID ldap-health-check").stdout.strip()
    r.record("upgrade: postfix untouched, guard restarted",
             r.master() == before and r.postfix_up() and after_guard != guard,
             f"master {before} -> {r.master()}, guard {guard} -> {after_guard}")

    # -- removal: postfix keeps running and can still be started
    before = r.master()
    c.sh("dpkg -r ldap-health-check")
    time.sleep(1)
    r.record("removal: postfix untouched",
             r.master() == before and r.state("postfix@-.service") == "active",
             f"{before} -> {r.master()}")
    c.sh("systemctl restart postfix")
    r.record("removal: postfix starts without the guard",
             r.state("postfix@-.service") == "active"
             and "ldap-health-check" not in c.sh("systemctl show -p Requires postfix@-.service")
             .stdout)

    journal = c.sh("journalctl -q --no-pager -o cat", check=False).stdout
    r.record("the journal has no bind_pw value", BIND_PW not in journal,
             f"{len(journal.splitlines())} lines searched")
    return r


# Postfix's default mydestination holds "localhost": mail for alice@localhost is local
# delivery, checked against local_recipient_maps (proxy:unix:passwd.byname $alias_maps).
LOCAL_ALICE = "alice@localhost"
NSS_WAIT = 10  # --nss-user's bound with no ldap: table: Postfix's default timeout
POSIX_ALICE = """\
dn: uid=alice,ou=people,dc=example,dc=org
changetype: modify
add: objectClass
objectClass: posixAccount
-
add: uidNumber
uidNumber: 10001
-
add: gidNumber
gidNumber: 10001
-
add: homeDirectory
homeDirectory: /home/alice
"""


def nss_path(c, r):
    """Local users from LDAP through nslcd and libnss-ldapd, with Postfix's default
    local_recipient_maps and no ldap: table: first the disaster without the guard (what
    Postfix answers for alice while slapd is stopped), then the guard with --nss-user alice
    alone, in the shipped sandbox: slapd stopped or nslcd hung stops Postfix, and Postfix
    comes back by itself. Everything changed here is put back for the rows after it."""
    opts = c.sh("cat /etc/default/ldap-health-check").stdout
    c.sh("ldapmodify -x -H ldap://127.0.0.1/ -D cn=admin,dc=example,dc=org -w e2e-admin-secret",
         stdin=POSIX_ALICE)
    c.sh("cp /etc/nsswitch.conf /root/nsswitch.conf && cp /etc/postfix/main.cf /root/main.cf && "
         "sed -i 's/^passwd:.*/& ldap/' /etc/nsswitch.conf && systemctl start nslcd")
    got = c.sh("getent passwd alice", check=False).stdout.strip()
    maps = c.sh("postconf -h local_recipient_maps").stdout.strip()
    r.record("NSS: alice resolves through nslcd; local_recipient_maps is the default",
             got.startswith("alice:") and "unix:passwd.byname" in maps, f"{got}; {maps}")

    # Without the guard: Postfix alone, its users from NSS.
    c.sh("systemctl disable --now ldap-health-check.service && "
         "postconf -X virtual_mailbox_domains virtual_mailbox_maps && systemctl start postfix")
    r.wait_for(lambda: r.state("postfix@-.service") == "active", 10)
    warn = c.sh("ldap-health-check --check-config 2>&1", check=False).stdout.strip()
    r.record("NSS: --check-config says the NSS path is not watched",
             "the NSS path is not watched" in warn and "--nss-user" in warn, warn[:100])
    rcpt = c.smtp_rcpt(LOCAL_ALICE)
    r.record(f"NSS, no guard: RCPT TO:<{LOCAL_ALICE}> answers 250", rcpt.startswith("250"), rcpt)
    c.sh("systemctl stop slapd")
    rcpt = c.smtp_rcpt(LOCAL_ALICE)
    r.record(f"NSS, no guard, slapd stopped: RCPT TO:<{LOCAL_ALICE}> bounces (the disaster)",
             rcpt.startswith("550"), rcpt)
    c.sh("systemctl start slapd")
    r.wait_for(lambda: c.smtp_rcpt(LOCAL_ALICE).startswith("250"), 20, step=0.5)

    # With the guard: --nss-user alice, no table.
    c.write("/etc/default/ldap-health-check",
            f'LDAP_HEALTH_CHECK_OPTS="--nss-user alice --interval {INTERVAL} '
            f'--failures {FAILURES} --retry-interval {RETRY}"\n')
    c.sh("systemctl enable --now ldap-health-check.service")
    up = r.wait_for(r.postfix_up, 15) is not None
    status = c.sh("systemctl show -P StatusText ldap-health-check", check=False).stdout.strip()
    r.record("NSS guard: healthy in the shipped sandbox, postfix active",
             up and status.startswith("LDAP healthy") and "1 NSS user" in status, status[:80])
    rcpt = c.smtp_rcpt(LOCAL_ALICE)
    r.record(f"NSS guard: RCPT TO:<{LOCAL_ALICE}> answers 250", rcpt.startswith("250"), rcpt)

    def nss_outage(title, break_cmd, repair_cmd, bound, cause):
        since = r.now()
        c.sh(break_cmd)
        if r.timed(f"{title}: postfix stopped", r.postfix_down, bound):
            said = c.sh(f"journalctl -q --no-pager -o cat -p crit --since '@{since}' "
                        "SYSLOG_IDENTIFIER=ldap-health-check", check=False).stdout.strip()
            r.record(f"{title}: the journal names alice and NSS",
                     "NSS user alice" in said and cause in said, said[-120:])
            refused = c.smtp_rcpt(LOCAL_ALICE)
            r.record(f"{title}: SMTP connection refused (senders use the next MX)",
                     "Connection refused" in refused, refused[-60:])
        c.sh(repair_cmd)
        r.timed(f"{title}: postfix active again, no manual step", r.postfix_up,
                TIMER_PERIOD + NSS_WAIT + SLACK)
        rcpt = c.smtp_rcpt(LOCAL_ALICE)
        r.record(f"{title}: RCPT TO:<{LOCAL_ALICE}> answers 250 again", rcpt.startswith("250"),
                 rcpt)

    nss_outage("NSS guard, slapd stopped", "systemctl stop slapd", "systemctl start slapd",
               INTERVAL * FAILURES + NSS_WAIT + SLACK, 'getpwnam("alice")')
    nss_outage("NSS guard, nslcd hung (SIGSTOP)", "systemctl kill -s SIGSTOP nslcd",
               "systemctl kill -s SIGCONT nslcd",
               INTERVAL + NSS_WAIT + FAILURES * RETRY + SLACK, f"no answer within {NSS_WAIT} s")

    c.write("/etc/default/ldap-health-check", opts)
    # One job at a time: restarting the guard restarts postfix too (Requires=), and a postfix
    # restart queued beside it is cancelled.
    c.sh("cp /root/nsswitch.conf /etc/nsswitch.conf && cp /root/main.cf /etc/postfix/main.cf && "
         "systemctl stop nslcd && systemctl restart ldap-health-check && systemctl restart postfix")
    r.record("NSS rows undone: postfix, the guard active with the earlier options",
             r.wait_for(r.postfix_up, 15) is not None)


def summary(rows):
    w = max(len(n) for n, *_ in rows)
    log("\n%-*s  %-4s  %-14s  %s" % (w, "scenario", "", "measured", "bound"))
    for name, verdict, measured, bound in rows:
        log("%-*s  %-4s  %-14s  %s" % (w, name, verdict, measured[:60], bound))


def main(run_scenarios=scenarios, report=summary, description=__doc__):
    """Boots the container and runs run_scenarios(container, deb) in it; report(rows) prints
    the rows of the Run it returns (row[1] is the verdict)."""
    p = argparse.ArgumentParser(description=description.splitlines()[0])
    p.add_argument("--source", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    p.add_argument("--deb", default=os.environ.get("LHC_E2E_DEB"))
    p.add_argument("--cache", default=os.environ.get("LHC_E2E_CACHE",
                                                     "/var/cache/ldap-health-check-e2e"))
    args = p.parse_args()

    if os.geteuid() != 0:
        log("SKIP: needs root")
        return SKIP
    need = ["systemd-nspawn", "nsenter", "debootstrap"] + ([] if args.deb else ["dpkg-buildpackage"])
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        log(f"SKIP: missing {' '.join(missing)}")
        return SKIP

    work = tempfile.mkdtemp(prefix="lhc-e2e-")
    container = None
    held = contextlib.ExitStack()
    try:
        root = rootfs(args.cache)
        deb = os.path.abspath(args.deb) if args.deb else build_deb(args.source, work)
        debdir = os.path.join(work, "deb")
        os.makedirs(debdir, exist_ok=True)
        shutil.copy(deb, debdir)
        held.enter_context(exclusive(args.cache, container=True))
        container = Container(root, debdir, work)
        container.boot()
        run = run_scenarios(container, os.path.join(debdir, os.path.basename(deb)))
        report(run.rows)
        failed = [row for row in run.rows if row[1] != "PASS"]
        if failed:
            log(container.sh("journalctl --no-pager -n 200 -u ldap-health-check "
                             "-u ldap-health-check-outage -u ldap-health-check-recover "
                             "-u postfix@-", check=False).stdout)
        return 1 if failed else 0
    except Failed as e:
        log(f"FAIL: {e}")
        if container and container.leader:
            log(container.sh("journalctl --no-pager -n 100", check=False).stdout)
        return 1
    finally:
        if container:
            container.shutdown()
        held.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

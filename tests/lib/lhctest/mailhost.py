"""The mail host in the container: the real Debian postfix looking users up in a real slapd,
and the .deb's guard watching that table with the test's short timings.

Shared by tests/e2e/e2e.py, tests/e2e/fault_matrix.py and bench/container.py: the root file
system's packages, the directory data and the table, the set-up steps, the systemd states a
scenario watches (Run), and main(), which boots the container and runs scenarios in it.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from lhctest import container
from lhctest.container import Failed, log

SKIP = 77
PACKAGES = [
    "postfix", "postfix-ldap", "slapd", "ldap-utils",
    # Local users from LDAP through NSS, as on a mail host with nslcd (e2e's NSS-path rows).
    "nslcd", "libnss-ldapd",
]
# The unit that runs the default Postfix instance in this release (postfix@-.service in
# bookworm, postfix.service in trixie).
MTA = container.release().mta_unit
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
# nslcd and the NSS module are installed but unused: nsswitch.conf untouched (the preseed
# above) and nslcd not started at boot. Only e2e's NSS-path rows turn them on, inside their
# container's overlay. Part of the cache key: a root made without this is never used.
ROOTFS_FINISH = "systemctl disable -q nslcd.service"

BIND_PW = "e2e-bind-Secret-7Qx"
INTERVAL, FAILURES, RETRY, TIMEOUT = 1.0, 3, 0.2, 2
FULL_PROBE = 4           # --full-probe-interval: the shipped 120 s, shortened for the rows it bounds
WATCHDOG_SEC = 20        # the shipped 2min, shortened so a hang is seen sooner
TIMER_PERIOD = 5         # OnUnitInactiveSec= of ldap-health-check-recover.timer
SLACK = 5.0              # systemd jobs, postfix start and stop, polling, a busy CI host
RECOVER = TIMER_PERIOD + TIMEOUT + SLACK  # from the repair to postfix active again
FOLLOW = 2.0             # from a change of a table to the guard reading it again

# slapd behind a veth pair in a network namespace of its own (slapd_behind_veth).
NETNS = "/run/netns/lhc-slapd"
CLIENT_IP, SERVER_IP = "10.203.0.1", "10.203.0.2"

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


def rootfs(cache):
    """The cached minbase root with systemd, postfix and slapd; built if missing."""
    # The package's run-time libraries too: the container has no network.
    return container.minbase_root(cache, BOOTSTRAP_INCLUDE,
                                  PACKAGES + container.release().runtime, PRESEED, ROOTFS_FINISH)


# ---------------------------------------------------------------- set-up

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
         f"systemctl restart postfix && systemctl is-active {MTA}")


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


def slapd_behind_veth(c):
    """Moves slapd into the network namespace NETNS (made inside the container's private
    network), reachable at SERVER_IP from CLIENT_IP over a veth pair, and restarts it: a
    blackhole route there drops slapd's answers."""
    c.sh("mkdir -p /run/netns && (mountpoint -q /run/netns || mount --bind /run/netns /run/netns)"
         f" && mount --make-private /run/netns && touch {NETNS} && unshare --net={NETNS} true")
    c.ip("link", "add", "lhc0", "type", "veth", "peer", "name", "lhc1")
    c.ip("link", "set", "lhc1", "netns", f"/proc/{c.leader}/root{NETNS}")
    c.ip("addr", "add", f"{CLIENT_IP}/30", "dev", "lhc0")
    c.ip("link", "set", "lhc0", "up")
    for args in (("link", "set", "lo", "up"), ("addr", "add", f"{SERVER_IP}/30", "dev", "lhc1"),
                 ("link", "set", "lhc1", "up")):
        c.ip(*args, netns=NETNS)
    c.sh("mkdir -p /etc/systemd/system/slapd.service.d")
    c.write("/etc/systemd/system/slapd.service.d/netns.conf",
            f"[Service]\nNetworkNamespacePath={NETNS}\n")
    c.sh("systemctl daemon-reload && systemctl restart slapd")


def smtp_rcpt(c, address):
    """RCPT TO answer from postfix, talking from inside the container's network."""
    r = subprocess.run(["nsenter", "-t", str(c.leader), "-n", "--", sys.executable,
                        "-c", SMTP_CLIENT, address], capture_output=True, text=True, timeout=60)
    lines = (r.stdout or r.stderr).strip().splitlines()
    return lines[-1] if lines else ""


# ---------------------------------------------------------------- watching it

class Run:
    """The rows of a run of scenarios, and what they ask the container's systemd."""

    def __init__(self, c):
        self.c = c
        self.rows = []   # row[0] the scenario, row[1] the verdict

    def record(self, name, ok, measured="", bound=""):
        self.rows.append((name, "PASS" if ok else "FAIL", measured, bound))
        log(f"{'PASS' if ok else 'FAIL'}: {name} {measured} {('(bound ' + bound + ')') if bound else ''}")

    def state(self, unit):
        return self.c.sh(f"systemctl is-active {unit}", check=False).stdout.strip()

    def properties(self, unit, *props):
        """{property: value} of `systemctl show`."""
        out = self.c.sh(f"systemctl show {unit} " + " ".join("-p " + p for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def show(self, prop, unit="ldap-health-check.service"):
        return self.c.sh(f"systemctl show -P {prop} {unit}", check=False).stdout.strip()

    def status(self):
        """The guard's STATUS= line."""
        return self.show("StatusText")

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
        return (self.state(MTA) == "active" and self.state("postfix.service") == "active"
                and self.state("ldap-health-check.service") == "active")

    def settled(self):
        """The state an outage starts from: all up, no outage pending, the guard healthy."""
        return (self.postfix_up() and self.state("ldap-health-check-recover.timer") != "active"
                and self.status().startswith("LDAP healthy"))

    def master(self):
        """bookworm's postfix@- runs with GuessMainPID=no: identify the MTA by master's PID."""
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

    def daemon_log(self, since, priority="debug"):
        """What the guard itself logged since `since`, at `priority` or worse."""
        return self.c.sh(f"journalctl -q --no-pager -o cat -p {priority} --since '@{since}' "
                         "SYSLOG_IDENTIFIER=ldap-health-check", check=False).stdout

    def now(self):
        return self.c.sh("date +%s.%N").stdout.strip()


# ---------------------------------------------------------------- main

def main(run_scenarios, report, description):
    """Boots the container with the .deb and runs run_scenarios(container, deb) in it;
    report(rows) prints the rows of the Run it returns (row[1] is the verdict).
    Exit status: 0 passed, 1 failed, 77 skipped (not root, tools missing)."""
    p = argparse.ArgumentParser(description=description.splitlines()[0])
    p.add_argument("--source", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))))
    p.add_argument("--deb", default=os.environ.get("LHC_E2E_DEB"))
    p.add_argument("--cache", default=container.default_cache())
    args = p.parse_args()

    if os.geteuid() != 0:
        log("SKIP: needs root")
        return SKIP
    need = ["systemd-nspawn", "nsenter", "debootstrap"]
    missing = [t for t in need if shutil.which(t) is None]
    if missing:
        log(f"SKIP: missing {' '.join(missing)}")
        return SKIP

    work = tempfile.mkdtemp(prefix="lhc-e2e-")
    try:
        root = rootfs(args.cache)
        deb = os.path.abspath(args.deb) if args.deb else container.build_deb(args.source, work, args.cache)
        debdir = os.path.join(work, "deb")
        os.makedirs(debdir, exist_ok=True)
        shutil.copy(deb, debdir)
        container.previous_build(deb, debdir)  # what the upgrade row starts from
        with container.booted(root, work, [f"{debdir}:/mnt/deb"], args.cache) as c:
            run = run_scenarios(c, os.path.join(debdir, os.path.basename(deb)))
            report(run.rows)
            failed = [row for row in run.rows if row[1] != "PASS"]
            if failed:
                log(c.sh("journalctl --no-pager -n 200 -u ldap-health-check "
                         "-u ldap-health-check-outage -u ldap-health-check-recover "
                         f"-u {MTA}", check=False).stdout)
            return 1 if failed else 0
    except Failed as e:
        log(f"FAIL ({container.release().name}): {e}")
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)

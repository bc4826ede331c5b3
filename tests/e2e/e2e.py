#!/usr/bin/env python3
"""End-to-end test: the .deb under a real systemd with Debian's real postfix.

Boots a debootstrapped Debian 12 with systemd-nspawn, installs the package,
points postfix at a slapd inside the container, enables the guard and checks
that postfix goes down on an LDAP outage and comes back by itself. Each
scenario is a function of its own, run in the order of SCENARIOS; the container,
the mail host and the timings come from lhctest.container and lhctest.mailhost.

Usage: e2e.py [--source DIR | --deb FILE.deb] [--cache DIR], as root, with
PYTHONPATH=tests/lib
Exit status: 0 passed, 1 failed, 77 skipped (not root, tools missing).
Environment: LHC_E2E_DEB (a prebuilt .deb), LHC_E2E_CACHE (root fs cache).
"""

import os
import re
import sys
import time

from lhctest import mailhost
from lhctest.container import log
from lhctest.mailhost import (BIND_PW, FAILURES, FOLLOW, INTERVAL, MTA, RECOVER, RETRY, SLACK,
                              TIMEOUT, TIMER_PERIOD, WATCHDOG_SEC, smtp_rcpt)

UNITS = ("ldap-health-check.service", "ldap-health-check-outage.service",
         "ldap-health-check-recover.service", "ldap-health-check-recover.timer")
DETECT = INTERVAL * FAILURES + TIMEOUT + SLACK  # from the outage to postfix stopped
OUTAGE_ID = "59d3dbaad4bc4980b29bd945bf16e74d"  # MESSAGE_ID of "LDAP down, exiting"
QUIET_LINES = 10  # journal lines in any minute of an outage after the first
QUICK_RECOVERY = 5.0  # seconds from LDAP answering to postfix active, after a long outage


# ---------------------------------------------------------------- scenarios

def install(r, deb):
    """dpkg -i: nothing is enabled or started, postfix untouched."""
    before = r.master()
    r.c.sh(f"dpkg -i /mnt/deb/{os.path.basename(deb)}")
    time.sleep(1)
    r.record("install leaves postfix running (master PID unchanged)",
             r.master() == before and r.state(MTA) == "active",
             f"{before} -> {r.master()}")
    r.record("install enables and starts nothing",
             r.state("ldap-health-check.service") == "inactive"
             and r.c.sh("systemctl is-enabled ldap-health-check.service", check=False)
             .stdout.strip() == "disabled"
             and "ldap-health-check" not in r.c.sh("systemctl show -p Requires postfix.service")
             .stdout)


def installed_units(r, deb):
    """systemd-analyze verify and security on the units as installed."""
    verify = r.c.sh(f"systemd-analyze verify --man=no {' '.join(UNITS)}", check=False)
    complaint = (verify.stdout + verify.stderr).strip()
    r.record("systemd-analyze verify of the installed units",
             verify.returncode == 0 and not complaint, complaint[:60])
    for unit in UNITS[:3]:
        out = r.c.sh(f"systemd-analyze security --no-pager {unit}", check=False).stdout
        score = re.search(r"exposure level for \S+: ([0-9.]+) (\w+)", out)
        r.record(f"systemd-analyze security {unit} <= 2.0",
                 bool(score) and float(score.group(1)) <= 2.0,
                 " ".join(score.groups()) if score else out[-60:])


def enable(r, deb):
    """systemctl enable --now with the test's timings: postfix keeps running."""
    before = r.master()
    mailhost.enable_guard(r.c, ["/etc/postfix/ldap-users.cf"])
    r.record("enable --now leaves postfix running", r.master() == before)


def healthy(r, deb):
    """All active, a Status line, and postfix answering RCPT TO from LDAP."""
    up = r.wait_for(r.postfix_up, 10) is not None
    status = r.c.sh("systemctl status --no-pager ldap-health-check", check=False).stdout
    status_line = next((line.strip() for line in status.splitlines()
                        if line.strip().startswith("Status:")), "")
    r.record(f"healthy: {MTA}, postfix, ldap-health-check active", up)
    r.record("healthy: systemctl status shows a Status line", bool(status_line), status_line)
    log(status)
    rcpt = smtp_rcpt(r.c, "alice@example.org")
    r.record("healthy: RCPT TO an LDAP user answers 250", rcpt.startswith("250"), rcpt)
    rcpt = smtp_rcpt(r.c, "nobody@example.org")
    r.record("healthy: RCPT TO an unknown user answers 550", rcpt.startswith("550"), rcpt)


METRICS_DIR = "/var/lib/prometheus/node-exporter"  # Debian's textfile collector directory
METRICS_DROPIN = f"""[Service]
ReadWritePaths={METRICS_DIR}
SupplementaryGroups=postfix prometheus
"""


def metrics_file(r, deb):
    """--metrics-file with the operator guide's drop-in: the file appears in the collector's
    directory, readable by others, and the sandbox keeps its score."""
    c = r.c
    c.sh(f"getent group prometheus || groupadd --system prometheus; "
         f"install -d -o root -g prometheus -m 0775 {METRICS_DIR}")
    dropin = "/etc/systemd/system/ldap-health-check.service.d/metrics.conf"
    c.write(dropin, METRICS_DROPIN)
    options = c.sh("cat /etc/default/ldap-health-check").stdout
    path = f"{METRICS_DIR}/ldap-health-check.prom"
    c.write("/etc/default/ldap-health-check",
            options.replace('OPTS="', f'OPTS="--metrics-file {path} '))
    c.sh("systemctl daemon-reload && systemctl restart ldap-health-check postfix")
    r.wait_for(lambda: c.sh(f"test -s {path}", check=False).returncode == 0, 10)
    text = c.sh(f"cat {path}", check=False).stdout
    mode = c.sh(f"stat -c %a {path}", check=False).stdout.strip()
    r.record("metrics: the file in the collector's directory says up 1, mode 644",
             "\nldap_health_check_up 1\n" in "\n" + text and mode == "644",
             f"mode {mode}, {len(text.splitlines())} lines")
    log(text)
    out = c.sh("systemd-analyze security --no-pager ldap-health-check.service", check=False).stdout
    score = re.search(r"exposure level for \S+: ([0-9.]+) (\w+)", out)
    r.record("metrics: with the drop-in, systemd-analyze security <= 1.5",
             bool(score) and float(score.group(1)) <= 1.5,
             " ".join(score.groups()) if score else out[-60:])
    c.sh(f"rm -f {dropin}")
    c.write("/etc/default/ldap-health-check", options)
    c.sh("systemctl daemon-reload && systemctl restart ldap-health-check postfix")
    r.record("metrics: back to the shipped unit, postfix active",
             r.wait_for(r.postfix_up, 10) is not None)


def outage(r, title, break_cmd, repair_cmd, bound, why):
    """break_cmd stops postfix within `bound`, why(since) says so in the journal; after
    repair_cmd postfix is back within RECOVER with no manual step."""
    c = r.c
    since = r.now()
    c.sh(break_cmd)
    if r.timed(f"{title}: postfix and {MTA} inactive", r.postfix_down, bound):
        reason = why(r, since)
        r.record(f"{title}: the journal says why", bool(reason), reason[:100])
        r.record(f"{title}: outage marker present",
                 c.sh("test -e /run/ldap-health-check/outage", check=False).returncode == 0)
    c.sh(repair_cmd)
    r.timed(f"{title}: postfix active again, no manual step", r.postfix_up, RECOVER)
    r.record(f"{title}: marker cleared, recover timer stopped",
             c.sh("test -e /run/ldap-health-check/outage", check=False).returncode != 0
             and r.wait_for(lambda: r.state("ldap-health-check-recover.timer")
                            != "active", 5) is not None)
    rcpt = smtp_rcpt(c, "alice@example.org")
    r.record(f"{title}: RCPT TO answers 250 again", rcpt.startswith("250"), rcpt)


def daemon_said(r, since):
    """The daemon's own warning (or worse) about the outage."""
    return r.daemon_log(since, "warning").strip()


def systemd_said(text):
    return lambda r, since: next((line for line in r.journal_since(since).splitlines()
                                  if text in line), "")


def slapd_stopped(r, deb):
    outage(r, "slapd stopped", "systemctl stop slapd", "systemctl start slapd", DETECT,
           daemon_said)


def journal_events(r, deb):
    """The outage is a journal event of its own, found by MESSAGE_ID with its fields, and
    journalctl -x explains it from the package's catalog."""
    c = r.c
    since = r.now()
    c.sh("systemctl stop slapd")
    down = r.wait_for(r.postfix_down, DETECT) is not None
    entry = c.sh(f"journalctl -q --no-pager -o verbose --since '@{since}' MESSAGE_ID={OUTAGE_ID}",
                 check=False).stdout
    fields = [line.strip() for line in entry.splitlines() if line.strip().startswith("LDAP_")]
    r.record("journal: journalctl MESSAGE_ID= finds the outage, with its LDAP_ fields",
             down and "LDAP_SERVER=ldap://127.0.0.1/" in fields and "LDAP_STEP=connect" in fields,
             " ".join(fields)[:60])
    explained = c.sh(f"journalctl -x -q --no-pager -u ldap-health-check -u {MTA} "
                     f"--since '@{since}'", check=False).stdout
    log("journalctl -x during the outage:\n" + explained)
    log(c.sh("systemctl status --no-pager ldap-health-check", check=False).stdout)
    r.record("journal: journalctl -x explains the outage from the catalog",
             "No manual step is needed to come back" in explained
             and "sending servers fall back to the secondary MX" in explained)
    c.sh("systemctl start slapd")
    r.timed("journal: postfix active again", r.postfix_up, RECOVER)


def quiet_outage(r, deb):
    """A long outage stays quiet in the journal (the recover probe waits for LDAP itself) and
    ends as fast as a short one."""
    c = r.c
    c.sh("systemctl stop slapd")
    if not r.timed("long outage: postfix stopped", r.postfix_down, DETECT):
        c.sh("systemctl start slapd")
        return
    begin = float(r.now())
    # The measurement is a window of the outage's second minute: nothing to poll for.
    time.sleep(125)
    lines = c.sh(f"journalctl -q --no-pager --since '@{begin + 60:.3f}' "
                 f"--until '@{begin + 120:.3f}'", check=False).stdout.splitlines()
    log("journal of the outage's second minute:\n" + "\n".join(lines))
    r.record(f"long outage: journal lines in its second minute <= {QUIET_LINES}",
             len(lines) <= QUIET_LINES, f"{len(lines)} lines", str(QUIET_LINES))
    answered = r.now()
    c.sh("systemctl start slapd")
    r.timed("long outage: postfix active after slapd answers", r.postfix_up, QUICK_RECOVERY)
    log("journal of the recovery:\n" + c.sh(f"journalctl -q --no-pager -o short-precise "
                                             f"--since '@{answered}'", check=False).stdout)


def slapd_hung(r, deb):
    outage(r, "slapd hung (SIGSTOP)", "systemctl kill -s SIGSTOP slapd",
           "systemctl kill -s SIGCONT slapd",
           INTERVAL + FAILURES * (TIMEOUT + RETRY) + TIMEOUT + SLACK, daemon_said)


def guard_killed(r, deb):
    outage(r, "health check SIGKILL", "systemctl kill -s SIGKILL ldap-health-check", "true", SLACK,
           systemd_said("Failed with result 'signal'"))


def guard_hung(r, deb):
    outage(r, "health check hung (SIGSTOP, watchdog)",
           "systemctl kill -s SIGSTOP --kill-who=main ldap-health-check", "true",
           WATCHDOG_SEC + SLACK, systemd_said("Watchdog timeout"))


def admin_stop(r, deb):
    """The administrator stops postfix: it stays stopped; and starts it again."""
    r.c.sh("systemctl stop postfix")
    stays = r.wait_for(lambda: not r.postfix_down(), 2 * TIMER_PERIOD + 2) is None
    r.record("admin stop: postfix stays stopped over two timer periods",
             stays and r.state("ldap-health-check-recover.timer") != "active",
             f"{2 * TIMER_PERIOD + 2} s watched")
    r.c.sh("systemctl start postfix")
    r.record("admin start: postfix and the guard active", r.wait_for(r.postfix_up, 10) is not None)


def start_with_ldap_down(r, deb):
    """postfix started while LDAP is down, as at boot: it stays down until LDAP answers."""
    c = r.c
    c.sh("systemctl stop postfix ldap-health-check && systemctl stop slapd")
    since = r.now()
    refused = c.sh("systemctl start postfix", check=False, timeout=300).returncode != 0
    started = c.sh(f"journalctl -q --no-pager -o cat -u {MTA} --since '@{since}' "
                   "| grep -c '^Started'", check=False).stdout.strip()
    r.record("start with LDAP down: systemctl start postfix fails, the MTA never starts",
             refused and started == "0" and r.postfix_down(), f"{started} MTA starts")
    c.sh("systemctl start slapd")
    r.timed("start with LDAP down: postfix active once slapd answers", r.postfix_up, RECOVER)


def zero_config(r, deb):
    """No table named: postconf, run inside the sandbox, finds the table."""
    c = r.c
    c.write("/etc/default/ldap-health-check",
            f'LDAP_HEALTH_CHECK_OPTS="--interval {INTERVAL} --failures {FAILURES}"\n')
    since = r.now()
    c.sh("systemctl restart ldap-health-check postfix")
    found = c.sh(f"journalctl -q --no-pager -o cat --since '@{since}' "
                 "SYSLOG_IDENTIFIER=ldap-health-check | grep -m1 ldap-users.cf", check=False)
    r.record("zero-config: postconf in the sandbox finds the table, postfix active",
             r.wait_for(r.postfix_up, 10) is not None and found.returncode == 0,
             found.stdout.strip()[:60])


TABLE_FILE = "/etc/postfix/ldap-users.cf"


def postmap_fails(r):
    """The oracle on the table as it is now: Postfix's own lookup of alice fails."""
    q = r.c.sh(f"postmap -q alice@example.org ldap:{TABLE_FILE}", check=False)
    return q.returncode != 0, (q.stderr.strip().splitlines() or [""])[-1]


def tables_edited(r, deb):
    """The table edited and `postfix reload` run, as an administrator does (the guard found
    the table itself, zero-config): an edit that keeps the table working is followed without
    touching postfix; a wrong bind_pw and a value Postfix refuses each stop postfix, as
    Postfix's own postmap fails on them; mending the table starts postfix again."""
    c = r.c
    r.wait_for(r.settled, 30)
    c.sh(f"cp -p {TABLE_FILE} /root/ldap-users.cf.good")
    master, since = r.master(), r.now()
    c.sh(f"echo '# reviewed' >> {TABLE_FILE} && postfix reload")
    r.timed("table edited, postfix reload: the guard reads it again",
            lambda: "reloaded: " in r.daemon_log(since, "info"), FOLLOW + SLACK)
    r.record("table edited, postfix reload: postfix master untouched, guard healthy",
             r.wait_for(r.settled, 10) is not None and r.master() == master,
             f"{master} -> {r.master()}")
    for title, edit, said in (
            ("table edited: wrong bind_pw", "s/^bind_pw = .*/bind_pw = not-the-password/",
             "Invalid credentials"),
            ("table edited: bind = maybe", "s/^bind = .*/bind = maybe/",
             "Postfix cannot open this table either")):
        since = r.now()
        c.sh(f"sed -i '{edit}' {TABLE_FILE} && postfix reload")
        if r.timed(f"{title}: postfix and {MTA} inactive", r.postfix_down, FOLLOW + DETECT):
            line = systemd_said(said)(r, since)
            r.record(f"{title}: the journal says why", bool(line), line[:100])
        fails, why = postmap_fails(r)
        r.record(f"{title}: postmap fails too", fails, why[:60])
        c.sh(f"cp -p /root/ldap-users.cf.good {TABLE_FILE}")
        r.timed(f"{title}, then mended: postfix active again, no manual step", r.postfix_up,
                RECOVER)


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


def nss_path(r, deb):
    """Local users from LDAP through nslcd and libnss-ldapd, with Postfix's default
    local_recipient_maps and no ldap: table: first the disaster without the guard (what
    Postfix answers for alice while slapd is stopped), then the guard with --nss-user alice
    alone, in the shipped sandbox: slapd stopped or nslcd hung stops Postfix, and Postfix
    comes back by itself. Everything changed here is put back for the rows after it."""
    c = r.c
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
    r.wait_for(lambda: r.state(MTA) == "active", 10)
    warn = c.sh("ldap-health-check --check-config 2>&1", check=False).stdout.strip()
    r.record("NSS: --check-config says the NSS path is not watched",
             "the NSS path is not watched" in warn and "--nss-user" in warn, warn[:100])
    rcpt = smtp_rcpt(c, LOCAL_ALICE)
    r.record(f"NSS, no guard: RCPT TO:<{LOCAL_ALICE}> answers 250", rcpt.startswith("250"), rcpt)
    c.sh("systemctl stop slapd")
    rcpt = smtp_rcpt(c, LOCAL_ALICE)
    r.record(f"NSS, no guard, slapd stopped: RCPT TO:<{LOCAL_ALICE}> bounces (the disaster)",
             rcpt.startswith("550"), rcpt)
    c.sh("systemctl start slapd")
    r.wait_for(lambda: smtp_rcpt(c, LOCAL_ALICE).startswith("250"), 20, step=0.5)

    # With the guard: --nss-user alice, no table.
    c.write("/etc/default/ldap-health-check",
            f'LDAP_HEALTH_CHECK_OPTS="--nss-user alice --interval {INTERVAL} '
            f'--failures {FAILURES} --retry-interval {RETRY}"\n')
    c.sh("systemctl enable --now ldap-health-check.service")
    up = r.wait_for(r.postfix_up, 15) is not None
    status = c.sh("systemctl show -P StatusText ldap-health-check", check=False).stdout.strip()
    r.record("NSS guard: healthy in the shipped sandbox, postfix active",
             up and status.startswith("LDAP healthy") and "1 NSS user" in status, status[:80])
    rcpt = smtp_rcpt(c, LOCAL_ALICE)
    r.record(f"NSS guard: RCPT TO:<{LOCAL_ALICE}> answers 250", rcpt.startswith("250"), rcpt)

    def nss_outage(title, break_cmd, repair_cmd, bound, cause):
        since = r.now()
        c.sh(break_cmd)
        if r.timed(f"{title}: postfix stopped", r.postfix_down, bound):
            said = c.sh(f"journalctl -q --no-pager -o cat -p crit --since '@{since}' "
                        "SYSLOG_IDENTIFIER=ldap-health-check", check=False).stdout.strip()
            r.record(f"{title}: the journal names alice and NSS",
                     "NSS user alice" in said and cause in said, said[-120:])
            # postfix_down already holds while the MTA is still deactivating (trixie's
            # postfix.service runs `postfix stop`, during which master may still accept).
            r.wait_for(lambda: r.state(MTA) in ("inactive", "failed"), 30)
            refused = smtp_rcpt(c, LOCAL_ALICE)
            r.record(f"{title}: SMTP connection refused (senders use the next MX)",
                     "Connection refused" in refused, refused[-60:])
        c.sh(repair_cmd)
        r.timed(f"{title}: postfix active again, no manual step", r.postfix_up,
                TIMER_PERIOD + NSS_WAIT + SLACK)
        rcpt = smtp_rcpt(c, LOCAL_ALICE)
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


def upgrade(r, deb):
    """An upgrade from the previous build (the same files as version V~prev1, installed over
    the running guard first) to this one, while postfix runs and the guard is enabled:
    postfix's master is never restarted, the guard is (new binary), and it stays enabled."""
    c = r.c
    name = os.path.basename(deb)
    version = name.split("_")[1]
    prev = name.replace(f"_{version}_", f"_{version}~prev1_")
    before = r.master()

    def guard_pid():
        return c.sh("systemctl show -P MainPID ldap-health-check").stdout.strip()

    def settled(pid):
        # The guard restarted (new MainPID) and READY again, postfix active.
        return (guard_pid() not in ("0", pid) and r.state("ldap-health-check") == "active"
                and r.postfix_up())

    guard = guard_pid()
    c.sh(f"dpkg -i /mnt/deb/{prev}")
    r.record("previous build installed over the running guard",
             r.wait_for(lambda: settled(guard), 15) is not None and r.master() == before,
             f"master {before} -> {r.master()}, guard {guard} -> {guard_pid()}")
    guard = guard_pid()
    c.sh(f"dpkg -i /mnt/deb/{name}")
    ok = r.wait_for(lambda: settled(guard), 15) is not None
    enabled = c.sh("systemctl is-enabled ldap-health-check", check=False).stdout.strip()
    installed = c.sh("dpkg-query -W -f '${Version}' ldap-health-check").stdout.strip()
    r.record(f"upgrade {version}~prev1 -> {version}: postfix master untouched, guard restarted",
             ok and r.master() == before and enabled == "enabled" and installed == version,
             f"master {before} -> {r.master()}, guard {guard} -> {guard_pid()}, {enabled}")


def removal(r, deb):
    """dpkg -r: postfix keeps running and can still be started."""
    c = r.c
    before = r.master()
    c.sh("dpkg -r ldap-health-check")
    time.sleep(1)
    r.record("removal: postfix untouched",
             r.master() == before and r.state(MTA) == "active",
             f"{before} -> {r.master()}")
    c.sh("systemctl restart postfix")
    r.record("removal: postfix starts without the guard",
             r.state(MTA) == "active"
             and "ldap-health-check" not in c.sh(f"systemctl show -p Requires {MTA}")
             .stdout)


def no_password_in_journal(r, deb):
    journal = r.c.sh("journalctl -q --no-pager -o cat", check=False).stdout
    r.record("the journal has no bind_pw value", BIND_PW not in journal,
             f"{len(journal.splitlines())} lines searched")


# In this order: each starts from the state the one before left.
SCENARIOS = (
    install,
    installed_units,
    enable,
    healthy,
    metrics_file,
    slapd_stopped,
    journal_events,
    slapd_hung,
    guard_killed,
    guard_hung,
    admin_stop,
    start_with_ldap_down,
    quiet_outage,
    zero_config,
    tables_edited,
    nss_path,
    upgrade,
    removal,
    no_password_in_journal,
)


def scenarios(c, deb):
    r = mailhost.Run(c)
    mailhost.setup_ldap_and_postfix(c)
    for scenario in SCENARIOS:
        scenario(r, deb)
    return r


def summary(rows):
    w = max(len(n) for n, *_ in rows)
    log("\n%-*s  %-4s  %-14s  %s" % (w, "scenario", "", "measured", "bound"))
    for name, verdict, measured, bound in rows:
        log("%-*s  %-4s  %-14s  %s" % (w, name, verdict, measured[:60], bound))


if __name__ == "__main__":
    sys.exit(mailhost.main(scenarios, summary, __doc__))

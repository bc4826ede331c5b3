#!/usr/bin/env python3
"""Fault matrix: every way LDAP, a table or the daemon can fail, under a real systemd.

Runs in the container of e2e.py (lhctest.container and lhctest.mailhost: the same root fs,
.deb, lock and clean-up) with the same short timings (interval 1 s, failures 3, retry 0.2 s, table timeout 2 s, WatchdogSec 20 s). The guard
watches four tables at once, one for each way Postfix reaches slapd: ldap:// (simple bind),
ldaps:// and StartTLS (tls_require_cert = yes, a name from /etc/hosts) and ldapi:// (SASL
EXTERNAL, mapped by slapd's authz-regexp). slapd runs in a network namespace of the test's own
behind a veth pair, so that "packets dropped" is a blackhole route there. Each scenario has an
expected outcome and a measured bound; one table of all of them is printed at the end, see
docs/fault-matrix.md.

Usage: fault_matrix.py [--source DIR | --deb FILE.deb] [--cache DIR], as root, with
PYTHONPATH=tests/lib
Exit status: 0 passed, 1 failed, 77 skipped (not root, tools missing).
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from lhctest import mailhost, proc
from lhctest.container import Failed, log
from lhctest.mailhost import (BIND_PW, CLIENT_IP, FAILURES, FOLLOW, FULL_PROBE, INTERVAL, MTA,
                              NETNS,
                              RECOVER, RETRY, SERVER_IP, SLACK, TIMEOUT, TIMER_PERIOD,
                              WATCHDOG_SEC)

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = "ldap-health-check.service"
ADMIN = "-D cn=admin,dc=example,dc=org -w e2e-admin-secret"
BIND_PW_ROTATED = "e2e-rotated-Pw-9Kd"
BIND_PW_ROTATED_SLOW = "e2e-rotated-slow-Pw-3Vb"  # the rotation behind the slow link (issue 19)
SCORE_LIMIT = 1.5

NAME = "ldap.example.org"
LDAPI = "ldapi://%2Fvar%2Frun%2Fslapd%2Fldapi/"
TLS_DIR = "/etc/ldap/lhc-tls"
CA_FILE = "/etc/postfix/lhc-ca.pem"

# systemd's DynamicUser= range is 61184-65519; the ldapi table's SASL EXTERNAL identity of any
# UID in 61000-65999 becomes the service account, whichever UID the unit gets this time.
AUTHZ_REGEXP = ('"gidNumber=[0-9]+\\+uidNumber=6[1-5][0-9][0-9][0-9],cn=peercred,cn=external,'
                'cn=auth" "cn=postfix,dc=example,dc=org"')

TABLES = {
    # file: (scheme, server_host, extra lines)
    "/etc/postfix/ldap-users.cf": ("ldap", f"ldap://{SERVER_IP}/", ""),
    "/etc/postfix/ldap-users-ldaps.cf": ("ldaps", f"ldaps://{NAME}/",
                                         f"tls_ca_cert_file = {CA_FILE}\ntls_require_cert = yes\n"),
    "/etc/postfix/ldap-users-starttls.cf": ("StartTLS", f"ldap://{NAME}/",
                                            f"start_tls = yes\ntls_ca_cert_file = {CA_FILE}\n"
                                            "tls_require_cert = yes\n"),
    "/etc/postfix/ldap-users-ldapi.cf": ("ldapi", LDAPI, "sasl_mechs = EXTERNAL\n"),
}
MAIN_TABLE = "/etc/postfix/ldap-users.cf"
# The guard's --canary: an entry that must always be found in the main table.
CANARY = "canary@example.org"
CANARY_DN = "uid=canary,ou=people,dc=example,dc=org"
CANARY_LDIF = f"""\
dn: {CANARY_DN}
objectClass: inetOrgPerson
uid: canary
cn: Canary
sn: Canary
mail: {CANARY}
"""

# What slapd's "stats" log shows for a connection of each kind (the evidence that the guard,
# inside its sandbox, really went that way).
EVIDENCE = {
    "ldap": r"ACCEPT from IP=%s:\d+ \(IP=0\.0\.0\.0:389\)" % re.escape(CLIENT_IP),
    "ldaps": r"ACCEPT from IP=%s:\d+ \(IP=0\.0\.0\.0:636\)" % re.escape(CLIENT_IP),
    "StartTLS": r"EXT oid=1\.3\.6\.1\.4\.1\.1466\.20037",
    "ldapi": r'BIND dn="cn=postfix,dc=example,dc=org" mech=EXTERNAL',
}

# Bounds, from the timeline in docs/how-it-works.md plus e2e's slack.
DETECT_REFUSED = INTERVAL + (FAILURES - 1) * RETRY + SLACK
DETECT_SILENT = INTERVAL + TIMEOUT + (FAILURES - 1) * RETRY + SLACK
# What the kept connection does not see (its bind is done, its TLS session set up): a rotated
# password, a certificate replaced without a restart. Only the next full path sees it.
DETECT_FULL_PATH = FULL_PROBE + DETECT_REFUSED
DETECT_WATCHDOG = WATCHDOG_SEC + SLACK
# New connections delayed (issue 19): a full path takes CONNECT_DELAY more, and the bound of
# the man page (--full-probe-interval) adds the time one full path takes (+ one more, slack).
CONNECT_DELAY = 0.4
DETECT_SLOW_FULL_PATH = FULL_PROBE + INTERVAL + (FAILURES - 1) * RETRY + 2 * CONNECT_DELAY + SLACK
RSS_GROWTH_KIB = 512     # over the second 1,000 SIGHUPs: a leak of half a KiB each shows


def table_text(server, extra, bind_pw, sasl):
    """e2e's table with another server_host; for SASL EXTERNAL without bind_dn and bind_pw."""
    lines = [line for line in mailhost.TABLE.splitlines()
             if not (sasl and line.startswith(("bind_dn", "bind_pw")))]
    text = "\n".join(lines) + "\n" + extra
    text = text.replace("ldap://127.0.0.1/", server).replace(BIND_PW, bind_pw)
    return text.replace("bind = yes", "bind = sasl") if sasl else text


def write_tables(c, bind_pw, servers=None):
    """The four tables with bind_pw; servers: {scheme: server_host} in place of TABLES'."""
    for path, (scheme, server, extra) in TABLES.items():
        server = (servers or {}).get(scheme, server)
        c.write(path, table_text(server, extra, bind_pw, scheme == "ldapi"),
                mode="0640", owner="root:postfix")


# ---------------------------------------------------------------- set-up

def make_certs(work):
    """A CA, slapd's certificate for NAME and SERVER_IP, and one for a name nobody uses."""
    d = os.path.join(work, "tls")
    os.makedirs(d)

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=lhc fault matrix CA")
    for name, san in (("good", f"DNS:{NAME},IP:{SERVER_IP}"), ("wrong", "DNS:wrong.example.net")):
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={san.split(',')[0][4:]}")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    # The good certificate's key and names, valid for one day in 2020: `openssl x509` cannot
    # date a certificate in the past, `openssl ca` can.
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = past\n[past]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = past.srl\ndefault_md = sha256\npolicy = any\n[any]\n"
                "commonName = supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "past.srl"), "w") as f:  # a serial of its own, not good's
        f.write("7f" + os.urandom(15).hex() + "\n")  # even length, positive
    run("ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
        "-in", "good.csr", "-extfile", "good.ext", "-startdate", "20200101000000Z",
        "-enddate", "20200102000000Z", "-out", "expired.pem")
    shutil.copy(os.path.join(d, "good.key"), os.path.join(d, "expired.key"))
    certs = {}
    for name in ("ca.pem", "good.pem", "good.key", "wrong.pem", "wrong.key", "expired.pem",
                 "expired.key"):
        with open(os.path.join(d, name)) as f:
            certs[name] = f.read()
    return certs


def slapd_cert(c, name):
    """Points slapd at another certificate; slapd builds a new TLS context at once."""
    c.sh("ldapmodify -Q -Y EXTERNAL -H ldapi:///", stdin=config_change(
        f"replace: olcTLSCertificateFile\nolcTLSCertificateFile: {TLS_DIR}/{name}.pem\n-\n"
        f"replace: olcTLSCertificateKeyFile\nolcTLSCertificateKeyFile: {TLS_DIR}/{name}.key\n"))


def config_change(changes):
    return "dn: cn=config\nchangetype: modify\n" + changes


def setup(c, work):
    mailhost.setup_ldap_and_postfix(c)
    certs = make_certs(work)
    c.sh(f"mkdir -p {TLS_DIR}")
    for name, text in certs.items():
        private = name.endswith(".key")
        c.write(f"{TLS_DIR}/{name}", text, mode="0640" if private else "0644",
                owner="root:openldap")
    c.write(CA_FILE, certs["ca.pem"])
    c.sh("ldapmodify -Q -Y EXTERNAL -H ldapi:///", stdin=config_change(
        f"replace: olcTLSCACertificateFile\nolcTLSCACertificateFile: {TLS_DIR}/ca.pem\n-\n"
        f"replace: olcTLSCertificateFile\nolcTLSCertificateFile: {TLS_DIR}/good.pem\n-\n"
        f"replace: olcTLSCertificateKeyFile\nolcTLSCertificateKeyFile: {TLS_DIR}/good.key\n-\n"
        f"replace: olcAuthzRegexp\nolcAuthzRegexp: {AUTHZ_REGEXP}\n-\n"
        "replace: olcLogLevel\nolcLogLevel: stats\n"))
    c.sh("sed -i 's|^SLAPD_SERVICES=.*|SLAPD_SERVICES=\"ldap:/// ldaps:/// ldapi:///\"|' "
         "/etc/default/slapd")
    c.sh(f"echo '{SERVER_IP} {NAME}' >> /etc/hosts")
    mailhost.slapd_behind_veth(c)

    c.sh(f"ldapadd -x -H ldap://{SERVER_IP}/ {ADMIN}", stdin=CANARY_LDIF)
    write_tables(c, BIND_PW)
    # Postfix's own client is the oracle: each table answers for Postfix before the guard starts.
    for path in TABLES:
        r = c.sh(f"postmap -q alice@example.org ldap:{path}", check=False, timeout=30)
        if r.stdout.strip() != "alice@example.org":
            raise Failed(f"postmap on {path}: {r.returncode} {r.stdout}{r.stderr}")
    c.sh("systemctl restart postfix")


# ---------------------------------------------------------------- the report

class Matrix(mailhost.Run):
    """mailhost.Run's probes of the container, with rows of (scenario, verdict, expected,
    observed, time, bound): row[1] is the verdict, as mailhost.main expects."""

    def row(self, name, ok, expected, observed, took="", bound=""):
        verdict = "PASS" if ok else "FAIL"
        self.rows.append((name, verdict, expected, observed, took, bound))
        log(f"{verdict}: {name}: {observed} [{took} / bound {bound}]")

    def settle(self, name):
        if self.wait_for(self.settled, 60, step=0.2) is None:
            self.row(name, False, "starts healthy", "not healthy before the scenario: "
                     + self.status())
            return False
        return True

    def count(self, since, unit, pattern):
        text = self.journal_since(since, unit)
        return len(re.findall(pattern, text, re.M))

    def untouched(self, master, main_pid):
        """Postfix's master and the guard's process are the ones from before."""
        return (self.master() == master and self.show("MainPID") == main_pid
                and self.state(UNIT) == "active" and self.state(MTA) == "active")


def report(rows):
    cols = ("scenario", "expected", "observed", "time", "bound", "")
    table = [(n, e, o, t, b, v) for n, v, e, o, t, b in rows]
    width = [max(len(str(r[i])) for r in table + [cols]) for i in range(len(cols))]
    width[2] = min(width[2], 100)
    line = "  ".join("%-*s" for _ in cols)
    log("\nFault matrix\n")
    log(line % sum(zip(width, cols), ()))
    for r in table:
        log(line % sum(zip(width, (r[0], r[1], r[2][:100], r[3], r[4], r[5])), ()))
    passed = sum(1 for r in rows if r[1] == "PASS")
    log(f"\n{passed} of {len(rows)} passed")


# ---------------------------------------------------------------- scenarios

def outage(m, name, expected, break_cmd, repair_cmd, detect, cause):
    """LDAP becomes unusable: postfix stops within `detect`, and starts again by itself within
    RECOVER of the repair; the daemon's last words match `cause`."""
    c = m.c
    if not m.settle(name):
        return
    since = m.now()
    act(c, break_cmd)
    down = m.wait_for(m.postfix_down, detect + 30, step=0.05)
    why = (m.daemon_log(since, "crit").strip().splitlines() or
           [line for line in m.journal_since(since).splitlines() if "Failed" in line or
            "Watchdog" in line] or [""])[-1]
    marker = c.sh("test -e /run/ldap-health-check/outage", check=False).returncode == 0
    act(c, repair_cmd)
    up = m.wait_for(m.postfix_up, RECOVER + 30, step=0.1)
    cleared = m.wait_for(lambda: m.state("ldap-health-check-recover.timer") != "active" and c.sh(
        "test -e /run/ldap-health-check/outage", check=False).returncode != 0, 5) is not None
    ok = (down is not None and down <= detect and up is not None and up <= RECOVER and marker
          and cleared and re.search(cause, why) is not None)
    log(f"  {name}: {why}")
    m.row(name, ok, expected,
          ("down+marker" if down is not None and marker else "NOT down+marker")
          + (", up" if up is not None else ", NOT up")
          + (", marker+timer gone" if cleared else ", marker or timer LEFT")
          + f"; {why.split('exiting: ')[-1][:90]}",
          "%s / %s" % ("-" if down is None else f"{down:.1f} s",
                       "-" if up is None else f"{up:.1f} s"),
          f"{detect:.1f} s / {RECOVER:.1f} s")


def canary_deleted(m):
    """The directory answers but finds nobody: the canary's entry is deleted. Postfix's own
    lookup says only "not found" (no error, nothing in its log), and mail for real users would
    bounce; the guard stops Postfix, and the recover timer starts it once the entry is back."""
    c = m.c
    said = {}

    def delete():
        c.sh(f"ldapdelete -x -H ldap://{SERVER_IP}/ {ADMIN} {CANARY_DN}")
        r = c.sh(f"postmap -q {CANARY} ldap:{MAIN_TABLE}", check=False, timeout=30)
        said["postmap"] = (r.returncode, r.stdout.strip(), r.stderr.strip())

    outage(m, "canary entry deleted (slapd answers, finds nobody)",
           "outage although postmap says only 'not found'; entry restored: back", delete,
           f"ldapadd -x -H ldap://{SERVER_IP}/ {ADMIN} <<'EOF'\n{CANARY_LDIF}EOF",
           DETECT_REFUSED, r'canary "canary@example\.org" not found at .*550 5\.1\.1')
    if "postmap" in said:
        code, out, err = said["postmap"]
        m.row("canary entry deleted: postmap -q at that moment", code == 1 and not out and not err,
              "exit 1, no output: a plain 'not found'", f"exit {code}, {out!r} {err[:60]!r}")


def act(c, command):
    if callable(command):
        command()
    else:
        c.sh(command)


def slapd_pid(m):
    """Debian's slapd.service comes from the init script: systemd knows no MainPID."""
    return m.c.host_pid(m.c.sh("pgrep -x slapd").stdout.split()[0])


def slapd_slow(m):
    """slapd stops for TIMEOUT/2, answers, stops again, for 12 s: slow but within the table's
    timeout, so the guard stays healthy and postfix is left alone."""
    name = "slapd slow (SIGSTOP/SIGCONT, TIMEOUT/2 each)"
    if not m.settle(name):
        return
    master, main = m.master(), m.show("MainPID")
    since = m.now()
    pid = slapd_pid(m)
    slowest = 0.0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 12:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(TIMEOUT / 2)
            os.kill(pid, signal.SIGCONT)
            end = time.monotonic() + TIMEOUT / 2
            while time.monotonic() < end:
                found = re.search(r"last round ([0-9.]+) ms", m.status())
                slowest = max(slowest, float(found.group(1)) if found else 0.0)
                time.sleep(0.1)
    finally:
        os.kill(pid, signal.SIGCONT)
    time.sleep(INTERVAL + 0.5)
    failed = len(re.findall("probe failed", m.daemon_log(since)))
    ok = failed == 0 and m.untouched(master, main) and m.status().startswith("LDAP healthy")
    m.row(name, ok, "stays healthy, postfix untouched",
          f"{failed} failed rounds, postfix+guard PIDs unchanged: "
          f"{m.untouched(master, main)}; slowest round in STATUS= {slowest:.0f} ms",
          f"slowest {slowest / 1000:.2f} s", f"< {TIMEOUT} s (timeout)")


def accept_queue(pid):
    """Connections waiting in the accept queues of the listening sockets of pid's network
    namespace: a stopped slapd's queue grows when a probe round connects."""
    waiting = 0
    for name in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{name}") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A":   # LISTEN: rx_queue is the accept backlog
                    waiting += int(fields[4].split(":")[1], 16)
    return waiting


def single_failure(m):
    """slapd hangs just long enough for the round it catches to time out, but not the two
    rounds started beside it (RETRY and 2 x RETRY later): one or two failed rounds between
    good ones, fewer than --failures, so the guard stays up and postfix is untouched."""
    name = "one failed round between good ones"
    if not m.settle(name):
        return
    master, main = m.master(), m.show("MainPID")
    since = m.now()
    pid = slapd_pid(m)
    hold = TIMEOUT + RETRY / 2
    for attempt in range(1, 4):
        os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            while accept_queue(pid) == 0 and time.monotonic() - t0 < INTERVAL + 2:
                time.sleep(0.005)
            caught = time.monotonic()
            time.sleep(hold)
        finally:
            os.kill(pid, signal.SIGCONT)
        stalled = time.monotonic() - t0
        time.sleep(INTERVAL + 1)
        text = m.daemon_log(since)
        failed = len(re.findall("probe failed", text))
        if failed:
            break
        m.settle(name)
    again = "LDAP answers again" in text
    ok = 1 <= failed < FAILURES and again and m.untouched(master, main)
    m.row(name, ok, "stays healthy, postfix untouched",
          f"{failed} failed round(s), then 'LDAP answers again': {again}; postfix+guard PIDs "
          f"unchanged: {m.untouched(master, main)} (attempt {attempt}, slapd hung {stalled:.2f} s)",
          f"{failed} failed, SIGCONT {stalled - (caught - t0):.2f} s after connect",
          f"< {FAILURES} failed")


def password_rotation(m):
    """The service account's password changes in slapd, the tables still hold the old one."""
    c = m.c

    def rotate():
        c.sh(f"ldapmodify -x -H {LDAPI} {ADMIN}", stdin=(
            "dn: cn=postfix,dc=example,dc=org\nchangetype: modify\nreplace: userPassword\n"
            f"userPassword: {BIND_PW_ROTATED}\n"))

    outage(m, "wrong bind password after a rotation",
           "outage within --full-probe-interval; tables fixed: back by the timer", rotate,
           lambda: write_tables(c, BIND_PW_ROTATED), DETECT_FULL_PATH, r"Invalid credentials")


# A slow link for new connections only (issue 19): the host's python3, in slapd's network
# namespace, listens on SERVER_IP:LISTEN and connects on to SERVER_IP:PORT CONNECT_DELAY after
# each accept, then pumps bytes both ways; a line on stdout for every connection.
DELAY_FORWARDER = r"""
import socket, sys, threading, time
host, delay, pairs = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    src.close()
def serve(client, port):
    time.sleep(delay)
    try:
        up = socket.create_connection((host, port))
    except OSError:
        client.close()
        return
    print("%.3f %d" % (time.time(), port), flush=True)
    threading.Thread(target=pump, args=(client, up), daemon=True).start()
    pump(up, client)
def accept(listener, port):
    while True:
        client = listener.accept()[0]
        threading.Thread(target=serve, args=(client, port), daemon=True).start()
for pair in pairs:
    listen, port = map(int, pair.split(":"))
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, listen))
    s.listen(128)
    threading.Thread(target=accept, args=(s, port), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""
SLOW_LDAP, SLOW_LDAPS = 3389, 3636
# The three tables that bind with bind_pw go through the forwarder, so that no fast full path
# sees the rotation; ldapi (SASL EXTERNAL, no password) stays as it is.
SLOW_SERVERS = {"ldap": f"ldap://{SERVER_IP}:{SLOW_LDAP}/",
                "ldaps": f"ldaps://{NAME}:{SLOW_LDAPS}/",
                "StartTLS": f"ldap://{NAME}:{SLOW_LDAP}/"}


class DelayingForwarder:
    """DELAY_FORWARDER running in NETNS: SLOW_LDAP -> 389, SLOW_LDAPS -> 636."""

    def __init__(self, c):
        self.log = tempfile.NamedTemporaryFile(mode="w+", prefix="lhc-forwarder-")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/proc/{c.leader}/root{NETNS}", "--", sys.executable, "-c",
             DELAY_FORWARDER, SERVER_IP, str(CONNECT_DELAY), f"{SLOW_LDAP}:389",
             f"{SLOW_LDAPS}:636"],
            stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=proc.die_with_parent)
        if proc_wait(lambda: "ready" in self.text(), 10) is None:
            self.stop()
            raise Failed("the delaying forwarder did not start: " + self.text())

    def text(self):
        with open(self.log.name) as f:
            return f.read()

    def connections(self, since=0.0):
        return sum(1 for line in self.text().splitlines()
                   if line[:1].isdigit() and float(line.split()[0]) >= since)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()   # the python3 itself: nsenter --net execs it
        self.proc.wait(10)
        self.log.close()


def proc_wait(predicate, limit, step=0.05):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if predicate():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def slow_full_path(m):
    """Issue 19: every new connection waits CONNECT_DELAY (more than --retry-interval) before
    it reaches slapd; the connection the guard keeps answers at once. With the delay alone the
    guard stays healthy and Postfix is left alone. Then the service account's password changes
    behind that link: the full path now fails slowly, with kept rounds started beside it that
    pass. Until a full path ends well every round must take it, so the guard stops Postfix
    within --full-probe-interval + the man page's bound + the delay."""
    name = f"slow link: new connections delayed {CONNECT_DELAY} s"
    rot_name = "wrong bind password after a rotation, behind the slow link"
    if not m.settle(name):
        return
    c = m.c
    started = time.monotonic()
    fwd = DelayingForwarder(c)
    pw = BIND_PW_ROTATED   # what password_rotation left in slapd and in the tables
    try:
        master, main = m.master(), m.show("MainPID")
        t_switch = time.time()
        write_tables(c, pw, SLOW_SERVERS)
        c.sh(f"systemctl reload {UNIT}")
        # The guard's full paths now go through the forwarder (one per table), and it is healthy.
        switched = m.wait_for(lambda: fwd.connections(t_switch) >= len(SLOW_SERVERS)
                              and m.status().startswith("LDAP healthy"), 30)
        if switched is None:
            m.row(name, False, "tables through the forwarder, healthy",
                  f"{fwd.connections(t_switch)} connections through the forwarder; "
                  f"{m.status()[:60]}")
            return
        since, t_watch = m.now(), time.time()
        watch = 3 * FULL_PROBE
        slowest, t0 = 0.0, time.monotonic()
        while time.monotonic() - t0 < watch:
            found = re.search(r"last round ([0-9.]+) ms", m.status())
            slowest = max(slowest, float(found.group(1)) if found else 0.0)
            time.sleep(0.1)
        failed = len(re.findall("probe failed", m.daemon_log(since)))
        through = fwd.connections(t_watch)
        ok = (failed == 0 and m.untouched(master, main) and slowest >= CONNECT_DELAY * 1000
              and through > 0 and m.status().startswith("LDAP healthy"))
        m.row(name, ok, "stays healthy, postfix untouched; the full paths take the delay",
              f"{failed} failed rounds in {watch} s; {through} new connections through the "
              f"forwarder; postfix+guard PIDs unchanged: {m.untouched(master, main)}; slowest "
              f"round in STATUS= {slowest:.0f} ms (switch + healthy: {switched:.1f} s)",
              f"slowest {slowest / 1000:.2f} s", f">= {CONNECT_DELAY} s, 0 failed")

        def rotate():
            nonlocal pw
            c.sh(f"ldapmodify -x -H {LDAPI} {ADMIN}", stdin=(
                "dn: cn=postfix,dc=example,dc=org\nchangetype: modify\nreplace: userPassword\n"
                f"userPassword: {BIND_PW_ROTATED_SLOW}\n"))
            pw = BIND_PW_ROTATED_SLOW

        # Repair: the new password, and the tables pointed back at slapd's own ports; the
        # recover timer's --once and the guard it starts read them.
        outage(m, rot_name,
               "outage within --full-probe-interval + I + (F-1) x R + 2 x delay; tables "
               "fixed and pointed back: back by the timer", rotate,
               lambda: write_tables(c, BIND_PW_ROTATED_SLOW), DETECT_SLOW_FULL_PATH,
               r"Invalid credentials")
    finally:
        # Whatever happened above, the next rows start from the normal ports and the password
        # slapd holds; a guard still running on the forwarder's tables re-reads them.
        write_tables(c, pw)
        if m.state(UNIT) == "active":
            c.sh(f"systemctl reload {UNIT}", check=False)
        time.sleep(INTERVAL)
        fwd.stop()
        log(f"  slow link rows: {time.monotonic() - started:.1f} s, forwarder included")


def tls_mismatch(m):
    c = m.c

    def wrong():
        slapd_cert(c, "wrong")
        r = c.sh(f"LDAPTLS_CACERT={CA_FILE} ldapsearch -x -H ldaps://{NAME}/ -s base -b '' "
                 "namingContexts", check=False, timeout=10)
        if r.returncode == 0:
            raise Failed("slapd still serves the right certificate after the change")

    outage(m, "TLS certificate for the wrong name (ldaps, StartTLS)",
           "outage within --full-probe-interval; right certificate: back", wrong, lambda: slapd_cert(c, "good"),
           DETECT_FULL_PATH, r"(?i)certificate|TLS|Can't contact|Connect error")


def tls_expired(m):
    c = m.c

    def expired():
        slapd_cert(c, "expired")
        # Same name, key and CA as the good one: if ldaps still works without a certificate
        # check and fails with it, the certificate's age is what the client refuses.
        search = f"ldapsearch -x -H ldaps://{NAME}/ -s base -b '' namingContexts"
        c.sh(f"LDAPTLS_REQCERT=never {search}", timeout=10)
        if c.sh(f"LDAPTLS_CACERT={CA_FILE} {search}", check=False, timeout=10).returncode == 0:
            raise Failed("the expired certificate is still accepted")

    outage(m, "TLS certificate expired (ldaps, StartTLS)",
           "outage within --full-probe-interval; valid certificate: back", expired, lambda: slapd_cert(c, "good"),
           DETECT_FULL_PATH, r"(?i)certificate|TLS|Can't contact|Connect error")


def name_gone(m):
    outage(m, f"server name no longer resolves ({NAME} out of /etc/hosts)",
           "outage; name back: back",
           f"grep -v ' {NAME}$' /etc/hosts > /tmp/hosts && cat /tmp/hosts > /etc/hosts",
           f"echo '{SERVER_IP} {NAME}' >> /etc/hosts", DETECT_REFUSED,
           r"Can't contact LDAP server")


def reload_bad_table(m, name, break_cmd, repair_cmd, where):
    """A table goes bad, then `systemctl reload`: the reload fails (ExecReload= checks the
    tables before it signals the daemon) and the old configuration stays in force."""
    if not m.settle(name):
        return
    c = m.c
    master, main = m.master(), m.show("MainPID")
    c.sh(break_cmd)
    since = m.now()
    ping = m.show("WatchdogTimestampMonotonic")
    t0 = time.monotonic()
    refused = c.sh(f"systemctl reload {UNIT}", check=False).returncode != 0
    pinged = m.wait_for(lambda: m.show("WatchdogTimestampMonotonic") != ping, 10, step=0.05)
    took = time.monotonic() - t0 if pinged is not None else None
    time.sleep(INTERVAL)
    error = next((line for line in m.daemon_log(since, "err").splitlines()
                  if re.search(where, line)), "")
    healthy = m.status().startswith("LDAP healthy")
    ok = (refused and error != "" and m.untouched(master, main) and healthy
          and took is not None and took <= INTERVAL + 1)
    log(f"  {name}: {error}")
    c.sh(repair_cmd)
    since = m.now()
    c.sh(f"systemctl reload {UNIT}")
    time.sleep(0.5)
    restored = "reloaded:" in m.daemon_log(since)
    m.row(name, ok and restored,
          "reload refused, old config kept, error with file[:line], postfix untouched, "
          "watchdog pinged",
          f"reload {'refused' if refused else 'NOT refused'}; "
          f"{error[error.find('/etc'):][:80] or 'no error logged'}; postfix+guard PIDs "
          f"unchanged: {m.untouched(master, main)}; healthy: {healthy}; fixed+reload: "
          f"{'reloaded' if restored else 'NOT reloaded'}",
          "-" if took is None else f"{took:.2f} s to WATCHDOG=1", f"{INTERVAL + 1:.1f} s")


def reload_scenarios(m):
    path = MAIN_TABLE
    saved = "/root/ldap-users.cf.saved"
    keep = f"cp -p {path} {saved}"
    back = f"cp -p {saved} {path}"
    line = len(table_text(*TABLES[path][1:], BIND_PW, False).splitlines()) + 1
    # Postfix opens its tables as root: a file the guard may not read still serves Postfix.
    reload_bad_table(m, "table unreadable by the guard (0600) + reload",
                     f"{keep} && chmod 0600 {path}", f"chmod 0640 {path}",
                     re.escape(path) + r":? .*Permission denied")
    # What Postfix cannot open either fails its lookups: seen without a reload (inotify).
    outage(m, "table deleted (Postfix cannot open it either)",
           "outage, no reload needed; table back: back", f"{keep} && rm {path}", back,
           FOLLOW + DETECT_REFUSED, r"cannot open this table.*No such file")
    outage(m, "table broken (syntax Postfix refuses)",
           "outage, no reload needed; mended: back",
           f"{keep} && echo 'this line has no equals sign' >> {path}", back,
           FOLLOW + DETECT_REFUSED, "cannot open this table.*" + re.escape(f"{path}:{line}:"))


def many_sighups(m):
    """1,000 SIGHUPs as fast as the daemon takes them, twice: the first batch may grow the
    allocator's arenas (rounds run in threads), the second must not grow anything."""
    name = "1,000 SIGHUPs in a row"
    if not m.settle(name):
        return
    master, main = m.master(), m.show("MainPID")
    pid = m.c.host_pid(main)

    def footprint():
        time.sleep(3)
        return proc.fd_count(pid), proc.rss_kib(pid)

    def batch():
        for _ in range(1000):
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.002)

    seen = [footprint()]
    since = m.now()
    t0 = time.monotonic()
    batch()
    sent = time.monotonic() - t0
    active_after = m.state(UNIT) == "active"
    healthy = m.wait_for(lambda: m.status().startswith("LDAP healthy"), 10)
    seen.append(footprint())
    batch()
    seen.append(footprint())
    reloads = len(re.findall(r"^reloaded:", m.daemon_log(since), re.M))
    (fds0, rss0), (fds1, rss1), (fds2, rss2) = seen
    ok = (active_after and healthy is not None and m.untouched(master, main)
          and fds2 <= fds0 and rss2 - rss1 <= RSS_GROWTH_KIB
          and m.status().startswith("LDAP healthy"))
    m.row(name, ok, "stays active and healthy, postfix untouched, no fd/RSS growth",
          f"RSS {rss0}/{rss1}/{rss2} KiB, fds {fds0}/{fds1}/{fds2} (before, after 1st and 2nd "
          f"1,000); {reloads} reloads logged; postfix+guard PIDs unchanged: "
          f"{m.untouched(master, main)}; {sent:.1f} s per 1,000",
          f"2nd: RSS {rss2 - rss1:+d} KiB, fds {fds2 - fds0:+d}",
          f"RSS +{RSS_GROWTH_KIB} KiB, fds +0")


def flapping(m):
    """slapd down 3 s, up 3 s, for a minute; then up: postfix ends active, and neither postfix
    nor the recover timer went through a storm of starts."""
    name = "LDAP flapping (3 s down / 3 s up, 60 s)"
    if not m.settle(name):
        return
    since = m.now()
    t0 = time.monotonic()
    cycles = 0
    while time.monotonic() - t0 < 60:
        m.c.sh("systemctl stop slapd")
        time.sleep(3)
        m.c.sh("systemctl start slapd")
        time.sleep(3)
        cycles += 1
    flapped = time.monotonic() - t0
    up = m.wait_for(m.settled, RECOVER + 30, step=0.2)
    postfix_starts = m.count(since, MTA, r"^Started ")
    guard_starts = m.count(since, "ldap-health-check", r"^Starting ")
    outages = m.count(since, "ldap-health-check-outage", r"^Starting ")
    timer_runs = m.count(since, "ldap-health-check-recover", r"^Starting ")
    too_quick = m.count(since, MTA, r"repeated too quickly") + m.count(
        since, "ldap-health-check", r"repeated too quickly")
    runs_bound = outages + int(flapped // TIMER_PERIOD) + 2
    ok = (up is not None and up <= RECOVER and postfix_starts <= cycles + 1
          and timer_runs <= runs_bound and guard_starts <= timer_runs + 1 and too_quick == 0)
    m.row(name, ok, "postfix ends active; starts bounded, no start-limit hits",
          f"{cycles} cycles, {outages} outages; starts: {MTA} {postfix_starts} (<= "
          f"{cycles + 1}), guard {guard_starts}, recover timer runs {timer_runs} (<= "
          f"{runs_bound}); 'too quickly' {too_quick}",
          "-" if up is None else f"{up:.1f} s to active", f"{RECOVER:.1f} s")


def sandbox(m):
    """The shipped sandbox, unchanged, with one table per scheme: all healthy."""
    c = m.c
    name = "sandbox: the guard runs unprivileged"
    main = m.show("MainPID")
    uid = c.sh(f"ps -o uid= -p {main}", check=False).stdout.strip()
    props = c.sh(f"systemctl show -p DynamicUser -p PrivateUsers -p ProtectSystem "
                 f"-p NoNewPrivileges {UNIT}").stdout.split()
    ok = uid.isdigit() and 61184 <= int(uid) <= 65519 and all(
        p.split("=")[1] in ("yes", "strict") for p in props)
    m.row(name, ok, "DynamicUser UID, shipped sandbox", f"uid {uid}; {' '.join(props)}")
    status = m.status()
    slapd = c.sh("journalctl -q --no-pager -o cat -u slapd", check=False).stdout
    for path, (scheme, server, _) in TABLES.items():
        seen = re.search(EVIDENCE[scheme], slapd)
        ok = (status.startswith(f"LDAP healthy: {len(TABLES) + 1} searches (1 canary) on "
                                f"{len(TABLES)} connections") and m.postfix_up() and seen is not None)
        latency = re.search(r"last round ([0-9.]+ ms)", status)
        m.row(f"sandbox: {scheme} ({server})", ok, "healthy, postfix active",
              f"slapd: {seen.group(0) if seen else 'no ' + EVIDENCE[scheme]}; {status[:45]}",
              f"round {latency.group(1)}" if latency else "")


def security(m):
    host = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                           os.path.join(SOURCE, "units", UNIT)], capture_output=True, text=True)
    online = m.c.sh(f"systemd-analyze security --no-pager {UNIT}", check=False)
    for where, r in (("offline, build host", host), ("online, in the container", online)):
        log(f"\n--- systemd-analyze security {UNIT} ({where})\n{r.stdout}{r.stderr}")
        score = re.search(r"exposure level for \S+: ([0-9.]+) (\w+)", r.stdout)
        m.row(f"systemd-analyze security ({where})", bool(score) and float(score.group(1))
              <= SCORE_LIMIT, f"score <= {SCORE_LIMIT}",
              " ".join(score.groups()) if score else (r.stdout + r.stderr)[-60:],
              bound=f"{SCORE_LIMIT}")


def secrets(m):
    journal = m.c.sh("journalctl -q --no-pager -o verbose --all", check=False,
                     timeout=120).stdout
    leaked = [pw for pw in (BIND_PW, BIND_PW_ROTATED, BIND_PW_ROTATED_SLOW) if pw in journal]
    m.row("journal free of the bind passwords", not leaked, "none of the 3 passwords anywhere",
          f"{len(journal.splitlines())} lines (all fields) searched, "
          + (f"FOUND {len(leaked)}" if leaked else "none found"))


def matrix(c, deb):
    started = time.monotonic()
    m = Matrix(c)
    with tempfile.TemporaryDirectory(prefix="lhc-fault-") as work:
        setup(c, work)
    c.sh(f"dpkg -i /mnt/deb/{os.path.basename(deb)}")
    mailhost.enable_guard(c, list(TABLES), extra=f"--canary {MAIN_TABLE}={CANARY}")
    if m.wait_for(m.settled, 30) is None:
        raise Failed("the guard did not come up: " + c.sh(
            "journalctl --no-pager -n 60 -u ldap-health-check", check=False).stdout)

    sandbox(m)
    security(m)

    outage(m, "slapd killed (SIGKILL)", "outage; slapd started: back",
           "systemctl kill -s SIGKILL slapd", "systemctl start slapd", DETECT_REFUSED,
           r"Can't contact LDAP server")
    outage(m, "slapd hung (SIGSTOP)", "outage; SIGCONT: back",
           "systemctl kill -s SIGSTOP slapd", "systemctl kill -s SIGCONT slapd", DETECT_SILENT,
           r"(?i)timed? ?out")
    outage(m, "packets dropped (blackhole route in slapd's netns)", "outage; route gone: back",
           lambda: c.ip("route", "add", "blackhole", f"{CLIENT_IP}/32", netns=NETNS),
           lambda: c.ip("route", "del", "blackhole", f"{CLIENT_IP}/32", netns=NETNS),
           DETECT_SILENT, r"(?i)timed? ?out|Can't contact")
    canary_deleted(m)
    slapd_slow(m)
    single_failure(m)
    password_rotation(m)
    slow_full_path(m)
    tls_mismatch(m)
    tls_expired(m)
    name_gone(m)
    reload_scenarios(m)
    many_sighups(m)
    outage(m, "daemon SIGKILLed", "outage (unit failed); back by the timer",
           f"systemctl kill -s SIGKILL {UNIT}", "true", SLACK, r"'signal'")
    outage(m, "daemon hung (SIGSTOP, watchdog)", "outage after WatchdogSec; back by the timer",
           f"systemctl kill -s SIGSTOP --kill-who=main {UNIT}", "true", DETECT_WATCHDOG,
           r"Watchdog timeout|'watchdog'")
    flapping(m)
    secrets(m)
    took = time.monotonic() - started
    m.row("the whole matrix, set-up included", took <= 900, "well under 15 min", "",
          f"{took:.0f} s", "900 s")
    return m


if __name__ == "__main__":
    sys.exit(mailhost.main(matrix, report, __doc__))

#!/usr/bin/env python3
"""Hostile servers: every wait ends within the table's timeout, as the verdict Postfix gets.

Each case is made real: a listener that accepts TCP and never answers, a DNS
server that never answers (a private mount namespace with its own
/etc/resolv.conf naming a silent UDP socket on loopback), and a real slapd
that refers the search to the silent listener (chase_referrals = yes).
Postmap (Postfix's own client) is run on the same table: where it fails or
hangs, we must say unhealthy, and within timeout + GRACE seconds.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from lhctest import harness, oracle, proc, slapd, tables
from lhctest.notify import NotifyListener

# Our bound on a step is the timeout plus half a second of grace; process start-up on top.
GRACE = 1.5
UNBOUNDED_WAIT = 10  # seconds we wait where timeout = -1 makes libldap wait without end
KEY = "alice@example.com"


class SilentListener:
    """Accepts TCP connections on loopback and never says a word; counts the connections."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.url = "ldap://127.0.0.1:%d/" % self.port
        self.accepted = []
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except (socket.timeout, OSError):
                continue

    def close(self):
        self._stop = True
        self._thread.join()
        for c in self.accepted:
            c.close()
        self.sock.close()


class SilentDns:
    """A UDP socket on a loopback address, port 53, that reads queries and never answers."""

    ADDRESS = "127.0.0.77"

    def __init__(self, directory):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.ADDRESS, 53))
        self.queries = 0
        self._stop = False
        self.resolv_conf = os.path.join(directory, "resolv.conf")
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions timeout:5 attempts:2\n" % self.ADDRESS)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                self.sock.recvfrom(4096)
                self.queries += 1
            except (socket.timeout, OSError):
                continue

    def wrap(self, argv):
        """argv run in a mount namespace of its own where /etc/resolv.conf names this server."""
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv_conf] + argv

    def close(self):
        self._stop = True
        self._thread.join()
        self.sock.close()


class SlowDns:
    """A DNS server on a loopback address, port 53, that answers every query NXDOMAIN after
    DELAY seconds; wrap() runs a command as a host whose own name only this server knows."""

    ADDRESS = "127.0.0.78"
    DELAY = 3.0
    HOSTNAME = "lhc-slow-host"

    def __init__(self, directory):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.ADDRESS, 53))
        self.queries = 0
        self._stop = False
        self._timers = []
        self.resolv_conf = os.path.join(directory, "slow-resolv.conf")
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions timeout:10 attempts:1\n" % self.ADDRESS)
        self.hosts = os.path.join(directory, "slow-hosts")
        with open(self.hosts, "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                query, peer = self.sock.recvfrom(4096)
            except (socket.timeout, OSError):
                continue
            self.queries += 1
            # Same id and question; QR, RD, RA set; rcode 3 (NXDOMAIN); no records.
            answer = query[:2] + bytes([0x81, 0x83]) + query[4:6] + bytes(6) + query[12:]
            timer = threading.Timer(self.DELAY, self._send, (answer, peer))
            timer.start()
            self._timers.append(timer)

    def _send(self, answer, peer):
        try:
            self.sock.sendto(answer, peer)
        except OSError:
            pass

    def wrap(self, argv):
        """argv under its own host name, resolved by none but this server (UTS and mount
        namespaces of its own, /etc/hosts without it, /etc/resolv.conf naming this server)."""
        script = ('hostname "$0" && mount --bind "$1" /etc/hosts && '
                  'mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"')
        return ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", script,
                self.HOSTNAME, self.hosts, self.resolv_conf] + argv

    def close(self):
        self._stop = True
        self._thread.join()
        for t in self._timers:
            t.cancel()
        self.sock.close()


def timed(argv, limit):
    start = time.monotonic()
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=limit, preexec_fn=proc.die_with_parent)
    return done, time.monotonic() - start


class Hostile(harness.SlapdTestCase):

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="lhc-hostile-", dir=self.ldap.dir)

    def table(self, name, params):
        path = tables.write_table(os.path.join(self.dir, name), params)
        os.utime(path, (0, 0))  # postmap waits for files younger than 2 s
        return path

    def once(self, path, limit):
        result = harness.run(["--once", "--probe-key", KEY, "--conffile", path], limit=limit)
        harness.assert_no_secret(self, result.stdout, result.stderr)
        return result

    def assert_unhealthy_within(self, result, seconds, step):
        self.assertEqual(result.returncode, harness.EXIT_UNAVAILABLE, result.stdout + result.stderr)
        self.assertLessEqual(result.elapsed, seconds, result.stdout)
        self.assertIn(step, result.stdout)

    def test_silent_server_fails_within_the_timeout_as_in_postfix(self):
        listener = SilentListener()
        self.addCleanup(listener.close)
        path = self.table("silent.cf", tables.bind_yes(self.ldap, timeout=2) | {"server_host": listener.url})
        theirs = oracle.postmap_verdict(path, KEY, 15)
        self.assertEqual(theirs.verdict, "tempfail", theirs.stderr)
        self.assert_unhealthy_within(self.once(path, 30), 2 + GRACE, "bind " + listener.url)

    def test_timeout_minus_one_is_bounded_where_postfix_waits_forever(self):
        listener = SilentListener()
        self.addCleanup(listener.close)
        params = tables.bind_yes(self.ldap) | {"server_host": listener.url, "timeout": "-1"}
        path = self.table("forever.cf", params)
        theirs = oracle.postmap_verdict(path, KEY, UNBOUNDED_WAIT + 5)
        self.assertTrue(theirs.timed_out, "postmap was expected to hang: %s" % (theirs,))
        ours = self.once(path, 60)
        self.assert_unhealthy_within(ours, UNBOUNDED_WAIT + GRACE, "bind " + listener.url)
        self.assertIn("no answer", ours.stdout)
        # The same table against a healthy server: -1 is a working (if unbounded) setting.
        good = self.table("forever-good.cf", params | {"server_host": self.ldap.url})
        self.assertEqual(oracle.postmap_verdict(good, KEY, 15).verdict, "found")
        self.assertEqual(self.once(good, 30).returncode, harness.EXIT_OK)

    def test_dns_server_that_never_answers_is_bounded_by_the_timeout(self):
        if not shutil.which("unshare"):
            self.fail("unshare (util-linux) is missing")
        dns = SilentDns(self.dir)
        self.addCleanup(dns.close)
        name = "ldap.lhc-hostile.test"
        path = self.table("dns.cf", tables.bind_yes(self.ldap, timeout=2) | {"server_host": "ldap://%s/" % name})
        # The precondition: resolving the name really hangs (glibc: 2 attempts x 5 s).
        _, slow = timed(dns.wrap(["getent", "hosts", name]), 30)
        self.assertGreaterEqual(slow, 8, "name resolution did not hang: the test would prove nothing")
        self.assertGreater(dns.queries, 0)
        postmap, theirs = timed(dns.wrap([oracle.find_postmap(), "-q", KEY, "ldap:" + path]), 30)
        self.assertEqual(oracle.classify(postmap.returncode, postmap.stderr), "tempfail", postmap.stderr)
        ours, elapsed = timed(dns.wrap([harness.binary(), "--once", "--probe-key", KEY, "--conffile", path]), 30)
        self.assertEqual(ours.returncode, harness.EXIT_UNAVAILABLE, ours.stdout + ours.stderr)
        self.assertIn("connect ldap://%s/" % name, ours.stdout)
        self.assertIn("name resolution", ours.stdout)
        self.assertLessEqual(elapsed, 2 + GRACE, "postmap took %.1f s, we %.1f s" % (theirs, elapsed))

    def test_own_host_name_resolved_slowly_as_postfix_does(self):
        """libldap resolves the machine's own name once per process, before anything else
        (ldap_int_initialize -> ldap_pvt_get_fqdn); Postfix pays for that outside any timeout,
        and so must we, even when the servers are given as addresses."""
        dns = SlowDns(self.dir)
        self.addCleanup(dns.close)
        path = self.table("slow-own-name.cf", tables.bind_yes(self.ldap, timeout=2))
        postmap, theirs = timed(dns.wrap([oracle.find_postmap(), "-q", KEY, "ldap:" + path]), 30)
        self.assertEqual(oracle.classify(postmap.returncode, postmap.stderr), "found", postmap.stderr)
        # The precondition: the name really went to the slow server, past the timeout.
        self.assertGreater(dns.queries, 0, "the host name was not looked up: the test proves nothing")
        self.assertGreaterEqual(theirs, SlowDns.DELAY - 0.5, "postmap took %.1f s" % theirs)
        ours, elapsed = timed(dns.wrap([harness.binary(), "--once", "--probe-key", KEY, "--conffile", path]), 30)
        detail = "postmap took %.1f s, we %.1f s: %s%s" % (theirs, elapsed, ours.stdout, ours.stderr)
        self.assertEqual(ours.returncode, harness.EXIT_OK, detail)
        self.assertLess(elapsed, SlowDns.DELAY + GRACE, detail)
        harness.assert_no_secret(self, ours.stdout, ours.stderr)
        self.assert_daemon_ready(dns.wrap([harness.binary(), "--conffile", path, "--failures", "1"]))

    def assert_daemon_ready(self, argv):
        """The daemon's first round (where one failure means down at start) is good too."""
        with NotifyListener() as notify:
            env = dict(os.environ, NOTIFY_SOCKET=notify.path)
            env.pop("WATCHDOG_USEC", None)
            daemon = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, env=env,
                                      preexec_fn=proc.die_with_parent)
            try:
                ready = notify.wait_for("READY=1", limit=SlowDns.DELAY + 5, proc=daemon)
            finally:
                daemon.terminate()
                _, err = daemon.communicate(timeout=10)
            self.assertIsNotNone(ready, "no READY=1 (exit %s): %s" % (daemon.returncode, err))
            harness.assert_no_secret(self, err, notify.text())

    def test_referral_to_a_silent_server_is_bounded_by_the_timeout(self):
        listener = SilentListener()
        self.addCleanup(listener.close)
        base = "ou=elsewhere," + slapd.SUFFIX
        ldif = ("dn: %s\nobjectClass: referral\nobjectClass: extensibleObject\nou: elsewhere\n"
                "ref: ldap://127.0.0.1:%d/%s\n" % (base, listener.port, base))
        self.ldap.ldapmodify(ldif, add=True)
        params = tables.anonymous(self.ldap, timeout=2) | {"search_base": base, "chase_referrals": "yes"}
        path = self.table("referral.cf", params)
        theirs = oracle.postmap_verdict(path, KEY, 15)
        self.assertNotIn(theirs.verdict, ("found", "notfound"), theirs)
        ours = self.once(path, 60)
        self.assert_unhealthy_within(ours, 2 + GRACE, "search " + self.ldap.url)
        self.assertGreater(len(listener.accepted), 0, "the referral was not chased")
        # Without chasing, the referral is an answer Postfix does not fail on: healthy, as postmap.
        plain = self.table("referral-plain.cf", params | {"chase_referrals": "no"})
        theirs = oracle.postmap_verdict(plain, KEY, 15)
        self.assertEqual(self.once(plain, 30).returncode == harness.EXIT_OK,
                         theirs.verdict in ("found", "notfound"), theirs)


if __name__ == "__main__":
    harness.main()

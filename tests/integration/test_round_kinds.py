#!/usr/bin/env python3
"""Every table value that changes Postfix's verdict, through every kind of round (issue 19).

The daemon judges the directory in several kinds of round, and each is a separate code path
that could drift from Postfix: `--once` (one full path), the daemon's first round (a full
path; READY=1 or exit 69), kept rounds in the daemon's own loop (one search on the
connection kept from the last good round: one table, no canary follow-ups, no NSS), kept
rounds on worker threads (here forced by `--nss-user root`, which resolves through the
host's own NSS and so adds no verdict of its own), and canary rounds (`--canary TABLE=KEY`,
where what a lookup returns matters). Each case is a value docs/postfix-semantics.md says
changes a lookup's verdict; `postmap -q` on the same file and the same directory is the
oracle, and every round kind must agree with it:

  probe rounds   healthy exactly when postmap finds or does not find the key
  canary rounds  healthy exactly when postmap finds it

A value Postfix can use only until the directory changes (size_limit, a fixed search_base,
a group's expansion) is changed under the running daemons after READY=1: postmap's verdict
flips, and the kept rounds must flip with it. All cases share one slapd and run side by side.
"""

import collections
import concurrent.futures
import os
import re
import signal
import sys
import time

from lhctest import harness, oracle, slapd, tables
from lhctest.notify import NotifyListener

import test_canary  # the groups of the canary test: special, leaf and terminal attributes

S = slapd.SUFFIX
TIMEOUT = 2
INTERVAL = 0.05        # --interval and --retry-interval: rounds as fast as they come
FAILURES = 3
KEPT_ROUNDS = 6        # WATCHDOG=1 after READY=1: kept rounds, but for those started before it
WATCHDOG_USEC = 120000000  # the shipped WatchdogSec=2min: a round with timeout <= 0 fits
ORACLE_LIMIT = TIMEOUT + 8
# A flipped value fails the next kept round at once; then FAILURES rounds INTERVAL apart, each
# bounded by the table's timeout, and a busy 2-core host.
FLIP_BOUND = TIMEOUT + FAILURES * INTERVAL + 3.0
ROTATING_DN = "cn=rotating,ou=services," + S
ROTATING_PW = "Rotating-Pw-4Lm"
WORKERS = 6            # cases in parallel: each is a few short daemons and postmaps

DIRECTORY = "\n".join([
    test_canary.DIRECTORY,
    # dereference: only an alias in the search base leads to carol.
    "dn: ou=elsewhere,%s\nobjectClass: organizationalUnit\nou: elsewhere\n" % S,
    "dn: uid=carol,ou=elsewhere,%s\nobjectClass: inetOrgPerson\nuid: carol\ncn: c\nsn: c\n"
    "mail: carol@example.com\ndescription: example.com/carol/\n" % S,
    "dn: ou=deref,%s\nobjectClass: organizationalUnit\nou: deref\n" % S,
    "dn: uid=carol-alias,ou=deref,%s\nobjectClass: alias\nobjectClass: extensibleObject\n"
    "uid: carol-alias\naliasedObjectName: uid=carol,ou=elsewhere,%s\n" % (S, S),
    # size_limit: one entry answers the key; the flip adds a second one.
    "dn: ou=sizes,%s\nobjectClass: organizationalUnit\nou: sizes\n" % S,
    "dn: uid=size1,ou=sizes,%s\nobjectClass: inetOrgPerson\nuid: size1\ncn: s\nsn: s\n"
    "mail: size@example.com\ndescription: example.com/size/\n" % S,
    # A fixed search base that the flip deletes.
    "dn: ou=flipbase,%s\nobjectClass: organizationalUnit\nou: flipbase\n" % S,
    # A group whose expansion the flip pushes over expansion_limit.
    "dn: cn=growing,ou=groups,%s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
    "cn: growing\nmember: uid=alice,ou=people,%s\n" % (S, S),
    # The account whose password the rotation case changes: the others bind as the service.
    "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: rotating\n"
    "userPassword: %s\n" % (ROTATING_DN, ROTATING_PW),
    # Referrals: the search under ou=refs returns dave and a continuation reference.
    "dn: ou=refs,%s\nobjectClass: organizationalUnit\nou: refs\n" % S,
    "dn: uid=dave,ou=refs,%s\nobjectClass: inetOrgPerson\nuid: dave\ncn: d\nsn: d\n"
    "mail: dave@example.com\ndescription: example.com/dave/\n" % S,
])


def referral_ldif(server, closed):
    """Added with the ManageDsaIT control, or slapd would refuse a referral object."""
    return "\n".join([
        "dn: ou=far,ou=refs,%s\nobjectClass: referral\nobjectClass: extensibleObject\nou: far\n"
        "ref: %sou=people,%s\n" % (S, server.url, S),
        "dn: ou=badrefs,%s\nobjectClass: organizationalUnit\nou: badrefs\n" % S,
        "dn: uid=erin,ou=badrefs,%s\nobjectClass: inetOrgPerson\nuid: erin\ncn: e\nsn: e\n"
        "mail: erin@example.com\ndescription: example.com/erin/\n" % S,
        "dn: ou=far,ou=badrefs,%s\nobjectClass: referral\nobjectClass: extensibleObject\nou: far\n"
        "ref: %sou=people,%s\n" % (S, closed.url, S),
    ])


# A case: name; the table; the key; postmap's verdict; canary: also canary rounds with the
# key; flip: (change, undo, postmap's verdict after the change), functions of the server.
Case = collections.namedtuple("Case", "name params key expected canary flip full probe_key")


def case(name, params, expected, key=tables.FOUND_KEY, canary=False, flip=None, full=3600,
         probe_key=None):
    """full: --full-probe-interval; the default makes every round after the first a kept one.
    probe_key: the probe's key where it is not the canary's: a probe judges the search alone
    (found and not found are both healthy), so values about what a lookup returns (group
    expansion, its limits) are the canary's to judge."""
    return Case(name, params, key, expected, canary, flip, full, probe_key or key)


def users(server, **extra):
    return dict(tables.bind_yes(server, timeout=TIMEOUT), **extra)


def under(ou, server, **extra):
    return users(server, search_base="ou=%s,%s" % (ou, S), **extra)


def cases(server, closed):
    ldaps = dict(users(server), server_host=server.ldaps_url)
    bad_host = lambda host: users(server, server_host="%s %s" % (host, server.url))
    group = lambda **extra: test_canary.groups(server, **dict(dict(timeout=str(TIMEOUT)), **extra))
    add = lambda ldif: (lambda s: s.ldapmodify(ldif, add=True))
    delete = lambda dn: (lambda s: s.ldapmodify("dn: %s\nchangetype: delete\n" % dn))
    size2 = ("dn: uid=size2,ou=sizes,%s\nobjectClass: inetOrgPerson\nuid: size2\ncn: s\nsn: s\n"
             "mail: size@example.com\ndescription: example.com/size2/\n" % S)
    member = lambda op: (lambda s: s.ldapmodify(
        "dn: cn=growing,ou=groups,%s\nchangetype: modify\n%s: member\nmember: uid=bob,ou=people,%s\n"
        % (S, op, S)))
    flipbase = "dn: ou=flipbase,%s\nobjectClass: organizationalUnit\nou: flipbase\n" % S
    return [
        # version
        case("version = 3", users(server, version="3"), "found"),
        case("version = 2 (slapd refuses v2 binds)", users(server, version="2"), "tempfail"),
        case("version = 2, bind = no", users(server, version="2", bind="no"), None),
        case("version = 4 (warning, uses 3)", users(server, version="4"), "found"),
        # timeout
        case("timeout = 1", users(server, timeout="1"), "found"),
        case("timeout = 0", users(server, timeout="0"), "tempfail"),
        case("timeout = -1", users(server, timeout="-1"), "found"),
        case("timeout = -2", users(server, timeout="-2"), "tempfail"),
        case("timeout = -5", users(server, timeout="-5"), "tempfail"),
        # size_limit and expansion_limit
        case("size_limit = 1, one entry", under("sizes", server, size_limit="1"), "found",
             key="size@example.com",
             flip=(add(size2), delete("uid=size2,ou=sizes," + S), "tempfail")),
        case("size_limit = 0 (none)", users(server, size_limit="0"), "found"),
        case("size_limit = -1", users(server, size_limit="-1"), "tempfail"),
        case("expansion_limit = -1, no size_limit", users(server, expansion_limit="-1"), "tempfail"),
        case("expansion_limit = -1, size_limit = 5",
             users(server, expansion_limit="-1", size_limit="5"), "found"),
        # scope
        case("scope = sub", users(server, scope="sub"), "found", canary=True),
        case("scope = one", users(server, scope="one"), "found", canary=True),
        case("scope = base", users(server, scope="base"), "notfound", canary=True),
        case("scope = BASE (any case)", users(server, scope="BASE"), "notfound", canary=True),
        case("scope = subtree (warning, uses sub)", users(server, scope="subtree"), "found",
             canary=True),
        # dereference: carol is reachable only through the alias under ou=deref
        *[case("dereference = %s" % d, under("deref", server, dereference=d),
               "found" if d in ("1", "3") else "notfound", key="carol@example.com", canary=True)
          for d in ("0", "1", "2", "3", "7")],
        # search_base
        case("search_base missing, fixed", under("nowhere", server), "tempfail"),
        case("search_base missing, %d in it", users(server, search_base="ou=%d," + S), "notfound",
             canary=True),
        case("search_base = ou=people,dc=%2,dc=%1",
             users(server, search_base="ou=people,dc=%2,dc=%1"), "found", canary=True),
        case("search_base fixed, deleted after READY", under("flipbase", server), "notfound",
             flip=(delete("ou=flipbase," + S), add(flipbase), "tempfail")),
        # query_filter
        case("query_filter = (uid=%u)", users(server, query_filter="(uid=%u)"), "found", canary=True),
        case("query_filter fixed (warning, still sent)",
             users(server, query_filter="(mail=alice@example.com)"), "found", key="x@example.com",
             canary=True),
        case("query_filter unbalanced", users(server, query_filter="(mail=%s"), "tempfail"),
        case("query_filter, no such attribute", users(server, query_filter="(nosuchattr=%s)"),
             None),
        # domain
        case("domain matches", users(server, domain="example.com"), "found", canary=True),
        case("domain = example.org, a key in it", users(server, domain="example.org"), "notfound",
             key="ldap-health-check@example.org", canary=True),
        case("domain negated", users(server, domain="!example.com, example.net"), "notfound",
             key="alice@example.net", canary=True),
        # bind
        case("bind = yes", users(server, bind="yes"), "found"),
        case("bind = simple", users(server, bind="simple"), "found"),
        case("bind = no", users(server, bind="no"), "found"),
        case("bind = none, wrong bind_pw unused", users(server, bind="none", bind_pw="Wrong-Pw-Not-Svc-9"),
             "found"),
        case("bind = yes, wrong bind_pw", users(server, bind_pw="Wrong-Pw-Not-Svc-9"), "tempfail"),
        case("bind = yes, no such bind_dn", users(server, bind_dn="cn=nobody," + S), "tempfail"),
        # A kept connection stays bound: only the next full path sees a rotated password, so
        # this case alone has a full path every second.
        case("bind = yes, password changed after READY",
             users(server, bind_dn=ROTATING_DN, bind_pw=ROTATING_PW), "found", full=1,
             flip=(lambda s: s.change_password(ROTATING_DN, "Changed-Pw-Zq81"),
                   lambda s: s.change_password(ROTATING_DN, ROTATING_PW), "tempfail")),
        case("bind = sasl EXTERNAL over ldapi", tables.ldapi_external(server, timeout=TIMEOUT),
             "found"),
        case("bind = sasl EXTERNAL over ldap:// (no identity)",
             dict(tables.ldapi_external(server, timeout=TIMEOUT), server_host=server.url), "tempfail"),
        case("bind = yes over ldapi", users(server, server_host=server.ldapi_url), "found"),
        # TLS
        case("start_tls = yes", tables.starttls(server, timeout=TIMEOUT), "found"),
        case("start_tls = yes, version = 2 (warning, uses 3)",
             dict(tables.starttls(server, timeout=TIMEOUT), version="2"), "found"),
        case("start_tls, tls_require_cert = yes, no CA",
             dict(users(server, start_tls="yes", tls_require_cert="yes")), "tempfail"),
        case("start_tls, tls_require_cert = no, no CA",
             dict(users(server, start_tls="yes", tls_require_cert="no")), "found"),
        case("ldaps, CA, tls_require_cert = yes", tables.ldaps(server, timeout=TIMEOUT), "found"),
        case("ldaps, tls_require_cert = yes, no CA", dict(ldaps, tls_require_cert="yes"), "tempfail"),
        case("ldaps, tls_require_cert = no, no CA", dict(ldaps, tls_require_cert="no"), "found"),
        case("ldaps as <ldaps://...>", dict(tables.ldaps(server, timeout=TIMEOUT),
                                              server_host="<%s>" % server.ldaps_url), "found"),
        # server_host
        case("server_host host:port", users(server, server_host="127.0.0.1:%d" % server.port), "found"),
        case("server_host host + server_port",
             users(server, server_host="127.0.0.1", server_port=str(server.port)), "found"),
        case("server_host closed, then good", bad_host(closed.url), "found"),
        case("server_host ldap://[::1 (skipped), then good", bad_host("ldap://[::1"), "found"),
        case("server_host ::1 then good (libldap refuses the list)", bad_host("::1"), "tempfail"),
        case("server_host host:abc then good", bad_host("127.0.0.1:abc"), "tempfail"),
        case("server_host http://h/ then good", bad_host("http://127.0.0.1/"), "tempfail"),
        case("server_host = , (no URL)", users(server, server_host=","), None),
        # chase_referrals: the search under ou=refs also returns a continuation reference
        case("chase_referrals = no", under("refs", server, chase_referrals="no"), "found",
             key="dave@example.com", canary=True),
        case("chase_referrals = yes", under("refs", server, chase_referrals="yes"), "found",
             key="dave@example.com", canary=True),
        case("chase_referrals = yes, referral to a closed port",
             under("badrefs", server, chase_referrals="yes"), None, key="erin@example.com",
             canary=True),
        case("chase_referrals = no, referral to a closed port",
             under("badrefs", server, chase_referrals="no"), "found", key="erin@example.com",
             canary=True),
        # what a lookup returns: canaries
        case("result_attribute present", users(server), "found", canary=True),
        case("result_attribute absent from the entry", users(server), "notfound",
             key="noattr@example.com", canary=True),
        case("result_format %d on a value without domain", users(server, result_format="%d"),
             "notfound", canary=True),
        case("result_format smtp:[%d]/%u", users(server, result_attribute="mail",
                                                 result_format="smtp:[%d]/%u"), "found", canary=True),
        case("special_result_attribute member", group(), "found", key="staff@example.com",
             canary=True),
        case("special_result_attribute, dangling members only", group(), "notfound",
             key="ghosts@example.com", canary=True),
        case("special_result_attribute labeledURI (URL)", group(special_result_attribute="labeledURI"),
             "found", key="dynamic@example.com", canary=True),
        case("leaf_result_attribute, members without it",
             group(result_attribute="uid", leaf_result_attribute="mail"), "notfound",
             key="nomail@example.com", canary=True),
        case("leaf_result_attribute, members with it",
             group(result_attribute="uid", leaf_result_attribute="mail"), "found",
             key="staff@example.com", canary=True),
        case("terminal_result_attribute", group(terminal_result_attribute="departmentNumber"),
             "found", key="terminal@example.com", canary=True),
        case("recursion_limit = 1", group(recursion_limit="1"), "tempfail", key="staff@example.com",
             canary=True, probe_key=tables.NOTFOUND_KEY),
        case("recursion_limit = 2", group(recursion_limit="2"), "found", key="staff@example.com",
             canary=True, probe_key=tables.NOTFOUND_KEY),
        case("expansion_limit = 1", group(expansion_limit="1"), "tempfail", key="staff@example.com",
             canary=True, probe_key=tables.NOTFOUND_KEY),
        case("expansion_limit = 1, group grows after READY", group(expansion_limit="1"), "found",
             key="growing@example.com", canary=True, probe_key=tables.NOTFOUND_KEY,
             flip=(member("add"), member("delete"), "tempfail")),
        case("size_limit = 1 on a group's members", group(size_limit="1"), None,
             key="staff@example.com", canary=True, probe_key=tables.NOTFOUND_KEY),
        case("cache = yes (warning, ignored)", users(server, cache="yes"), "found"),
    ]


# What a round kind concluded: "healthy", "unhealthy", or what went wrong.
Outcome = collections.namedtuple("Outcome", "kind verdict ok detail")

PROBE_KINDS = ("once", "first", "loop-kept", "thread-kept")
KINDS = PROBE_KINDS + tuple("canary " + k for k in PROBE_KINDS)
FLIP_KINDS = tuple(k + " flip" for k in KINDS if k.endswith("kept"))


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def kept_rounds_after_ready(log):
    """Rounds after READY=1 that made no new connection: each full path logs at least one
    "connect ok". Rounds started beside a slow first round (or beside each other on a busy
    host) still take the full path, so only a floor is asked of this."""
    lines = log.splitlines()
    ready = next((i for i, line in enumerate(lines) if "ready:" in line), len(lines))
    after = lines[ready + 1:]
    return sum("round ok in" in line for line in after) - sum(": connect ok" in line for line in after)


class RoundKinds(harness.SlapdTestCase):
    rows = []

    @classmethod
    def prepare_directory(cls):
        cls.closed = slapd.ClosedPort()
        cls.ldap.ldapmodify(DIRECTORY, add=True)
        # slapd refuses to add a referral object without ManageDsaIT.
        slapd._run(["ldapmodify", "-Q", "-M", "-a", "-Y", "EXTERNAL", "-H", cls.ldap.ldapi_url],
                   input=referral_ldif(cls.ldap, cls.closed), timeout=10)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if getattr(cls, "closed", None):
            cls.closed.close()
        if cls.rows:
            columns = KINDS + FLIP_KINDS
            out = ["%-52s %-18s %-18s " % ("case", "postmap probe", "postmap canary")
                   + " ".join("%-11s" % k.replace("canary ", "c-").replace("-kept", "")
                              for k in columns)]
            for name, truths, outcomes in cls.rows:
                by_kind = {o.kind: o for o in outcomes}
                cell = lambda k: "-" if k not in by_kind else (
                    by_kind[k].verdict[:9] + ("" if by_kind[k].ok else "!!"))
                out.append("%-52s %-18s %-18s " % (name[:52], *truths)
                           + " ".join("%-11s" % cell(k) for k in columns))
            sys.stderr.write("\n" + "\n".join(out) + "\n(!! = disagrees with postmap)\n")

    # -- the round kinds ---------------------------------------------------

    def once(self, table, key, extra):
        r = harness.run(["--once", "--probe-key", key, "--conffile", table, *extra], limit=30)
        verdict = {harness.EXIT_OK: "healthy", harness.EXIT_UNAVAILABLE: "unhealthy"}.get(
            r.returncode, "exit %d" % r.returncode)
        return verdict, r.stdout + r.stderr

    def daemon(self, table, key, full, extra):
        notify = NotifyListener()
        args = ["--conffile", table, "--probe-key", key, "--interval", str(INTERVAL),
                "--retry-interval", str(INTERVAL), "--failures", str(FAILURES),
                "--full-probe-interval", str(full), "--debug", *extra]
        return harness.Daemon(args, notify, watchdog_usec=WATCHDOG_USEC), notify

    def first_and_kept(self, daemon, notify, full):
        """(first round's verdict, kept rounds' verdict or None, log)."""
        ready = notify.wait_for("READY=1", limit=15, proc=daemon)
        if ready is None:
            rc = daemon.wait(15)
            first = "unhealthy" if rc == harness.EXIT_UNAVAILABLE else "exit %s" % rc
            return first, None, daemon.stderr()
        seen = notify.wait_count("WATCHDOG=1", KEPT_ROUNDS + 1, limit=10, proc=daemon)
        log = daemon.stderr()
        if "probe failed" in log or seen < KEPT_ROUNDS + 1:
            return "healthy", "unhealthy", log
        if full >= 3600 and kept_rounds_after_ready(log) < KEPT_ROUNDS - FAILURES:
            return "healthy", "too few kept rounds", log
        return "healthy", "healthy", log

    def flipped(self, daemon, changed, bound):
        """After the change made at `changed`: the daemon's verdict within `bound`."""
        rc = daemon.wait(max(0.0, changed + bound - time.monotonic()))
        took = time.monotonic() - changed
        if rc is None:
            return "healthy", "still healthy %.1f s after the change" % took
        return ("unhealthy" if rc == harness.EXIT_UNAVAILABLE else "exit %d" % rc,
                "exit %d %.2f s after the change" % (rc, took))

    # -- one case ----------------------------------------------------------

    def truths(self, table, c):
        """postmap on the probe's key and on the canary's."""
        probe = oracle.postmap_verdict(table, c.probe_key, ORACLE_LIMIT).verdict
        canary = (oracle.postmap_verdict(table, c.key, ORACLE_LIMIT).verdict if c.key != c.probe_key
                  else probe) if c.canary else "-"
        return probe, canary

    @staticmethod
    def healthy(kind, probe, canary):
        ok = probe in ("found", "notfound")
        return ok and canary == "found" if kind.startswith("canary") else ok

    def run_case(self, c):
        table = tables.write_table(os.path.join(self.ldap.dir, slug(c.name) + ".cf"), c.params)
        probe, canary = self.truths(table, c)
        if c.expected is not None and (canary if c.canary else probe) != c.expected:
            return (probe, canary), [Outcome("postmap", probe, False, "expected %s" % c.expected)]
        want = lambda kind: "healthy" if self.healthy(kind, probe, canary) else "unhealthy"
        canary_args = ("--canary", "%s=%s" % (table, c.key))
        variants = [("", ())] + ([("canary ", canary_args)] if c.canary else [])
        outcomes = []
        for prefix, extra in variants:
            verdict, detail = self.once(table, c.probe_key, extra)
            outcomes.append(Outcome(prefix + "once", verdict, verdict == want(prefix + "once"), detail))

        daemons = []
        for prefix, extra in variants:
            for kind, more in (("loop-kept", ()), ("thread-kept", ("--nss-user", "root"))):
                daemons.append((prefix + kind,) + self.daemon(table, c.probe_key, c.full, extra + more))
        settled = []
        try:
            for kind, daemon, notify in daemons:
                first, kept, log = self.first_and_kept(daemon, notify, c.full)
                if kind.endswith("loop-kept"):  # the first round: the same full path in both
                    first_kind = kind.replace("loop-kept", "first")
                    outcomes.append(Outcome(first_kind, first, first == want(first_kind), log))
                if kept is not None:
                    outcomes.append(Outcome(kind, kept, kept == want(kind), log))
                    settled.append((kind, daemon))
            truths = (probe, canary)
            if c.flip and settled:
                change, undo, after = c.flip
                change(self.ldap)
                changed = time.monotonic()
                try:
                    now = self.truths(table, c)
                    truths = tuple(a if a == b else "%s -> %s" % (a, b) for a, b in zip(truths, now))
                    flipped = (now[1] if c.canary else now[0]) == after
                    bound = FLIP_BOUND + (c.full if c.full < 3600 else 0)
                    for kind, daemon in settled:
                        verdict, detail = self.flipped(daemon, changed, bound)
                        expected = "healthy" if self.healthy(kind, *now) else "unhealthy"
                        outcomes.append(Outcome(kind + " flip", verdict, flipped and verdict == expected,
                                                detail + "\n" + daemon.stderr()))
                finally:
                    undo(self.ldap)
        finally:
            for _, daemon, notify in daemons:
                daemon.kill()
                notify.close()
        return truths, outcomes

    def test_every_value_in_every_round_kind(self):
        all_cases = cases(self.ldap, self.closed)
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(self.run_case, all_cases))
        sys.stderr.write("%d cases in %.1f s\n" % (len(all_cases), time.monotonic() - t0))
        for c, (truths, outcomes) in zip(all_cases, results):
            self.rows.append((c.name, truths, outcomes))
            for o in outcomes:
                with self.subTest(case=c.name, kind=o.kind):
                    harness.assert_no_secret(self, o.detail)
                    lines = [l for l in o.detail.splitlines() if ".cf: " not in l]  # config dump
                    self.assertTrue(o.ok, "%s: %s, postmap %s\n%s" % (o.kind, o.verdict, truths,
                                                                      "\n".join(lines[-40:])))


if __name__ == "__main__":
    harness.main()

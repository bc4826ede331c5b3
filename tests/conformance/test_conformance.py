#!/usr/bin/env python3
"""Conformance: the binary against Postfix's own ldap_table client on a corpus.

The corpus (corpus/good: tables administrators write; corpus/broken: tables
Postfix refuses or warns about) is stored as templates; the placeholders are
filled in with the addresses of two throwaway slapd servers (A and B, the same
data and the same certificate).  For every file:

  config parity   every value `postmap -v` resolves equals ours (`--check-config
                  --debug`, spellings normalised as docs/conformance.md
                  explains); we refuse exactly what Postfix refuses, with
                  file:line; we warn wherever Postfix warns.
  verdict parity  in each server state (STATES below) `--once` is healthy
                  exactly when `postmap -q` with the same key does not fail
                  temporarily (lhctest.oracle).  A table files x states is
                  printed; any disagreement fails the test.
  timing parity   where Postfix fails temporarily in the hung and unreachable
                  states, our verdict comes no later than Postfix's (+0.5 s
                  for process start-up).

Template metadata lives in comments Postfix ignores:
  #@ probe-key: KEY       the lookup key (Postfix must really query for it)
  #@ expect: refused|warning (...)   broken files: what Postfix does
  #@ refused-next         the next line is the one Postfix refuses
"""

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from lhctest import harness, oracle, slapd, tables

HERE = os.path.dirname(os.path.abspath(__file__))

CORPUS = os.path.join(HERE, "corpus")
WRONG_PW = "Changed-Pw-Conformance-5t"
SLACK = 0.5  # seconds allowed for our process start-up in the timing comparison
# Files probed at the same time (each by postmap and by the binary side by side). Most runs
# wait on the network; more would make process start-up on 2 cores blur the timing comparison.
PAIRS = 8


# -- the corpus ---------------------------------------------------------------------------

class Template:
    def __init__(self, path):
        self.path = path
        self.kind = os.path.basename(os.path.dirname(path))  # good | broken
        self.name = os.path.basename(path)[: -len(".cf.in")]
        with open(path, newline="") as f:
            self.text = f.read()
        meta = dict(re.findall(r"^#@ ([a-z-]+):\s*(.*?)\s*$", self.text, re.M))
        self.probe_key = meta.get("probe-key", "alice@example.com")
        self.expect = meta.get("expect", "accepted").split()[0]
        lines = self.text.split("\n")
        marks = [n for n, line in enumerate(lines, 1) if line.rstrip("\r") == "#@ refused-next"]
        self.refused_line = marks[0] + 1 if marks else None


def load_corpus():
    out = []
    for kind in ("good", "broken"):
        folder = os.path.join(CORPUS, kind)
        out += [Template(os.path.join(folder, n)) for n in sorted(os.listdir(folder)) if n.endswith(".cf.in")]
    return out


# -- two servers and the states -----------------------------------------------------------

def _set_conf(server, directive, value):
    """Replace one `directive value` line of a Slapd's slapd.conf (takes effect on start)."""
    with open(server.conf_path) as f:
        lines = f.read().splitlines()
    lines = ["%s %s" % (directive, value) if line.split(" ", 1)[0] == directive else line for line in lines]
    with open(server.conf_path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _use_certificate(server, cert, key):
    _set_conf(server, "TLSCertificateFile", cert)
    _set_conf(server, "TLSCertificateKeyFile", key)


def _rename(server, old, new):
    server.ldapmodify( "dn: %s,%s\nchangetype: modrdn\nnewrdn: %s\ndeleteoldrdn: 1\n" % (old, slapd.SUFFIX, new))


class World:
    """Servers A and B (same data, same certificate), files written from templates."""

    def __init__(self):
        self.a = slapd.Slapd()
        self.b = slapd.Slapd()
        self.dir = tempfile.mkdtemp(prefix="lhc-conformance-", dir=self.a.dir)
        _set_conf(self.b, "TLSCACertificateFile", self.a.ca_cert)
        _use_certificate(self.b, self.a.server_cert, self.a.server_key)
        # A certificate from a CA no table trusts, for the tls-unverified state.
        other = os.path.join(self.dir, "other-ca")
        os.makedirs(other)
        _, self.other_cert, self.other_key = slapd.make_certificates(other)
        self.ca_dir = os.path.join(self.dir, "ca-dir")
        os.makedirs(self.ca_dir)
        shutil.copy(self.a.ca_cert, os.path.join(self.ca_dir, "test-ca.pem"))
        subprocess.run(["openssl", "rehash", self.ca_dir], check=True, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.a.start()
        self.b.start()
        self.values = {
            "@LDAP_URL@": self.a.url,
            "@LDAPS_URL@": self.a.ldaps_url,
            "@LDAPI_URL@": self.a.ldapi_url,
            "@LDAP_URL2@": self.b.url,
            "@LDAPS_URL2@": self.b.ldaps_url,
            "@HOST@": "127.0.0.1",
            "@PORT@": str(self.a.port),
            "@TLS_PORT@": str(self.a.tls_port),
            "@PORT2@": str(self.b.port),
            "@CA@": self.a.ca_cert,
            "@CA_DIR@": self.ca_dir,
            "@BIND_DN@": slapd.SERVICE_DN,
            "@BIND_PW@": slapd.SERVICE_PW,
        }

    def write(self, template):
        text = template.text
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        left = re.findall(r"@[A-Z0-9_]+@", text)
        if left:
            raise RuntimeError("%s: unknown placeholder %s" % (template.path, left[0]))
        return tables.write_file(os.path.join(self.dir, template.name + ".cf"), text)

    def both(self):
        return (self.a, self.b)

    def ensure_up(self):
        for s in self.both():
            if s.hung:
                s.resume()
            if not s.running():
                s.start()

    def cleanup(self):
        self.a.cleanup()
        self.b.cleanup()


def _restart(world, cert, key):
    for s in world.both():
        s.stop()
        _use_certificate(s, cert, key)
        s.start()


# name, what it is, enter(world), leave(world)
STATES = [
    ("up", "A and B serve", lambda w: None, lambda w: None),
    ("stopped", "A and B shut down cleanly (SIGTERM)",
     lambda w: [s.stop() for s in w.both()], lambda w: w.ensure_up()),
    ("hung", "A SIGSTOPped (TCP connects still succeed), B serves",
     lambda w: w.a.hang(), lambda w: w.a.resume()),
    ("wrong-pw", "the service account's password changed on A and B",
     lambda w: [s.change_password(slapd.SERVICE_DN, WRONG_PW) for s in w.both()],
     lambda w: [s.change_password(slapd.SERVICE_DN, slapd.SERVICE_PW) for s in w.both()]),
    ("no-base", "ou=people renamed away on A and B",
     lambda w: [_rename(s, "ou=people", "ou=people-gone") for s in w.both()],
     lambda w: [_rename(s, "ou=people-gone", "ou=people") for s in w.both()]),
    ("bad-cert", "A and B present a certificate from a CA no table trusts",
     lambda w: _restart(w, w.other_cert, w.other_key),
     lambda w: _restart(w, w.a.server_cert, w.a.server_key)),
    ("first-down", "A crashed (SIGKILL), B serves",
     lambda w: w.a.kill(), lambda w: w.ensure_up()),
    ("all-down", "A and B crashed (SIGKILL)",
     lambda w: [s.kill() for s in w.both()], lambda w: w.ensure_up()),
]
TIMED_STATES = ("stopped", "hung", "first-down", "all-down")


# -- reading both programs ----------------------------------------------------------------

CFG_LINE = re.compile(r"^postmap: cfg_get_(?:str|int|bool): (.*?): (\w+) = (.*)$")
OUR_CFG_LINE = re.compile(r"^<7>(.*?): (\w+) = (.*)$")

# Postfix's configuration warnings and the warning we give for each.
WARNING_KINDS = [
    ("leading-whitespace", r"logical line must not start with whitespace",
     r"logical line must not start with whitespace"),
    ("override", r"overriding earlier entry", r"overriding earlier entry"),
    ("bad-url", r"error parsing URL", r"error parsing URL"),
    ("url-version", r"URL scheme \S+ requires protocol version 3", r"URL scheme \S+ requires protocol version 3"),
    ("tls-version", r"start_tls requires protocol version 3", r"start_tls requires protocol version 3"),
    ("version", r"Unknown version \d+, using 3", r"Unknown version \d+, using 3"),
    ("scope", r"Unrecognized value .* for scope", r"Unrecognized value .* for scope"),
    ("dereference", r"Unrecognized value .* for dereference", r"Unrecognized value .* for dereference"),
    ("fixed-filter", r"Fixed query_filter .* is probably useless", r"Fixed query_filter .* is probably useless"),
    ("cache", r"ignoring cache$", r"ignoring cache$"),
    ("cache_expiry", r"ignoring cache_expiry$", r"ignoring cache_expiry$"),
    ("cache_size", r"ignoring cache_size$", r"ignoring cache_size$"),
]

BIND_NAMES = {"no": "no", "none": "no", "yes": "yes", "simple": "yes", "sasl": "sasl"}


def postfix_config(stderr):
    """(values, warnings, queried) from `postmap -v` output, up to the open of the table."""
    values, warnings = {}, []
    queried = False
    opened = False
    for line in stderr.splitlines():
        if line.startswith("postmap: dict_open: ldap:"):
            opened = True
        m = CFG_LINE.match(line)
        if m and not opened:
            values[m.group(2)] = m.group(3)
        elif re.match(r"^postmap: (warning|error): ", line) and not opened:
            warnings.append(line.split(": ", 2)[2])
        if "Searching with filter" in line:
            queried = True
    return values, warnings, queried


def normalise_postfix(values, warnings):
    """Postfix's printed values as the effective ones (see docs/conformance.md)."""
    v = dict(values)
    for name, value in v.items():
        if value in ("on", "off") and name in ("cache", "chase_referrals", "start_tls", "tls_require_cert"):
            v[name] = "yes" if value == "on" else "no"
    # result_filter is the fallback of an unset (or empty) result_format.
    if v.get("result_format", "<NULL>") in ("<NULL>", ""):
        v["result_format"] = v.pop("result_filter", "%s")
    v.pop("result_filter", None)
    if "bind" in v:
        v["bind"] = BIND_NAMES.get(v["bind"].lower(), v["bind"])
    if "scope" in v:
        v["scope"] = v["scope"].lower() if v["scope"].lower() in ("sub", "one", "base") else "sub"
    text = "\n".join(warnings)
    if re.search(r"requires protocol version 3|Unknown version", text):
        v["version"] = "3"
    if "for dereference" in text:
        v["dereference"] = "0"
    if v.get("bind_pw"):
        v["bind_pw"] = "***"
    return v


def warning_kinds(lines, column):
    counts = {}
    for line in lines:
        for kind in WARNING_KINDS:
            if re.search(kind[column], line):
                counts[kind[0]] = counts.get(kind[0], 0) + 1
                break
        else:
            if column == 1:
                counts["unmapped: " + line] = 1
    return counts


# With timeout = -1 libldap waits without end; we give up after this many seconds (Postfix's
# default timeout, LdapTable::unbounded_wait_seconds), so the oracle must wait longer.
UNBOUNDED_WAIT = 10


def oracle_limit(timeout):
    """"No answer within a few timeouts" (Postfix does not bound every wait)."""
    return 2 * (timeout if timeout > 0 else UNBOUNDED_WAIT) + 3.0


# -- the suite ----------------------------------------------------------------------------

class Conformance(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.corpus = load_corpus()
        cls.world = World()
        cls.paths = {t.name: cls.world.write(t) for t in cls.corpus}
        cls.timeouts = {}  # name -> Postfix's resolved timeout, for accepted files
        cls.accepted = []  # templates Postfix accepts

    @classmethod
    def tearDownClass(cls):
        cls.world.cleanup()

    def setUp(self):
        self.world.ensure_up()

    # 1 -------------------------------------------------------------------------------------
    def test_1_corpus(self):
        good = [t for t in self.corpus if t.kind == "good"]
        broken = [t for t in self.corpus if t.kind == "broken"]
        sys.stderr.write("\ncorpus: %d good, %d broken (%d refused, %d warned about)\n"
                         % (len(good), len(broken), sum(t.expect == "refused" for t in broken),
                            sum(t.expect == "warning" for t in broken)))
        self.assertGreaterEqual(len(good), 40)
        self.assertGreaterEqual(len(broken), 20)
        for t in broken:
            self.assertIn(t.expect, ("refused", "warning"), t.path)
            if t.expect == "refused":
                self.assertIsNotNone(t.refused_line, t.path + ": no #@ refused-next")

    # 2 -------------------------------------------------------------------------------------
    def config_one(self, t):
        path = self.paths[t.name]
        theirs = oracle.postmap_verdict(path, t.probe_key, 20, verbose=True)
        ours = harness.run(["--check-config", "--debug", "--conffile", path], limit=20)
        return t, theirs.returncode, theirs.stderr, ours

    def test_2_config_parity(self):
        problems = []
        with concurrent.futures.ThreadPoolExecutor(2 * PAIRS) as pool:
            runs = list(pool.map(self.config_one, self.corpus))
        for t, rc, err, ours in runs:
            path = self.paths[t.name]
            where = "%s (%s)" % (t.name, t.kind)
            refused = any("fatal:" in line and "query error" not in line for line in err.splitlines())
            values, warnings, queried = postfix_config(err)
            fatal = [line for line in err.splitlines() if "fatal:" in line]
            expect = {"good": "accepted", "broken": t.expect}[t.kind]
            if (expect == "refused") != refused:
                problems.append("%s: corpus says %s, postmap: %s" % (where, expect, fatal or "accepted"))
            if expect == "warning" and not warnings:
                problems.append("%s: corpus says warning, Postfix gives none" % where)
            harness.assert_no_secret(self, ours.stdout, ours.stderr)
            if refused:
                want = "%s:%d:" % (path, t.refused_line)
                if ours.returncode != harness.EXIT_CONFIG or want not in ours.stderr:
                    problems.append("%s: Postfix refuses (%s); we: exit %d, stderr %r (want %s)"
                                    % (where, fatal[0], ours.returncode, ours.stderr.strip(), want))
                continue
            if ours.returncode != harness.EXIT_OK:
                problems.append("%s: Postfix accepts; we exit %d: %s" % (where, ours.returncode, ours.stderr.strip()))
                continue
            # A table whose bind fails in every state never gets as far as a search.
            if not queried and oracle.classify(rc, err) != "tempfail":
                problems.append("%s: Postfix sends no query for probe key %s" % (where, t.probe_key))
            self.accepted.append(t)
            self.timeouts[t.name] = int(values.get("timeout", "10"))
            theirs = normalise_postfix(values, warnings)
            mine = {m.group(2): m.group(3) for m in map(OUR_CFG_LINE.match, ours.stderr.splitlines())
                    if m and m.group(1) == path}
            for name in sorted(set(theirs) | set(mine)):
                if theirs.get(name) != mine.get(name):
                    problems.append("%s: %s: Postfix %r, we %r" % (where, name, theirs.get(name), mine.get(name)))
            our_warnings = [line[3:] for line in ours.stderr.splitlines() if line.startswith("<4>")]
            pk, wk = warning_kinds(warnings, 1), warning_kinds(our_warnings, 2)
            for kind, n in pk.items():
                if wk.get(kind, 0) != n:
                    problems.append("%s: Postfix warns %s x%d, we x%d" % (where, kind, n, wk.get(kind, 0)))
        sys.stderr.write("\nconfig parity: %d files, %d accepted by Postfix, %d problems\n"
                         % (len(self.corpus), len(self.accepted), len(problems)))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    # 3 + 4 -------------------------------------------------------------------------------
    def verdict_one(self, t, state):
        path = self.paths[t.name]
        limit = oracle_limit(self.timeouts[t.name])
        with concurrent.futures.ThreadPoolExecutor(2) as pair:
            theirs = pair.submit(oracle.postmap_verdict, path, t.probe_key, limit)
            ours = pair.submit(harness.run, ["--once", "--probe-key", t.probe_key, "--conffile", path], limit + 10)
            return t, state, theirs.result(), ours.result()

    def test_3_verdict_parity(self):
        if not self.accepted:
            self.skipTest("config parity found no accepted file")
        cells, problems, timings = {}, [], []
        t0 = time.monotonic()
        for state, what, enter, leave in STATES:
            self.world.ensure_up()
            enter(self.world)
            try:
                with concurrent.futures.ThreadPoolExecutor(PAIRS) as pool:
                    runs = list(pool.map(lambda t: self.verdict_one(t, state), self.accepted))
            finally:
                leave(self.world)
            for t, state, theirs, ours in runs:
                postfix_ok = theirs.verdict in ("found", "notfound")
                we = {harness.EXIT_OK: True, harness.EXIT_UNAVAILABLE: False}.get(ours.returncode)
                agree = we is not None and we == postfix_ok
                cells[t.name, state] = (agree, postfix_ok)
                harness.assert_no_secret(self, ours.stdout, ours.stderr)
                if not agree:
                    problems.append("%s / %s: postmap %s (%.1f s)%s: %s | we exit %d: %s %s"
                                    % (t.name, state, theirs.verdict, theirs.elapsed,
                                       " [no answer]" if theirs.timed_out else "",
                                       " ".join(theirs.stderr.split("\n")[-3:]).strip(), ours.returncode,
                                       ours.stdout.strip(), ours.stderr.strip()[-300:]))
                if state in TIMED_STATES and theirs.verdict == "tempfail":
                    timings.append((t.name, state, ours.elapsed, theirs.elapsed, theirs.timed_out))
                    if ours.elapsed > theirs.elapsed + SLACK:
                        problems.append("%s / %s: our verdict after %.2f s, Postfix's after %.2f s"
                                        % (t.name, state, ours.elapsed, theirs.elapsed))
        self.report(cells, timings, time.monotonic() - t0)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def report(self, cells, timings, seconds):
        """Timings first, then the agreement table: meson shows the end of a failed test's log."""
        names = [t.name for t in self.accepted]
        width = max(len(n) for n in names)
        out = ["", "time to verdict where Postfix fails temporarily (seconds)",
               "%-*s  %-10s %7s %8s" % (width, "table", "state", "ours", "postfix")]
        for name, state, ours, theirs, timed_out in sorted(timings, key=lambda r: (r[1], r[0])):
            out.append("%-*s  %-10s %7.2f %8.2f%s" % (width, name, state, ours, theirs,
                                                        "  (no answer: oracle limit)" if timed_out else ""))
        worst = max((ours - theirs for _, _, ours, theirs, _ in timings), default=0.0)
        out.append("largest (ours - postfix): %+.2f s (allowed: %+.1f s)" % (worst, SLACK))
        states = [s[0] for s in STATES]
        out += ["", "verdict agreement (+ both healthy, - both unhealthy, ! disagree), %.0f s" % seconds,
                "%-*s  %s" % (width, "table", " ".join("%-10s" % s for s in states))]
        for n in names:
            row = []
            for s in states:
                agree, postfix_ok = cells[n, s]
                row.append("%-10s" % ("!" if not agree else "+" if postfix_ok else "-"))
            out.append(("%-*s  %s" % (width, n, " ".join(row))).rstrip())
        good = sum(agree for agree, _ in cells.values())
        out.append("agreement: %d/%d = %.1f%%" % (good, len(cells), 100.0 * good / len(cells)))
        sys.stderr.write("\n".join(out) + "\n")


if __name__ == "__main__":
    harness.main()

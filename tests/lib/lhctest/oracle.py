"""Postfix's own LDAP client as the oracle: `postmap -q KEY ldap:TABLE`.

postmap runs Postfix's real dict_ldap code on the same file and the same
server state as the probe under test, so its verdict is what Postfix would
have concluded.  Classification (each checked against a real slapd, see
tests/integration/test_oracle.py):

  found         exit 0, the value on stdout
  notfound      exit 1, no "fatal:" on stderr
  tempfail      "fatal: table ldap:...: query error", or no answer within
                the limit (Postfix does not bound every wait: TLS handshakes
                and SASL binds against a hung server block for ever)
  config-error  any other "fatal:" - postmap refused the file before querying
"""

import collections

from lhctest import proc

Verdict = collections.namedtuple("Verdict", "verdict elapsed returncode stdout stderr timed_out")


def find_postmap():
    return proc.find_program("postmap")


def classify(returncode, stderr):
    fatal = [line for line in stderr.splitlines() if "fatal:" in line]
    if returncode == 0 and not fatal:
        return "found"
    if any("table ldap:" in line and ": query error" in line for line in fatal):
        return "tempfail"
    if fatal:
        return "config-error"
    if returncode == 1:
        return "notfound"
    return "tempfail"  # killed by a signal or another unexpected end: no answer


def postmap_verdict(table_path, key, limit_seconds, verbose=False):
    """Run postmap with a wall-clock limit; return a Verdict. verbose: `postmap -v`, which
    prints every value it resolved (cfg_get_* lines) on stderr."""
    r = proc.run([find_postmap(), *(["-v"] if verbose else []), "-q", key, "ldap:" + table_path],
                 limit_seconds)
    verdict = "tempfail" if r.timed_out else classify(r.returncode, r.stderr)
    return Verdict(verdict, r.elapsed, r.returncode, r.stdout, r.stderr, r.timed_out)

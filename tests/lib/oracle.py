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
import os
import shutil
import signal
import subprocess
import time

Verdict = collections.namedtuple("Verdict", "verdict elapsed returncode stdout stderr timed_out")


def _die_with_parent():
    import slapd  # the helper lives there; imported late to keep this module light
    slapd.die_with_parent()


def find_postmap():
    return shutil.which("postmap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


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


def postmap_verdict(table_path, key, limit_seconds):
    """Run postmap with a wall-clock limit; return a Verdict."""
    t0 = time.monotonic()
    proc = subprocess.Popen([find_postmap(), "-q", key, "ldap:" + table_path],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(timeout=limit_seconds)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    elapsed = time.monotonic() - t0
    verdict = "tempfail" if timed_out else classify(proc.returncode, err)
    return Verdict(verdict, elapsed, proc.returncode, out, err, timed_out)

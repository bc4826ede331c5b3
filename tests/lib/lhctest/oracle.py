"""Postfix's own LDAP client as the oracle: `postmap -q KEY ldap:TABLE`.

postmap runs Postfix's real dict_ldap code on the same file and the same
server state as the probe under test, so its verdict is what Postfix would
have concluded.  Classification (each checked against a real slapd, see
tests/integration/test_oracle.py):

  found         exit 0, the value on stdout
  notfound      exit 1, no "fatal:" on stderr
  tempfail      "fatal: table ldap:...: query error", or no answer within
                the limit (Postfix does not bound every wait: SASL binds, and
                under libldap 2.5 TLS handshakes, against a hung server block
                for ever; see postmap_libldap())
  config-error  any other "fatal:" - postmap refused the file before querying
"""

import collections
import ctypes
import os
import re
import subprocess

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


def postmap_libldap():
    """(major, minor, patch) of the libldap that Postfix's LDAP client loads on this host,
    read from that very library (LDAP_OPT_API_INFO): the facts that differ between releases
    follow the installed library, not the build host or the release name."""
    shlib = subprocess.run(["postconf", "-h", "shlib_directory"], capture_output=True,
                           text=True, check=True).stdout.strip()
    module = os.path.join(shlib if shlib not in ("", "no") else "/usr/lib/postfix",
                          "postfix-ldap.so")
    ldd = subprocess.run(["ldd", module], capture_output=True, text=True, check=True).stdout
    path = re.search(r"libldap[^ ]*\.so[^ ]* => (\S+)", ldd).group(1)

    class APIInfo(ctypes.Structure):
        _fields_ = [("info_version", ctypes.c_int), ("api_version", ctypes.c_int),
                    ("protocol_version", ctypes.c_int),
                    ("extensions", ctypes.POINTER(ctypes.c_char_p)),
                    ("vendor_name", ctypes.c_char_p), ("vendor_version", ctypes.c_int)]

    lib = ctypes.CDLL(path)
    info = APIInfo(info_version=1)  # LDAP_API_INFO_VERSION
    if lib.ldap_get_option(None, 0x0000, ctypes.byref(info)) != 0:  # LDAP_OPT_API_INFO
        raise RuntimeError(f"{path}: LDAP_OPT_API_INFO failed")
    v = info.vendor_version
    return (v // 10000, v // 100 % 100, v % 100)


def postmap_bounds_tls_handshake():
    """libldap 2.6 ends an unanswered ldaps:// handshake at LDAP_OPT_NETWORK_TIMEOUT (the
    table's timeout) and goes on to the next URL; 2.5 waits for it for good."""
    return postmap_libldap() >= (2, 6, 0)

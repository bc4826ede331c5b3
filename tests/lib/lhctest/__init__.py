"""Support library of the ldap-health-check tests and benchmarks.

One package, found through PYTHONPATH=tests/lib (set by meson for every suite, and by
bench/run, tests/demo.sh, tests/package/clean-build and debian/tests where they run Python):

  lhctest.proc       running processes with a bounded wait; /proc samplers (CPU, memory, fds)
  lhctest.notify     a $NOTIFY_SOCKET: the sd_notify datagram listener
  lhctest.slapd      a throwaway slapd on loopback (`python3 -m lhctest.slapd serve DIR`)
  lhctest.tables     Postfix ldap_table(5) files for that slapd
  lhctest.oracle     Postfix's own client as the oracle: `postmap -q`
  lhctest.harness    the built binary: --once runs, the daemon, exit codes, SlapdTestCase
  lhctest.container  the debootstrap cache, the systemd-nspawn boot, nsenter, and the one
                     container lock (`python3 -m lhctest.container --help`)
  lhctest.mailhost   the mail host inside the container: slapd, Postfix with an LDAP table,
                     the guard with the test timings, and the systemd states scenarios watch

Python 3 standard library only.
"""

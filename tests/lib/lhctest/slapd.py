"""A throwaway slapd on loopback for integration tests and the demo.

One server listens on ldap:// (StartTLS too), ldaps:// and ldapi://, serves
dc=example,dc=com from an mdb database in a private temporary directory, and is
owned by the test: it runs in the foreground (`-d 0`), so the PID we hold is
slapd itself and hang()/resume()/stop() act on the real server.

Directory data (schemas core, cosine, nis, inetorgperson only):

  cn=admin,dc=example,dc=com                   rootdn, password ROOT_PW
  cn=postfix,ou=services,dc=example,dc=com     service account, password SERVICE_PW
  uid=alice,ou=people,dc=example,dc=com        mail=alice@example.com
  uid=bob,ou=people,dc=example,dc=com          mail=bob@example.com

Users are inetOrgPerson entries.  The lookup key is `mail`; two attributes
serve as Postfix result attributes, because the schemas we load have no
`maildrop`/`mailRoutingAddress`:
  uid          the local part, as an alias map would return it
  description  a mailbox path such as "example.com/alice/", as
               virtual_mailbox_maps returns it
Anonymous read is allowed on everything but userPassword, so `bind = no`
works.  SASL EXTERNAL over ldapi:// maps the calling Unix user to the rootdn.

Command line (used by tests/demo.sh and debian/tests/probe):
  python3 -m lhctest.slapd serve DIR
                        start a server in DIR, write DIR/env (shell syntax)
                        and DIR/table.cf, run until SIGTERM/SIGINT or until
                        slapd exits.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

from lhctest import proc

SUFFIX = "dc=example,dc=com"
ROOT_DN = "cn=admin," + SUFFIX
ROOT_PW = "root-secret"
SERVICE_DN = "cn=postfix,ou=services," + SUFFIX
SERVICE_PW = "Pf-Svc-Pw-7q3ZxK"
SCHEMA_DIR = "/etc/ldap/schema"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
MODULE_DIR = "/usr/lib/ldap"

USERS = (
    # (uid, mail, description = mailbox path)
    ("alice", "alice@example.com", "example.com/alice/"),
    ("bob", "bob@example.com", "example.com/bob/"),
)


_LIVE = set()  # Slapd objects not cleaned up yet, for the atexit hook


@atexit.register
def _cleanup_all():
    for server in list(_LIVE):
        server.cleanup()


def find_slapd():
    """Path of slapd (usually in /usr/sbin, which may not be on PATH)."""
    return proc.find_program("slapd")


def missing_tools():
    """Names of the programs this fixture needs that are not installed."""
    missing = []
    if not find_slapd():
        missing.append("slapd")
    for tool in ("ldapsearch", "ldapmodify", "openssl", "slapadd"):
        if not proc.find_program(tool):
            missing.append(tool)
    if not os.path.isdir(SCHEMA_DIR):
        missing.append(SCHEMA_DIR)
    return missing


def free_port():
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ClosedPort:
    """A loopback port held bound but never listening: connect() is refused.

    Used as the first of two servers when "the first server is down".  The
    socket stays bound for the lifetime of the object so no other process can
    take the port and turn the test into something else.
    """

    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = "ldap://127.0.0.1:%d/" % self.port

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run(argv, **kwargs):
    """Run a helper program with a bound wait; raise with its output on failure."""
    kwargs.setdefault("timeout", 30)
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if done.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (argv[0], done.returncode, done.stdout, done.stderr))
    return done


def make_certificates(directory):
    """A CA and a server certificate for 127.0.0.1, ::1 and localhost.

    EC keys: generating them takes milliseconds, RSA keys take much longer.
    Returns (ca_cert, server_cert, server_key) paths.
    """
    ca_key = os.path.join(directory, "ca.key")
    ca_crt = os.path.join(directory, "ca.crt")
    key = os.path.join(directory, "server.key")
    csr = os.path.join(directory, "server.csr")
    crt = os.path.join(directory, "server.crt")
    ext = os.path.join(directory, "server.ext")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2",
          "-subj", "/CN=ldap-health-check test CA",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    _run(["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"])
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost\n"
                "basicConstraints = CA:FALSE\n"
                "keyUsage = critical, digitalSignature, keyEncipherment\n"
                "extendedKeyUsage = serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
          "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext])
    os.chmod(key, 0o600)
    return ca_crt, crt, key


def _ldif():
    entries = [
        "dn: %s\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n" % SUFFIX,
        "dn: ou=services,%s\nobjectClass: organizationalUnit\nou: services\n" % SUFFIX,
        "dn: ou=people,%s\nobjectClass: organizationalUnit\nou: people\n" % SUFFIX,
        "dn: %s\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        "cn: postfix\nuserPassword: %s\n" % (SERVICE_DN, SERVICE_PW),
    ]
    for uid, mail, box in USERS:
        entries.append(
            "dn: uid=%s,ou=people,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
            "mail: %s\ndescription: %s\nuserPassword: %s-pw\n" % (uid, SUFFIX, uid, uid, uid, mail, box, uid))
    return "\n".join(entries)


class Slapd:
    """A slapd the test owns.  Use as a context manager:

        with Slapd() as ldap:
            ldap.url, ldap.starttls_url, ldap.ldaps_url, ldap.ldapi_url, ldap.ca_cert
            ldap.hang(); ldap.resume(); ldap.stop(); ldap.start()
    """

    def __init__(self, directory=None, debug="0", global_conf=()):
        """debug: slapd -d level ("256": one stats line per connection event and operation,
        in log()); global_conf: extra global slapd.conf lines, such as "idletimeout 1"."""
        self._debug = debug
        self._global_conf = list(global_conf)
        self._own_dir = directory is None
        self.dir = tempfile.mkdtemp(prefix="lhc-slapd-") if directory is None else directory
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.port:
            self.tls_port = free_port()
        self.ldapi_path = os.path.join(self.dir, "ldapi")
        self.url = "ldap://127.0.0.1:%d/" % self.port
        self.starttls_url = self.url  # StartTLS runs over the plain port
        self.ldaps_url = "ldaps://127.0.0.1:%d/" % self.tls_port
        self.ldapi_url = "ldapi://" + urllib.parse.quote(self.ldapi_path, safe="")
        self.log_path = os.path.join(self.dir, "slapd.log")
        self.proc = None
        self.start_seconds = None
        self.hung = False
        _LIVE.add(self)
        self._configure()

    # -- setup -------------------------------------------------------------

    def _configure(self):
        self.ca_cert, self.server_cert, self.server_key = make_certificates(self.dir)
        self.db_dir = os.path.join(self.dir, "db")
        os.makedirs(self.db_dir, exist_ok=True)
        self.conf_path = os.path.join(self.dir, "slapd.conf")
        # The peercred identity is that of whoever runs the test (root in CI).
        # "." stands for the "+": slapd.conf's tokenizer eats a backslash escape.
        peercred = r"^gidNumber=%d.uidNumber=%d,cn=peercred,cn=external,cn=auth$" % (os.getgid(), os.getuid())
        lines = ["include %s/%s.schema" % (SCHEMA_DIR, s) for s in SCHEMAS]
        lines += [
            "pidfile %s/slapd.pid" % self.dir,
            "argsfile %s/slapd.args" % self.dir,
            "modulepath " + MODULE_DIR,
            "moduleload back_mdb",
            "TLSCACertificateFile " + self.ca_cert,
            "TLSCertificateFile " + self.server_cert,
            "TLSCertificateKeyFile " + self.server_key,
            'authz-regexp "%s" "%s"' % (peercred, ROOT_DN),
            *self._global_conf,
            "database mdb",
            'suffix "%s"' % SUFFIX,
            'rootdn "%s"' % ROOT_DN,
            "rootpw " + ROOT_PW,
            "directory " + self.db_dir,
            "maxsize 16777216",
            "access to attrs=userPassword by self write by anonymous auth by * none",
            'access to * by dn.exact="%s" read by * read' % SERVICE_DN,
        ]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        ldif = os.path.join(self.dir, "data.ldif")
        with open(ldif, "w") as f:
            f.write(_ldif())
        _run(["slapadd", "-q", "-f", self.conf_path, "-l", ldif],
             env=dict(os.environ, PATH=os.environ.get("PATH", "") + ":/usr/sbin"))

    # -- life cycle --------------------------------------------------------

    def start(self, timeout=10.0):
        """Start slapd and return once it answers an LDAP bind."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("slapd already running")
        t0 = time.monotonic()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [find_slapd(), "-d", self._debug, "-h", " ".join([self.url, self.ldaps_url, self.ldapi_url]),
             "-f", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, preexec_fn=proc.die_with_parent)
        log.close()
        self.hung = False
        self._wait_ready(t0 + timeout)
        self.start_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline):
        delay = 0.005
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("slapd exited with %d:\n%s" % (self.proc.returncode, self.log()))
            if anonymous_bind_ok("127.0.0.1", self.port, timeout=1.0) and os.path.exists(self.ldapi_path):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("slapd not ready in time:\n" + self.log())
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def stop(self, timeout=10.0):
        """SIGTERM and wait; SIGKILL if it does not go in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.hung:  # a stopped process only acts on SIGTERM once continued
                self.proc.send_signal(signal.SIGCONT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.hung = False

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.hung = False

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def hang(self):
        """SIGSTOP: TCP connects still succeed (the kernel accepts), nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)
        self.hung = True
        # Delivery is asynchronous: without this wait a client started right
        # away may still be served by threads that have not stopped yet.
        proc.wait_until(lambda: proc.all_threads_in_state(self.proc.pid, "T"), 5.0, "slapd to stop")

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.hung = False
        proc.wait_until(lambda: not proc.all_threads_in_state(self.proc.pid, "T"), 5.0,
                        "slapd to continue")

    def cleanup(self):
        _LIVE.discard(self)
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- data --------------------------------------------------------------

    def ldapmodify(self, ldif, add=False):
        """Apply LDIF as the rootdn through ldapi:// SASL EXTERNAL (add: entries without
        changetype are added)."""
        _run(["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", self.ldapi_url, *(["-a"] if add else [])],
             input=ldif, timeout=10)

    def change_password(self, dn, new_password):
        """Replace userPassword of dn."""
        self.ldapmodify("dn: %s\nchangetype: modify\nreplace: userPassword\nuserPassword: %s\n"
                        % (dn, new_password))

    def ldapsearch(self, *args):
        """ldapsearch as the rootdn over ldapi://; returns stdout."""
        return _run(["ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", self.ldapi_url, *args], timeout=10).stdout


def _ber_len(data):
    return bytes([len(data)]) if len(data) < 128 else bytes([0x81, len(data)])


def anonymous_bind_ok(host, port, timeout):
    """True when an LDAPv3 anonymous simple bind on host:port succeeds.

    A raw request instead of ldapsearch: a poll is then a few hundred
    microseconds rather than a process start.
    """
    bind = b"\x02\x01\x03\x04\x00\x80\x00"  # version 3, name "", simple ""
    op = b"\x60" + _ber_len(bind) + bind
    msg = b"\x02\x01\x01" + op
    request = b"\x30" + _ber_len(msg) + msg
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(request)
            reply = b""
            while len(reply) < 14:
                chunk = s.recv(64)
                if not chunk:
                    return False
                reply += chunk
    except OSError:
        return False
    # 30 0c 02 01 01 61 07 0a 01 <resultCode> ...
    return reply[5] == 0x61 and reply[7] == 0x0A and reply[9] == 0


def _serve(directory):
    """Run a server in `directory` for the demo until told to stop."""
    from lhctest import tables  # tables imports this module: not at the top

    server = Slapd(directory)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    try:
        server.start()
        table = tables.write_table(os.path.join(directory, "table.cf"), tables.bind_yes(server))
        env = os.path.join(directory, "env")
        fd = os.open(env + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("SLAPD_PID=%d\nSLAPD_URL=%s\nSLAPD_LDAPS_URL=%s\nSLAPD_LDAPI_URL=%s\nSLAPD_CA=%s\n"
                    "SLAPD_SERVICE_DN='%s'\nSLAPD_SERVICE_PW='%s'\nSLAPD_TABLE=%s\nSLAPD_START_SECONDS=%.3f\n"
                    % (server.pid, server.url, server.ldaps_url, server.ldapi_url, server.ca_cert,
                       SERVICE_DN, SERVICE_PW, table, server.start_seconds))
        os.rename(env + ".tmp", env)  # whoever polls for env sees it whole
        while not stop and server.running():
            time.sleep(0.1)
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(_serve(sys.argv[2]))
    sys.stderr.write("usage: python3 -m lhctest.slapd serve DIR\n")
    sys.exit(64)

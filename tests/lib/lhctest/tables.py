"""Postfix ldap_table(5) files for a test Slapd, one builder per scenario.

Each builder returns an ordered dict of parameters; write_table() turns it into
a .cf file of mode 0640, the mode a mail admin gives a file holding bind_pw.
TLS URLs always name 127.0.0.1: libldap replaces "localhost" with the host
name, and the certificate check would then fail for a reason no test means.

All tables look up `mail` under ou=people and return `description` (the
mailbox path, see lhctest/slapd.py); FOUND_KEY exists, NOTFOUND_KEY does not.
"""

import os
import time

from lhctest import slapd

FOUND_KEY = "alice@example.com"
FOUND_VALUE = "example.com/alice/"
NOTFOUND_KEY = "nobody@example.com"


def base(server_host, timeout=5):
    return {
        "server_host": server_host,
        "search_base": "ou=people," + slapd.SUFFIX,
        "scope": "sub",
        "query_filter": "(mail=%s)",
        "result_attribute": "description",
        "timeout": str(timeout),
    }


def _with(params, **extra):
    params.update(extra)
    return params


def anonymous(server, timeout=5):
    """Plain ldap://, no bind (`bind = no`): anonymous read."""
    return _with(base(server.url, timeout), bind="no")


def bind_yes(server, password=slapd.SERVICE_PW, timeout=5):
    """Plain ldap://, simple bind as the service account."""
    return _with(base(server.url, timeout), bind="yes", bind_dn=slapd.SERVICE_DN, bind_pw=password)


plain = bind_yes


def wrong_password(server, password="Wrong-Pw-Not-Svc-9", timeout=5):
    return bind_yes(server, password, timeout)


def wrong_base(server, timeout=5):
    return _with(bind_yes(server, timeout=timeout), search_base="ou=nowhere," + slapd.SUFFIX)


def starttls(server, timeout=5):
    return _with(bind_yes(server, timeout=timeout), start_tls="yes", version="3",
                 tls_ca_cert_file=server.ca_cert, tls_require_cert="yes")


def ldaps(server, timeout=5):
    p = bind_yes(server, timeout=timeout)
    p["server_host"] = server.ldaps_url
    return _with(p, tls_ca_cert_file=server.ca_cert, tls_require_cert="yes")


def ldapi_external(server, timeout=5):
    return _with(base(server.ldapi_url, timeout), bind="sasl", sasl_mechs="EXTERNAL")


def closed_port(server, closed, timeout=5):
    """`closed` is a slapd.ClosedPort: connect() is refused."""
    p = bind_yes(server, timeout=timeout)
    p["server_host"] = closed.url
    return p


def two_servers_first_down(server, closed, timeout=5):
    p = bind_yes(server, timeout=timeout)
    p["server_host"] = "%s %s" % (closed.url, server.url)
    return p


def version2(server, timeout=5):
    return _with(bind_yes(server, timeout=timeout), version="2")


def render(params):
    """The text of a table: `name = value` lines in order, after a comment."""
    return "# written by lhctest.tables\n" + "".join("%s = %s\n" % kv for kv in params.items())


def write_table(path, params, mode=0o640):
    """Write render(params) to path; return the path."""
    return write_file(path, render(params), mode)


def write_file(path, text, mode=0o640):
    """Write a table's text as it is (line ends included); return the path."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", newline="") as f:
        f.write(text)
    os.chmod(path, mode)
    # Postfix (dict_load_file) waits, sleeping a second at a time, until a file
    # it loads is older than two seconds; an hour-old mtime keeps postmap fast.
    age = time.time() - 3600
    os.utime(path, (age, age))
    return path


def set_parameter(path, name, value):
    """Rewrite (or append) the `name = ...` line of a table; return its line number."""
    with open(path) as f:
        lines = f.read().splitlines()
    numbers = [n for n, line in enumerate(lines, 1) if line.split("=", 1)[0].strip() == name]
    if numbers:
        number = numbers[0]
        lines[number - 1] = "%s = %s" % (name, value)
    else:
        lines.append("%s = %s" % (name, value))
        number = len(lines)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return number

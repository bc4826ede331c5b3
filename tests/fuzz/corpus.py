#!/usr/bin/env python3
"""Seed corpus for the fuzz targets, and the replay the test suite runs.

  corpus.py write DIR                 DIR/table/ and DIR/expand/ seed files
  corpus.py replay TABLE_BIN EXPAND_BIN
                                      feed the seeds and every kept crasher
                                      (regressions/<target>/) to replay binaries

Table seeds are realistic ldap_table(5) files: conf/*.cf, every table the
integration tests write (lhctest.tables, rendered as write_table() does),
tests/conformance/ when it exists, and a few hand-made edge cases of the lexer.
Expander seeds are "template NUL key NUL search_base NUL result_format NUL domain"
(see fuzz_expand.cpp), made from the templates those tables use and typical keys.
"""

import hashlib
import os
import subprocess
import sys
import tempfile

from lhctest import tables

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

TARGETS = ("table", "expand")

# The lexer's corners: continuations, comments inside them, a leading-blank block,
# repeated names, CRLF, "name =" with no value, bad numbers and booleans, sasl.
EDGE_TABLES = [
    "server_host = ldap://a/\n  ldap://b/\n# comment inside\n\tldap://c/\nsearch_base = dc=x\n",
    "  leading = blank block\nserver_host = h1, h2:1389\tldapi://%2Frun%2Fslapd%2Fldapi\n",
    "bind_pw = one\nbind_pw = two\nbind_pw = two\nbind = sasl\nsasl_mechs = EXTERNAL\nsasl_minssf = 4097\n",
    "server_host = ldap://h/\r\nversion = 2\r\nstart_tls = yes\r\ntimeout = 0x10\r\n",
    "search_base =\nquery_filter = (&(uid=%u)(dc=%1)(dc=%9))\nresult_format = %D %%\ndomain = a.com, !b.com hash:/x\n",
    "scope = ONE\nbind = Simple\ncache = YES\ncache_size = 12\ndereference = 7\nsize_limit = -1\n",
    "bind_pw:no-equals-sign\n",
    "= no name\n",
    "version = 99999999999\n",
    "query_filter = (uid=%x)\n",
    "result_filter =\nresult_format =\n",
    "server_host = ldaps://[::1]:636/ ldap://h/??sub?(x=y) ldap:///dc=x%3\n",
    "# only a comment\n\n   \n",
    "unknown_parameter = 1\ntls_cipher_suite = HIGH\nrecursion_limit = 0\n",
    # A NUL ends the logical line for Postfix (split_nameval() takes a C string): in a name,
    # in a value, before a continuation, at the start of a line, alone on a continuation line.
    "server_host = ldap://h/\nbind_dn\0 = cn=x\n",
    "search_base = dc=a \0,dc=b\n  ,dc=c\nversion = 3\n",
    "\0search_base = x\n",
    "search_base = dc=a\n  \0\n  ,dc=b\n\0\n",
    # Control bytes that a message quoting a value would carry to the log.
    "scope = sub\x01\nbind = \x1b[31myes\n",
    "server_host = ldap://h\x7f/\x0b\nquery_filter = (uid=%s\x00)\nresult_format = \x08%s\n",
    # A password that slipped onto a line of its own, bare and looking like a name.
    "bind = yes\nbind_dn = cn=x\nbind_pw = \\\nS3cret-Own-Line\n",
    "bind_pw = \\\nbind_pw_is_this\nversion = 3\n",
]

TEMPLATES = ["%s", "%S", "%u", "%U", "%d", "%D", "%1", "%9", "%%", "%", "%x", "(mail=%s)",
             "(&(objectClass=inetOrgPerson)(|(mail=%s)(uid=%u)))", "uid=%u,ou=%d,dc=%2,dc=%1",
             "ou=people,dc=example,dc=com", "%u@%d %% %1.%2.%3"]
KEYS = ["alice@example.com", "Bob@Example.COM", "ldap-health-check@example.com",
        "user@sub.example.co.uk", "@example.com", "nodomain", "x@", "a*b(c)\\d@x.y",
        "tab\tand space, #+;<>\"@dom.example", "\xfc@b\u00e4d.example", ""]


class FakeServer:
    """What tables.py reads from a slapd.Slapd, without starting one."""

    url = "ldap://127.0.0.1:3890/"
    starttls_url = url
    ldaps_url = "ldaps://127.0.0.1:6360/"
    ldapi_url = "ldapi://%2Ftmp%2Flhc-slapd%2Fldapi"
    ca_cert = "/tmp/lhc-slapd/ca.pem"


class FakeClosed:
    url = "ldap://127.0.0.1:1/"


def table_texts():
    texts = []
    for path in sorted(os.listdir(os.path.join(REPO, "conf"))):
        if path.endswith(".cf"):
            with open(os.path.join(REPO, "conf", path), "rb") as f:
                texts.append(f.read())
    server, closed = FakeServer(), FakeClosed()
    for build in (tables.anonymous, tables.bind_yes, tables.wrong_password, tables.wrong_base,
                  tables.starttls, tables.ldaps, tables.ldapi_external, tables.version2):
        texts.append(tables.render(build(server)).encode())
    for build in (tables.closed_port, tables.two_servers_first_down):
        texts.append(tables.render(build(server, closed)).encode())
    conformance = os.path.join(REPO, "tests", "conformance")
    for root, _, files in sorted(os.walk(conformance)):
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.getsize(path) <= 65536:
                with open(path, "rb") as f:
                    texts.append(f.read())
    texts += [t.encode() for t in EDGE_TABLES]
    return texts


def parameters(text):
    """name -> value, roughly as the lexer reads them (enough to pick templates out)."""
    params = {}
    for line in text.decode(errors="replace").splitlines():
        name, eq, value = line.partition("=")
        if eq and not line[:1].isspace() and not line.startswith("#"):
            params[name.strip()] = value.strip()
    return params


def expand_inputs(texts):
    inputs = []
    for tmpl in TEMPLATES:
        for key in KEYS[:4] + KEYS[-4:]:
            inputs.append("\0".join([tmpl, key]))
    for text in texts:
        p = parameters(text)
        if "query_filter" not in p and "search_base" not in p:
            continue
        for key in KEYS:
            inputs.append("\0".join([p.get("query_filter", "(mailacceptinggeneralid=%s)"), key,
                                     p.get("search_base", ""), p.get("result_format", ""),
                                     p.get("domain", "")]))
    return [i.encode() for i in inputs]


def write(directory):
    """Write the seeds, named by content like libFuzzer does; return {target: count}."""
    texts = table_texts()
    seeds = {"table": texts, "expand": expand_inputs(texts)}
    counts = {}
    for target, inputs in seeds.items():
        out = os.path.join(directory, target)
        os.makedirs(out, exist_ok=True)
        names = set()
        for data in inputs:
            name = hashlib.sha1(data).hexdigest()
            names.add(name)
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        counts[target] = len(names)
    return counts


def replay(binaries):
    failed = False
    with tempfile.TemporaryDirectory(prefix="lhc-fuzz-seeds-") as tmp:
        write(tmp)
        for target, binary in zip(TARGETS, binaries):
            inputs = [os.path.join(tmp, target)]
            regressions = os.path.join(HERE, "regressions", target)
            if os.path.isdir(regressions):
                inputs.append(regressions)
            result = subprocess.run([binary, *inputs],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            print("%s: %s" % (target, result.stdout.strip()))
            failed |= result.returncode != 0
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "write":
        for target, n in write(argv[2]).items():
            print("%s: %d seeds" % (target, n))
        return 0
    if len(argv) == 4 and argv[1] == "replay":
        return replay(argv[2:])
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))

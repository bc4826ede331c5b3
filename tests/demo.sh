#!/bin/sh
# The README's demo: build ldap-health-check, start a throwaway slapd on
# loopback, watch it with the daemon, then take slapd away and show the daemon
# give up with exit code 69 (EX_UNAVAILABLE), the code systemd acts on.
#
# On a fresh Debian 12 it installs what it needs first (needs root or sudo).
# Nothing outside the source tree and one temporary directory is touched.
set -eu

cd "$(dirname "$0")/.."
repo=$(pwd)
packages="meson ninja-build g++ pkg-config libsystemd-dev libldap-dev libboost-program-options-dev
libsasl2-dev libgtest-dev libgmock-dev scdoc slapd ldap-utils postfix-ldap libsasl2-modules openssl python3"

say() { printf '\n== %s\n' "$*"; }

missing_packages() {
    for p in $packages; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

install_dependencies() {
    missing=$(missing_packages)
    [ -z "$missing" ] && return 0
    say "installing: $(echo "$missing" | tr '\n' ' ')"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update
    # shellcheck disable=SC2086 # word splitting of the package list is wanted
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
}

workdir=""
serve_pid=""
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [ -n "$workdir" ] && rm -rf "$workdir"
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_dependencies

say "building into build/"
[ -f build/build.ninja ] || meson setup build
ninja -C build src/ldap-health-check
binary=$repo/build/src/ldap-health-check

say "starting a throwaway slapd on 127.0.0.1"
workdir=$(mktemp -d /tmp/lhc-demo-XXXXXX)
PATH=$PATH:/usr/sbin PYTHONPATH=$repo/tests/lib PYTHONDONTWRITEBYTECODE=1 \
    python3 -m lhctest.slapd serve "$workdir/slapd" &
serve_pid=$!
tries=0
until [ -f "$workdir/slapd/env" ]; do
    tries=$((tries + 1))
    if [ $tries -gt 100 ] || ! kill -0 "$serve_pid" 2>/dev/null; then
        echo "slapd did not come up" >&2
        exit 1
    fi
    sleep 0.1
done
# shellcheck source=/dev/null # written by lhctest.slapd serve
. "$workdir/slapd/env"
echo "slapd pid $SLAPD_PID at $SLAPD_URL, ready in ${SLAPD_START_SECONDS} s"

say "the table: conf/example-users.cf pointed at that slapd"
table=$workdir/users.cf
sed -e "s|^server_host = .*|server_host = $SLAPD_URL|" \
    -e "s|^tls_ca_cert_file = .*|tls_ca_cert_file = $SLAPD_CA|" \
    -e "s|^bind_pw = .*|bind_pw = $SLAPD_SERVICE_PW|" \
    conf/example-users.cf >"$table"
chmod 0640 "$table"
grep -v -e '^#' -e '^$' "$table" | sed -e 's/^bind_pw = .*/bind_pw = (hidden)/'
printf 'postmap -q alice@example.com says: '
postmap -q alice@example.com "ldap:$table" || true

say "ldap-health-check --debug --interval 1 (a few good probes)"
# timeout(1) only bounds the demo should the daemon misbehave.
timeout 60 "$binary" --conffile "$table" --debug --interval 1 --retry-interval 1 --failures 3 \
    --probe-key alice@example.com &
daemon_pid=$!
sleep 4

say "stopping slapd: the outage"
kill "$SLAPD_PID"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=""
say "ldap-health-check exited with $status (69 = LDAP unavailable)"
[ "$status" -eq 69 ]

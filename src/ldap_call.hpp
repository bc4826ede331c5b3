// One libldap call and its outcome: the result code and diagnostic of a step, the bounded
// wait for an answer, and the waits a table's timeout sets, as Postfix passes it to libldap.
#pragma once

#include "clock.hpp"

#include <ldap.h>
#include <string>
#include <sys/time.h>

namespace lhc {

struct LdapTable;

// What one step of a probe came to: LDAP_SUCCESS, or the result code with the server's (or
// libldap's) diagnostic message.
struct Step {
    int rc = LDAP_SUCCESS;
    std::string diagnostic;
    bool ok() const { return rc == LDAP_SUCCESS; }
};

// The waits of a connection, from its table.
struct Waits {
    explicit Waits(const LdapTable &t);
    timeval timeout; // the table's own value, where Postfix passes it to libldap
    timeval bound;   // the bound of every wait Postfix leaves unbounded (always > 0)
    // The wait for the answer to a search or a simple bind. Postfix's dict_ldap_result() waits
    // with the raw timeout. libldap reads -1 as "forever"; below -1 it polls without end for
    // the first message and times out on any later one (LdapTable::finds_time_out(), which the
    // verdict applies to every kind of round: a kept round collected by the caller's loop polls
    // with a zero wait and would miss it). Ours ends.
    timeval result;
};

// `tv`, or `d` when that is shorter.
timeval shorter(timeval tv, Duration d);

// The connection's descriptor, or -1.
int descriptor_of(LDAP *ld);
// The last error libldap recorded on the handle: its result code and diagnostic message.
int error_of(LDAP *ld);
std::string diagnostic_of(LDAP *ld);

// Waits for the answer to `msgid` at most `timeout`, like Postfix's dict_ldap_result();
// abandons the operation when none came. `*res` is the caller's to free.
Step await_result(LDAP *ld, int msgid, timeval timeout, LDAPMessage **res);

// The result code of an answer (the server's, when libldap could read it); frees `res`.
Step parse_result(LDAP *ld, LDAPMessage *res);

} // namespace lhc

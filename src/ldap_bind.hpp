// The bind of a new connection as Postfix makes it: simple (bind = yes) with bind_dn and
// bind_pw, or SASL (bind = sasl) with Cyrus SASL's prompts answered from the table.
#pragma once

#include "ldap_call.hpp"

namespace lhc {

struct LdapTable;

// bind = yes: the answer is awaited for at most `waits.result`.
Step bind_simple(LDAP *ld, const LdapTable &t, const Waits &waits);

// bind = sasl: the asynchronous form of ldap_sasl_interactive_bind_s(), so that every round
// trip is bounded by `waits.bound` (Postfix's synchronous call is not, and hangs on a stopped
// server).
Step bind_sasl(LDAP *ld, const LdapTable &t, const Waits &waits);

} // namespace lhc

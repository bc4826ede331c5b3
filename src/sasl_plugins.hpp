// libldap starts Cyrus SASL with its first handle, and SASL then loads every mechanism plugin
// installed (each a shared library, some pulling in libcrypto): a large part of what a one-shot
// probe costs in CPU and memory. A process that never binds with SASL uses none of them.
#pragma once

#include "ldap_table.hpp"

#include <vector>

namespace lhc {

// True when a table binds with SASL (bind = sasl): its mechanisms come from the plugins.
bool any_sasl_bind(const std::vector<LdapTable> &tables);

// Starts SASL's client side with no mechanism plugin loaded, quietly (a plugin left out is
// not an error, so nothing is logged). libldap's own start later finds SASL running and leaves
// it so. Call before the first libldap handle, before any thread, and only in a process that
// will not bind with SASL: its plugins are never loaded afterwards. Should SASL not start
// here, libldap starts it as before.
void start_sasl_without_plugins();

} // namespace lhc

// Which connections and searches a round makes: tables with identical connection settings
// share one connection (as Postfix shares them), identical searches are sent once, and each
// query is expanded for the probe key.
#pragma once

#include "ldap_table.hpp"
#include "log.hpp"

#include <string>
#include <vector>

namespace lhc {

// One search on a connection, with the tables it stands for.
struct SearchPlan {
    std::string tables;
    std::string base;
    Scope scope = Scope::sub;
    std::string filter;
    bool dynamic_base = false; // a missing base is "not found", not a failure (Postfix)
    std::vector<std::string> attributes;
    int size_limit = 0;
};

// Tables with identical connection settings share one connection per round.
struct ConnectionPlan {
    LdapTable settings; // connection parameters of the first table in the group
    std::vector<std::string> urls;
    std::vector<SearchPlan> searches;
    std::string init_error; // libldap refuses the URL list: every round fails, as in Postfix

    bool uses_tls() const; // StartTLS or an ldaps:// URL: the tls_* settings apply
};

// Groups tables by connection settings and expands each query with the probe key
// (`probe_key` empty: a per-table default for which Postfix really sends a query).
std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log);

} // namespace lhc

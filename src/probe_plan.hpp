// Which connections and searches a round makes: tables with identical connection settings
// share one connection (as Postfix shares them), identical searches are sent once, and each
// query is expanded for the probe key.
#pragma once

#include "canary.hpp"
#include "ldap_table.hpp"
#include "log.hpp"

#include <memory>
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
    // --canary: the lookup must return a value (result_values.hpp) by the rules of
    // `canary_table`, for `canary_key` (folded). Null for a plain probe search.
    std::shared_ptr<const LdapTable> canary_table;
    std::string canary_key;

    // The value may need follow-up searches (special_result_attribute), which only a
    // thread can wait for.
    bool needs_follow_ups() const;
};

// Tables with identical connection settings share one connection per round.
struct ConnectionPlan {
    LdapTable settings; // connection parameters of the first table in the group
    std::vector<std::string> urls;
    std::vector<SearchPlan> searches;
    std::string init_error; // libldap refuses the URL list: every round fails, as in Postfix

    bool uses_tls() const; // StartTLS or an ldaps:// URL: the tls_* settings apply
    bool needs_follow_ups() const;
};

// Groups tables by connection settings and expands each query with the probe key
// (`probe_key` empty: a per-table default for which Postfix really sends a query).
// Each canary adds its search to the connection of its table (or makes the table's own search,
// when that is the same, a canary).
std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log,
                                        const std::vector<Canary> &canaries = {});

// What is wrong with a canary, or "": its table is not watched, or Postfix would never send a
// query for its key (domain, % expansions), so it could never be found.
std::string canary_problem(const std::vector<LdapTable> &tables, const Canary &canary);

} // namespace lhc

// What Postfix's dict_ldap_get_values() makes of a search's entries: the value `postmap -q`
// prints, or nothing ("not found"), or a temporary failure. A canary (--canary) needs this,
// because Postfix calls a search that finds an entry without a usable result attribute "not
// found" just as one that finds nothing. It follows special_result_attribute (a DN: a base
// search; an LDAP URL: its search), honours leaf_result_attribute and
// terminal_result_attribute, and fails at recursion_limit, expansion_limit and size_limit, as
// Postfix does.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lhc {

struct LdapTable;

// One entry of a search result: its attributes in the server's order.
struct ResultEntry {
    std::string dn;
    std::vector<std::pair<std::string, std::vector<std::string>>> attributes;
};

// A search's outcome as Postfix's search_st() reports it: the result code (the server's
// when the search itself succeeded) and the entries.
struct SearchAnswer {
    int rc = 0;
    std::string diagnostic;
    std::vector<ResultEntry> entries;
};

// Where the follow-up searches of special_result_attribute go: the lookup's own connection.
class FollowUpSearches {
  public:
    virtual ~FollowUpSearches() = default;
    // `scope` is libldap's LDAP_SCOPE_*.
    virtual SearchAnswer search(const std::string &base, int scope, const std::string &filter,
                                const std::vector<std::string> &attributes) = 0;
};

struct LookupValue {
    bool failed = false; // a temporary failure: Postfix would defer, not reject
    int rc = 0;          // the LDAP result code of a failed follow-up search, else 0
    std::string why;     // what failed
    std::string value;   // Postfix's result, "" for "not found"
    int searches = 0;    // follow-up searches made
};

// Postfix's result attribute list: terminal, leaf, ordinary, special (dict_ldap_open()).
std::vector<std::string> postfix_result_attributes(const LdapTable &table);

// The value Postfix's lookup of `key` (already folded) returns, from the entries of the
// table's own search.
LookupValue lookup_value(const LdapTable &table, std::string_view key, const SearchAnswer &top,
                         FollowUpSearches &follow);

} // namespace lhc

// The % expansions of query_filter and search_base, as Postfix's db_common_expand() does them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lhc {

struct LdapTable;

enum class Escape {
    filter, // RFC 4515, for query_filter
    dn,     // RFC 4514, for search_base
};

// Throws ConfigError-free std::invalid_argument("...") for a template Postfix refuses
// (bad % sequence); load_ldap_table() turns that into file:line.
void validate_template(std::string_view tmpl);

// The expansion of `tmpl` for `key`, or nullopt where Postfix skips the query
// (e.g. %d and a key with no domain, %3 and too few labels, empty local part for %u).
std::optional<std::string> expand_template(std::string_view tmpl, std::string_view key,
                                           Escape escape);

// Would Postfix send a query for `key` at all? (domain restriction, key shape, expansions)
bool would_query(const LdapTable &table, std::string_view key);

// A probe key for which Postfix does send a real query to this table: satisfies `domain`
// (takes a literal domain from the list when there is one), %d and %1-%9.
std::string default_probe_key(const LdapTable &table);

// True when search_base contains a key-dependent expansion (Postfix then treats a missing
// base as "not found" instead of a temporary failure).
bool has_dynamic_base(const LdapTable &table);

} // namespace lhc

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

// Throws ConfigError("...") without a file for a template Postfix refuses (bad % sequence);
// load_ldap_table() turns that into file:line.
void validate_template(std::string_view tmpl);

// db_common_parse()'s result: does the template use the key at all? (%% does not count.)
bool is_dynamic_template(std::string_view tmpl);

// The expansion of `tmpl` for `key`, or nullopt where Postfix skips the query
// (e.g. %d and a key with no domain, %3 and too few labels, empty local part for %u).
std::optional<std::string> expand_template(std::string_view tmpl, std::string_view key,
                                           Escape escape);

// Would Postfix send a query for `key` at all? (domain restriction, key shape, expansions)
bool would_query(const LdapTable &table, std::string_view key);

// A probe key for which Postfix does send a real query to this table: satisfies `domain`
// (takes a literal domain from the list when there is one), %d and %1-%9.
std::string default_probe_key(const LdapTable &table);

// Postfix's quoting of one expanded value: rfc2254_quote() (filter: * ( ) \\ as \\XX) or
// rfc2253_quote() (dn: blank, tab, " # + , ; < > \\ as \\XX).
std::string escape_value(std::string_view value, Escape escape);

// Postfix's DICT_FLAG_FOLD_FIX, which every Postfix map user (and postmap -q) sets: the lookup
// key is lowercased before the domain check and the expansions. ASCII only: Postfix casefolds
// non-ASCII UTF-8 as well when SMTPUTF8 is on; we do not.
std::string fold_key(std::string_view key);

// The search dict_ldap_lookup() sends for `key`, after folding, the domain check and both
// expansions with the skip rules of the whole table (Postfix shares one context between
// search_base, query_filter and result_format: a %D in result_format also suppresses queries
// for keys without a domain). nullopt where Postfix sends nothing. would_query() is
// expand_query().has_value(); the probe uses the strings.
struct LdapQuery {
    std::string base;
    std::string filter;
};
std::optional<LdapQuery> expand_query(const LdapTable &table, std::string_view key);

// db_common_expand() of result_format for one attribute value of the lookup of `key` (folded):
// nullopt where Postfix skips the value (empty, or without the parts the template needs).
// Results are not quoted.
std::optional<std::string> expand_result(const LdapTable &table, std::string_view value,
                                         std::string_view key);

// True when search_base contains a key-dependent expansion (Postfix then treats a missing
// base as "not found" instead of a temporary failure).
bool has_dynamic_base(const LdapTable &table);

} // namespace lhc

// db_common_parse()/db_common_expand()/db_common_check_domain() and dict_ldap's quoting.
#include "query_expand.hpp"

#include "config_error.hpp"
#include "ldap_table.hpp"
#include "utf8.hpp"

#include <algorithm>
#include <vector>

namespace lhc {
namespace {

// What db_common_parse() records in its shared context: which key parts a query needs.
struct Needs {
    bool key_domain = false;
    bool key_user = false;
    int nparts = 0;                                // highest %1..%9
    bool dynamic = false;                          // any key-dependent expansion
    bool value_user = false, value_domain = false; // result_format's %u, %d
};

// db_common_parse(): `query` is false for result_format, where %u/%d refer to the LDAP result
// and do not constrain the key, but %U/%D/%1-%9 still do.
void scan(std::string_view tmpl, bool query, Needs &needs) {
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '%')
            continue;
        char c = ++i < tmpl.size() ? tmpl[i] : '\0';
        if (c == '%')
            continue;
        if (c >= '1' && c <= '9')
            needs.nparts = std::max(needs.nparts, c - '0');
        needs.value_user |= !query && c == 'u';
        needs.value_domain |= !query && c == 'd';
        if (c == 'u' || c == 'U')
            needs.key_user |= query || c == 'U';
        else if (c == 'd' || c == 'D' || (c >= '1' && c <= '9'))
            needs.key_domain |= query || c != 'd';
        else if (c != 's' && c != 'S')
            throw ConfigError(c ? std::string("invalid %") + c + " in template"
                                : std::string("template ends in a lone %"));
        needs.dynamic = true;
    }
}

// mystrtok() semantics: empty labels ("a..b", ".a") do not count.
std::vector<std::string_view> labels(std::string_view domain) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= domain.size()) {
        std::size_t dot = domain.find('.', start);
        std::size_t end = dot == std::string_view::npos ? domain.size() : dot;
        if (end > start)
            out.push_back(domain.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

struct KeyParts {
    std::string_view user, domain;
    bool has_domain = false;
    std::vector<std::string_view> labels;
};

// The query-side skip rules of db_common_expand().
std::optional<KeyParts> split_key(std::string_view key, const Needs &needs) {
    if (key.empty())
        return std::nullopt; // "empty query string -- ignored"
    KeyParts parts{key, {}, false, {}};
    std::size_t at = key.rfind('@');
    if ((needs.key_domain || needs.key_user) && at != std::string_view::npos)
        parts = KeyParts{key.substr(0, at), key.substr(at + 1), true, {}};
    if (needs.key_domain && parts.domain.empty())
        return std::nullopt;
    if (needs.key_user && parts.has_domain && at == 0)
        return std::nullopt;
    if (needs.nparts > 0) {
        parts.labels = labels(parts.domain);
        if (static_cast<int>(parts.labels.size()) < needs.nparts)
            return std::nullopt;
    }
    return parts;
}

std::string substitute(std::string_view tmpl, std::string_view key, const KeyParts &parts,
                       Escape escape) {
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '%') {
            out += tmpl[i];
            continue;
        }
        char c = tmpl[++i];
        if (c == '%')
            out += '%';
        else if (c == 's' || c == 'S')
            out += escape_value(key, escape);
        else if (c == 'u' || c == 'U')
            out += escape_value(parts.user, escape);
        else if (c == 'd' || c == 'D')
            out += escape_value(parts.domain, escape);
        else
            out += escape_value(parts.labels[parts.labels.size() - (c - '0')], escape);
    }
    return out;
}

std::optional<std::string> expand_with(std::string_view tmpl, std::string_view key, Escape escape,
                                       const Needs &needs) {
    std::optional<KeyParts> parts = split_key(key, needs);
    if (!parts)
        return std::nullopt;
    return substitute(tmpl, key, *parts, escape);
}

Needs table_needs(const LdapTable &table) {
    Needs needs;
    scan(table.search_base, true, needs);
    scan(table.query_filter, true, needs);
    scan(table.result_format, false, needs);
    return needs;
}

// Postfix's valid_utf8_string(): a non-UTF-8 key is never looked up.
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        std::size_t len = utf8_length(s, i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

std::vector<std::string> domain_patterns(std::string_view list) {
    std::vector<std::string> out;
    std::size_t i = 0;
    const std::string_view seps = ", \t\r\n";
    while ((i = list.find_first_not_of(seps, i)) != std::string_view::npos) {
        std::size_t end = list.find_first_of(seps, i);
        out.emplace_back(list.substr(i, end - i));
        i = end;
    }
    return out;
}

// type:table and /file entries need Postfix's own tables: we cannot evaluate them.
bool is_literal(std::string_view pattern) {
    return !pattern.empty() && pattern[0] != '/' && pattern.find(':') == std::string_view::npos;
}

// string_list_match(): first matching pattern wins, each leading '!' inverts; exact,
// case-insensitive comparison (no parent-domain matching, unlike domain lists elsewhere).
bool domain_matches(std::string_view list, std::string_view domain) {
    for (std::string_view pattern : domain_patterns(list)) {
        bool match = true;
        while (!pattern.empty() && pattern[0] == '!') {
            match = !match;
            pattern.remove_prefix(1);
        }
        if (is_literal(pattern) && fold_key(pattern) == fold_key(domain))
            return match;
    }
    return false;
}

// db_common_check_domain(): needs a non-empty local part and a listed domain.
bool domain_allows(const LdapTable &table, std::string_view key) {
    if (table.domain.empty())
        return true;
    std::size_t at = key.rfind('@');
    if (at == std::string_view::npos || at == 0)
        return false;
    return domain_matches(table.domain, key.substr(at + 1));
}

const char *const probe_local_part = "ldap-health-check";

std::string padded_domain(std::string domain, int nparts) {
    for (int n = static_cast<int>(labels(domain).size()); n < nparts; ++n)
        domain = "l" + std::to_string(n + 1) + "." + domain;
    return domain;
}

} // namespace

void validate_template(std::string_view tmpl) {
    Needs needs;
    scan(tmpl, true, needs);
}

std::string escape_value(std::string_view value, Escape escape) {
    const std::string_view special = escape == Escape::filter ? "*()\\" : " \t\"#+,;<>\\";
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : value) {
        if (special.find(c) == std::string_view::npos) {
            out += c;
            continue;
        }
        auto u = static_cast<unsigned char>(c);
        out += '\\';
        out += hex[u >> 4];
        out += hex[u & 0xF];
    }
    return out;
}

std::string fold_key(std::string_view key) {
    std::string out(key);
    for (char &c : out)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<std::string> expand_template(std::string_view tmpl, std::string_view key,
                                           Escape escape) {
    Needs needs;
    scan(tmpl, true, needs);
    return expand_with(tmpl, key, escape, needs);
}

std::optional<LdapQuery> expand_query(const LdapTable &table, std::string_view key) {
    if (!valid_utf8(key))
        return std::nullopt;
    std::string folded = fold_key(key);
    if (!domain_allows(table, folded))
        return std::nullopt;
    Needs needs = table_needs(table);
    std::optional<std::string> base = expand_with(table.search_base, folded, Escape::dn, needs);
    std::optional<std::string> filter =
        expand_with(table.query_filter, folded, Escape::filter, needs);
    if (!base || !filter)
        return std::nullopt;
    return LdapQuery{*base, *filter};
}

bool would_query(const LdapTable &table, std::string_view key) {
    return expand_query(table, key).has_value();
}

std::string default_probe_key(const LdapTable &table) {
    int nparts = table_needs(table).nparts;
    std::string fallback = "example.com";
    bool have_literal = false;
    for (std::string_view pattern : domain_patterns(table.domain)) {
        if (pattern[0] == '!' || !is_literal(pattern))
            continue;
        std::string key = std::string(probe_local_part) + "@" + fold_key(pattern);
        if (would_query(table, key))
            return key;
        if (!have_literal)
            fallback = fold_key(pattern);
        have_literal = true;
    }
    // No usable domain: Postfix will not query for this key either; the caller can tell by
    // would_query() and ask the admin for an explicit probe key.
    return std::string(probe_local_part) + "@" + padded_domain(fallback, nparts);
}

// The user and domain of an address, split at the last '@' only when a template asks for them.
struct AddressParts {
    std::string_view user, domain;
    bool has_domain = false, empty_user = false;
};

AddressParts address_parts(std::string_view s, bool wanted) {
    std::size_t at = wanted ? s.rfind('@') : std::string_view::npos;
    if (at == std::string_view::npos)
        return AddressParts{s, {}, false, false};
    return AddressParts{s.substr(0, at), s.substr(at + 1), true, at == 0};
}

std::optional<std::string> expand_result(const LdapTable &table, std::string_view value,
                                         std::string_view key) {
    if (value.empty())
        return std::nullopt; // "empty lookup result -- ignored"
    Needs needs = table_needs(table);
    AddressParts v = address_parts(value, needs.value_user || needs.value_domain);
    if ((needs.value_domain && v.domain.empty()) || (needs.value_user && v.empty_user))
        return std::nullopt;
    AddressParts k = address_parts(key, needs.key_user || needs.key_domain);
    if ((needs.key_domain && k.domain.empty()) || (needs.key_user && k.empty_user))
        return std::nullopt;
    std::vector<std::string_view> key_labels = labels(k.domain);
    if (needs.nparts > 0 && static_cast<int>(key_labels.size()) < needs.nparts)
        return std::nullopt;
    const std::string &tmpl = table.result_format;
    std::string out;
    for (std::size_t i = 0; i < tmpl.size(); ++i) {
        if (tmpl[i] != '%' || i + 1 == tmpl.size()) {
            out += tmpl[i];
            continue;
        }
        char c = tmpl[++i];
        if (c == 's')
            out += value;
        else if (c == 'u')
            out += v.user;
        else if (c == 'd')
            out += v.domain;
        else if (c == 'S')
            out += key;
        else if (c == 'U')
            out += k.user;
        else if (c == 'D')
            out += k.domain;
        else if (c >= '1' && c <= '9')
            out += key_labels[key_labels.size() - static_cast<std::size_t>(c - '0')];
        else
            out += c; // "%%"
    }
    return out;
}

bool is_dynamic_template(std::string_view tmpl) {
    Needs needs;
    scan(tmpl, true, needs);
    return needs.dynamic;
}

bool has_dynamic_base(const LdapTable &table) {
    return is_dynamic_template(table.search_base);
}

} // namespace lhc

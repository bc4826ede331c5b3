#include "probe_plan.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"

#include <algorithm>
#include <tuple>

namespace lhc {

namespace {

constexpr const char *whitespace_or_comma = ", \t\r\n";

std::vector<std::string> split(const std::string &s, const char *separators) {
    std::vector<std::string> out;
    std::string::size_type pos = 0;
    while ((pos = s.find_first_not_of(separators, pos)) != std::string::npos) {
        auto end = s.find_first_of(separators, pos);
        out.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

std::vector<std::string> result_attributes(const LdapTable &t) {
    std::vector<std::string> attrs;
    for (const auto *list : {&t.terminal_result_attribute, &t.leaf_result_attribute,
                             &t.result_attribute, &t.special_result_attribute})
        for (auto &a : split(*list, whitespace_or_comma))
            attrs.push_back(a);
    return attrs;
}

// The search Postfix would send for the probe key. The probe must always reach the server,
// so when Postfix would skip the query (a `domain` list without a usable literal domain, or
// an explicit key that does not fit) the default key is expanded without the domain check.
LdapQuery probe_query(const LdapTable &t, const std::string &requested_key, Logger &log) {
    std::string fallback = default_probe_key(t);
    if (!requested_key.empty()) {
        if (auto q = expand_query(t, requested_key))
            return *q;
        log.warning(msg() << t.path << ": Postfix would not query the server for probe key \""
                          << requested_key << "\" (domain or % expansion); probing with \""
                          << fallback << "\" instead");
    }
    if (auto q = expand_query(t, fallback))
        return *q;
    std::string key = fold_key(fallback);
    auto base = expand_template(t.search_base, key, Escape::dn);
    auto filter = expand_template(t.query_filter, key, Escape::filter);
    if (!base || !filter)
        throw ConfigError(t.path, 0,
                          "no probe key makes Postfix query this table; set --probe-key");
    log.info(msg() << t.path << ": the domain list names no literal domain; probing with \""
                   << fallback << "\", bypassing the domain check");
    return LdapQuery{*base, *filter};
}

SearchPlan plan_search(const LdapTable &t, const std::string &requested_key, Logger &log) {
    LdapQuery q = probe_query(t, requested_key, log);
    SearchPlan p;
    p.tables = t.path;
    p.scope = t.scope;
    p.base = q.base;
    p.filter = q.filter;
    p.dynamic_base = has_dynamic_base(t);
    p.attributes = result_attributes(t);
    p.size_limit = t.size_limit;
    return p;
}

bool same_search(const SearchPlan &a, const SearchPlan &b) {
    return std::tie(a.base, a.scope, a.filter, a.dynamic_base, a.attributes, a.size_limit) ==
           std::tie(b.base, b.scope, b.filter, b.dynamic_base, b.attributes, b.size_limit);
}

} // namespace

std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log) {
    std::vector<ConnectionPlan> plans;
    std::vector<std::vector<std::string>> keys; // one a plan
    for (const auto &t : tables) {
        auto key = t.connection_key();
        auto found = std::find(keys.begin(), keys.end(), key);
        auto it = plans.begin() + (found - keys.begin());
        if (found == keys.end()) {
            plans.push_back(ConnectionPlan{t, t.urls(), {}, t.url_list_error()});
            keys.push_back(std::move(key));
            it = plans.end() - 1;
        }
        SearchPlan search = plan_search(t, probe_key, log);
        auto same = std::find_if(it->searches.begin(), it->searches.end(),
                                 [&](const SearchPlan &s) { return same_search(s, search); });
        if (same == it->searches.end())
            it->searches.push_back(search);
        else
            same->tables += ", " + t.path;
    }
    return plans;
}

bool ConnectionPlan::uses_tls() const {
    return settings.uses_tls();
}

} // namespace lhc

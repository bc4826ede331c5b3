#include "probe_plan.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"
#include "result_values.hpp"

#include <algorithm>
#include <tuple>

namespace lhc {

namespace {

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
    p.attributes = postfix_result_attributes(t);
    p.size_limit = t.size_limit;
    return p;
}

bool same_search(const SearchPlan &a, const SearchPlan &b) {
    return std::tie(a.base, a.scope, a.filter, a.dynamic_base, a.attributes, a.size_limit) ==
           std::tie(b.base, b.scope, b.filter, b.dynamic_base, b.attributes, b.size_limit);
}

const LdapTable *find_table(const std::vector<LdapTable> &tables, const std::string &path) {
    for (const auto &t : tables)
        if (t.path == path)
            return &t;
    return nullptr;
}

// `key` is one that Postfix queries (canary_problem()).
SearchPlan canary_search(const LdapTable &t, const std::string &key) {
    auto q = expand_query(t, key);
    SearchPlan p;
    p.tables = t.path;
    p.scope = t.scope;
    p.base = q->base;
    p.filter = q->filter;
    p.dynamic_base = has_dynamic_base(t);
    p.attributes = postfix_result_attributes(t);
    p.size_limit = t.size_limit;
    p.canary_table = std::make_shared<const LdapTable>(t);
    p.canary_key = fold_key(key);
    return p;
}

// A canary whose search is a plain probe's of its table alone takes that search over: the
// directory sees it once, and a failure still names the one table it is about.
void add_canary(ConnectionPlan &plan, SearchPlan canary) {
    for (auto &s : plan.searches) {
        if (!same_search(s, canary) || s.tables != canary.tables)
            continue;
        if (!s.canary_table) {
            s.canary_table = std::move(canary.canary_table);
            s.canary_key = std::move(canary.canary_key);
            return;
        }
        if (s.canary_key == canary.canary_key && s.canary_table->path == canary.canary_table->path)
            return; // the same canary twice
    }
    plan.searches.push_back(std::move(canary));
}

} // namespace

std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log,
                                        const std::vector<Canary> &canaries) {
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
    for (const auto &c : canaries) {
        if (auto problem = canary_problem(tables, c); !problem.empty())
            throw ConfigError(problem);
        const LdapTable &t = *find_table(tables, c.table);
        auto key = t.connection_key();
        auto found = std::find(keys.begin(), keys.end(), key);
        add_canary(plans[static_cast<std::size_t>(found - keys.begin())], canary_search(t, c.key));
    }
    return plans;
}

std::string canary_problem(const std::vector<LdapTable> &tables, const Canary &c) {
    const std::string option = "--canary " + c.table + "=" + c.key;
    const LdapTable *t = find_table(tables, c.table);
    if (!t) {
        std::string watched;
        for (const auto &w : tables)
            watched += (watched.empty() ? "" : ", ") + w.path;
        return option + ": " + c.table +
               " is not a watched table (watched: " + (watched.empty() ? "none" : watched) + ")";
    }
    if (!would_query(*t, c.key))
        return option + ": Postfix never sends a query for this key to this table (its domain "
                        "list or % expansions skip it), so it could never be found";
    return "";
}

bool SearchPlan::needs_follow_ups() const {
    return canary_table && !canary_table->special_result_attribute.empty();
}

bool ConnectionPlan::needs_follow_ups() const {
    return std::any_of(searches.begin(), searches.end(),
                       [](const SearchPlan &s) { return s.needs_follow_ups(); });
}

bool ConnectionPlan::uses_tls() const {
    return settings.uses_tls();
}

} // namespace lhc

#include "verdict.hpp"

#include "searches.hpp"

#include <algorithm>

namespace lhc {

namespace {

ProbeResult failed(const SearchPlan &search, const std::string &server, ProbeStep step,
                   const Step &s) {
    ProbeResult r;
    r.healthy = false;
    r.tables = search.tables;
    r.server = server;
    r.step = step;
    r.ldap_code = s.rc;
    r.diagnostic = s.diagnostic;
    return r;
}

// What Postfix's lookup of the canary key returns; the probe fails unless it is a value.
void judge_canary(Session &session, const SearchPlan &search, const SearchAnswer &top,
                  ProbeResult &r) {
    r.canary = search.canary_key;
    FollowUps follow(session, search.size_limit);
    LookupValue v = lookup_value(*search.canary_table, search.canary_key, top, follow);
    if (v.failed) {
        r.healthy = false;
        r.ldap_code = v.rc;
        r.diagnostic = "canary \"" + search.canary_key + "\": " + v.why;
    } else if (v.value.empty()) {
        r.healthy = false;
        r.explanation = "canary \"" + search.canary_key + "\" not found at " + session.server() +
                        ": the directory answers, but returns nothing for a recipient that must "
                        "exist, so Postfix would reject real users with 550 5.1.1 User unknown";
    }
    r.value = v.value;
}

// Postfix: a missing base that depends on the key is "not found"; any other error (size
// limit, time limit, a missing fixed base, ...) is a temporary failure. The probe key finds
// nothing: its one-message answer would reach Postfix even where the answer for a key that
// exists cannot (Waits::result).
void judge_code(const LdapTable &t, const SearchPlan &search, const Step &s, ProbeResult &r) {
    r.healthy = s.ok() || (s.rc == LDAP_NO_SUCH_OBJECT && search.dynamic_base);
    if (r.healthy && t.finds_time_out()) {
        r.healthy = false;
        r.ldap_code = LDAP_TIMEOUT;
        r.diagnostic = "timeout = " + std::to_string(t.timeout) +
                       ": libldap gives up on an answer after its first message, so every "
                       "lookup that finds an entry times out";
    }
}

} // namespace

ProbeResult failure(const Session &session, const SearchPlan &search, const Step &s) {
    return failed(search, session.server(), session.step(), s);
}

ProbeResult judge(Session &session, const SearchPlan &search, Step s, LDAPMessage *res) {
    LDAP *ld = session.ld();
    ProbeResult r = failed(search, session.server(), ProbeStep::search, s);
    SearchAnswer top;
    if (s.ok()) {
        r.entries = ldap_count_entries(ld, res);
        if (search.canary_table)
            top.entries = read_entries(ld, res);
        if (LDAPMessage *e = ldap_first_entry(ld, res)) {
            char *dn = ldap_get_dn(ld, e);
            r.first_dn = dn ? dn : "";
            ldap_memfree(dn);
        }
        s = parse_result(ld, res);
        r.ldap_code = s.rc;
        r.diagnostic = s.diagnostic;
    } else if (res) {
        ldap_msgfree(res);
    }
    judge_code(session.table(), search, s, r);
    Logger &log = session.log();
    if (log.debug_enabled())
        log.debug(msg() << session.server() << ": search base=\"" << search.base << "\" filter=\""
                        << search.filter << "\": " << (r.healthy ? "ok" : ldap_err2string(s.rc))
                        << ", " << r.entries << (r.entries == 1 ? " entry" : " entries")
                        << (r.first_dn.empty() ? "" : ", dn=" + r.first_dn));
    if (search.canary_table && r.healthy) {
        judge_canary(session, search, top, r);
        log.debug(msg() << session.server() << ": canary \"" << search.canary_key
                        << "\": " << (r.healthy ? "value " + r.value : r.describe()));
    }
    return r;
}

ProbeResult search_and_judge(Session &session, const SearchPlan &search) {
    LDAPMessage *res = nullptr;
    Step s = search_once(session, search, &res);
    return judge(session, search, s, res);
}

std::vector<ProbeResult> unusable_url_list(const ConnectionPlan &plan) {
    Step s{LDAP_PARAM_ERROR, "Unable to init LDAP server: libldap refuses the server_host list"};
    std::vector<ProbeResult> out;
    for (const auto &search : plan.searches)
        out.push_back(failed(search, plan.settings.url_list(), ProbeStep::connect, s));
    return out;
}

bool all_healthy(const std::vector<ProbeResult> &results) {
    return std::all_of(results.begin(), results.end(), [](auto &r) { return r.healthy; });
}

std::vector<ProbeResult> timed(std::vector<ProbeResult> results, TimePoint start) {
    auto latency = Clock::now() - start;
    for (auto &r : results)
        r.latency = latency;
    return results;
}

} // namespace lhc

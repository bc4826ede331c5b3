#include "searches.hpp"

#include <cstring>

namespace lhc {

namespace {

int scope_of(Scope s) {
    switch (s) {
    case Scope::base:
        return LDAP_SCOPE_BASE;
    case Scope::one:
        return LDAP_SCOPE_ONELEVEL;
    case Scope::sub:
        break;
    }
    return LDAP_SCOPE_SUBTREE;
}

// As Postfix: the time limit is the raw timeout (0 is refused by libldap), and the size limit
// goes through the option, so a negative one reaches the server as it is.
Step send(Session &s, const std::string &base, int scope, const std::string &filter,
          const std::vector<std::string> &attributes, int size_limit, int *msgid) {
    LDAP *ld = s.ld();
    std::vector<char *> attrs;
    for (const auto &a : attributes)
        attrs.push_back(const_cast<char *>(a.c_str()));
    attrs.push_back(nullptr);
    timeval tv = s.waits().timeout;
    int size = size_limit ? size_limit : LDAP_NO_LIMIT;
    int rc = ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &size);
    if (rc == LDAP_OPT_SUCCESS)
        rc = ldap_search_ext(ld, base.c_str(), scope, filter.c_str(), attrs.data(), 0, nullptr,
                             nullptr, &tv, -1, msgid);
    return rc == LDAP_SUCCESS ? Step{} : Step{rc, diagnostic_of(ld)};
}

} // namespace

Step send_search(Session &s, const SearchPlan &search, int *msgid) {
    return send(s, search.base, scope_of(search.scope), search.filter, search.attributes,
                search.size_limit, msgid);
}

Step search_once(Session &s, const SearchPlan &search, LDAPMessage **res) {
    *res = nullptr;
    s.begin(ProbeStep::search);
    int msgid = 0;
    Step sent = send_search(s, search, &msgid);
    if (!sent.ok())
        return sent;
    return await_result(s.ld(), msgid, s.waits().result, res);
}

std::vector<ResultEntry> read_entries(LDAP *ld, LDAPMessage *res) {
    std::vector<ResultEntry> out;
    for (LDAPMessage *e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        ResultEntry entry;
        if (char *dn = ldap_get_dn(ld, e)) {
            entry.dn = dn;
            ldap_memfree(dn);
        }
        BerElement *ber = nullptr;
        for (char *a = ldap_first_attribute(ld, e, &ber); a; a = ldap_next_attribute(ld, e, ber)) {
            std::vector<std::string> values;
            if (berval **vals = ldap_get_values_len(ld, e, a)) {
                for (int i = 0; vals[i]; ++i)
                    values.emplace_back(vals[i]->bv_val, strnlen(vals[i]->bv_val, vals[i]->bv_len));
                ldap_value_free_len(vals);
            }
            entry.attributes.emplace_back(a, std::move(values));
            ldap_memfree(a);
        }
        if (ber)
            ber_free(ber, 0);
        out.push_back(std::move(entry));
    }
    return out;
}

FollowUps::FollowUps(Session &s, int size_limit)
    : s_(s), size_limit_(size_limit),
      deadline_(Clock::now() + std::chrono::seconds(s.waits().bound.tv_sec)) {}

SearchAnswer FollowUps::search(const std::string &base, int scope, const std::string &filter,
                               const std::vector<std::string> &attributes) {
    Duration left = deadline_ - Clock::now();
    if (left <= Duration::zero())
        return {LDAP_TIMEOUT, "no time left for the follow-up searches", {}};
    s_.begin(ProbeStep::search, left);
    LDAP *ld = s_.ld();
    int msgid = 0;
    Step s = send(s_, base, scope, filter, attributes, size_limit_, &msgid);
    LDAPMessage *res = nullptr;
    if (s.ok())
        s = await_result(ld, msgid, shorter(s_.waits().result, left), &res);
    if (!s.ok())
        return {s.rc, s.diagnostic, {}};
    SearchAnswer answer;
    answer.entries = read_entries(ld, res);
    s = parse_result(ld, res);
    answer.rc = s.rc;
    answer.diagnostic = s.diagnostic;
    s_.log().debug(msg() << s_.server() << ": follow-up search base=\"" << base << "\" filter=\""
                         << filter << "\": " << ldap_err2string(s.rc) << ", "
                         << answer.entries.size() << " entries");
    return answer;
}

} // namespace lhc

// A search as Postfix's dict_ldap_lookup() sends it (the raw timeout as the time limit, the
// size limit, the result attributes), the wait for its answer, and the follow-up searches a
// canary's special_result_attribute makes on the same connection.
#pragma once

#include "result_values.hpp"
#include "session.hpp"

#include <string>
#include <vector>

namespace lhc {

// Sends `search` on the session's connection.
Step send_search(Session &s, const SearchPlan &search, int *msgid);

// Sends `search` and waits for its whole answer; `*res` is the answer, the caller's to free.
Step search_once(Session &s, const SearchPlan &search, LDAPMessage **res);

// The entries of a search result with their values, as dict_ldap_get_values() reads them (a
// value is a C string there: it ends at a NUL byte).
std::vector<ResultEntry> read_entries(LDAP *ld, LDAPMessage *res);

// The searches a canary's special_result_attribute asks for, on the session's connection, one
// after the other as Postfix makes them, all within one wait bound.
class FollowUps final : public FollowUpSearches {
  public:
    FollowUps(Session &s, int size_limit);
    SearchAnswer search(const std::string &base, int scope, const std::string &filter,
                        const std::vector<std::string> &attributes) override;

  private:
    Session &s_;
    int size_limit_;
    TimePoint deadline_;
};

} // namespace lhc

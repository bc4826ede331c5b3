// The verdict on each search of a probe, judged as Postfix judges the outcome of its lookup:
// found and not found are healthy, every error fails the lookup, and a canary must find a
// value (result_values.hpp).
#pragma once

#include "session.hpp"

#include <vector>

namespace lhc {

// The search failed at the session's step (or could not be made): `s` is why.
ProbeResult failure(const Session &session, const SearchPlan &search, const Step &s);

// The verdict on `search` from its answer `res` (freed here) or the step `s` that failed.
ProbeResult judge(Session &session, const SearchPlan &search, Step s, LDAPMessage *res);

// Sends `search`, waits for its answer and judges it.
ProbeResult search_and_judge(Session &session, const SearchPlan &search);

// Postfix hands the whole server_host list to ldap_initialize(): one entry libldap refuses
// fails every lookup.
std::vector<ProbeResult> unusable_url_list(const ConnectionPlan &plan);

bool all_healthy(const std::vector<ProbeResult> &results);

// The verdicts with the probe's latency, from `start` to now.
std::vector<ProbeResult> timed(std::vector<ProbeResult> results, TimePoint start);

} // namespace lhc

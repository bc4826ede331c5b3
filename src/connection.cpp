#include "connection.hpp"

#include "session.hpp"
#include "verdict.hpp"

#include <algorithm>

namespace lhc {

namespace {

// A new session, every search on it, and a good connection kept for the next round.
std::vector<ProbeResult> full_path(const ConnectionPlan &plan, Logger &log, KeptConnection *kept,
                                   StepWatch *watch) {
    Session session(plan, log, watch);
    Step s = session.open();
    std::vector<ProbeResult> out;
    for (const auto &search : plan.searches)
        out.push_back(s.ok() ? search_and_judge(session, search) : failure(session, search, s));
    if (kept && session.is_open() && all_healthy(out))
        kept->keep(session.release());
    return out;
}

// The server went away between the bind and a search.
const ProbeResult *lost_during_search(const std::vector<ProbeResult> &results) {
    auto it = std::find_if(results.begin(), results.end(), [](const ProbeResult &r) {
        return r.step == ProbeStep::search && r.ldap_code == LDAP_SERVER_DOWN;
    });
    return it == results.end() ? nullptr : &*it;
}

} // namespace

std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log, ProbeMode mode,
                                          KeptConnection *kept, StepWatch *watch) {
    auto start = Clock::now();
    if (!plan.init_error.empty())
        return timed(unusable_url_list(plan), start);
    if (mode == ProbeMode::kept && kept)
        if (auto results = probe_kept(plan, log, *kept, watch))
            return std::move(*results);
    auto results = full_path(plan, log, kept, watch);
    // Postfix reconnects once when the server went away between bind and search.
    if (const ProbeResult *lost = lost_during_search(results)) {
        log.debug(msg() << lost->server << ": connection lost during search, reconnecting once");
        results = full_path(plan, log, kept, watch);
    }
    return timed(std::move(results), start);
}

} // namespace lhc

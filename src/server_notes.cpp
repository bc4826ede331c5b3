#include "server_notes.hpp"

#include <algorithm>
#include <utility>

namespace lhc {

// Only a server_host list of two or more can be degraded: a single server that fails is an
// outage, which the failed rounds report, whatever other tables' servers do. Postfix still
// works only when every list that names the failing server has another that answers.
void ServerNotes::changes(const std::vector<ServerState> &servers) {
    std::map<std::size_t, std::pair<int, int>> lists; // answering, named
    for (const auto &s : servers)
        for (auto list : s.lists) {
            lists[list].first += s.answers ? 1 : 0;
            ++lists[list].second;
        }
    for (const auto &s : servers) {
        int named = 0;
        bool works = true;
        for (auto list : s.lists) {
            named = std::max(named, lists[list].second);
            works = works && lists[list].first > 0;
        }
        if (named < 2)
            continue;
        auto [it, first] = server_answers_.try_emplace(s.url, s.answers);
        if (!first && it->second == s.answers)
            continue;
        it->second = s.answers;
        if (!s.answers)
            log_.event(Event::degraded, Priority::warning,
                       msg() << "LDAP server " << s.url << " fails (" << s.why << ")"
                             << (works ? "; another server of its list answers, Postfix still "
                                         "works"
                                       : ""),
                       {s.url, "", "", s.why});
        else if (!first)
            log_.event(Event::server_back, Priority::notice,
                       msg() << "LDAP server " << s.url << " answers again", {s.url, "", "", ""});
    }
}

// A server whose idle timeout is shorter than --interval closes the kept connection before
// every round: said once, then at most once per closed_note_spacing with a count, not tens of
// thousands of journal lines a day.
void ServerNotes::closed_connection(TimePoint now) {
    ++closed_unsaid_;
    if (closed_said_ && now - *closed_said_ < closed_note_spacing)
        return;
    if (!closed_said_ || closed_unsaid_ == 1)
        log_.info("a server closed the kept connection, probing now");
    else
        log_.info(msg() << "a server closed the kept connection " << closed_unsaid_
                        << " times since the last such line, each costing a new connection: is "
                           "its idle timeout shorter than --interval?");
    closed_said_ = now;
    closed_unsaid_ = 0;
}

} // namespace lhc

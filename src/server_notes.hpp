// What the daemon tells the journal about single servers, each change once: a server of a
// server_host list that starts failing or answers again (degraded redundancy), and servers
// closing the kept connection.
#pragma once

#include "clock.hpp"
#include "log.hpp"
#include "probe_result.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lhc {

class ServerNotes {
  public:
    // At most one line per this spacing about servers closing the kept connection.
    static constexpr std::chrono::hours closed_note_spacing{1};

    explicit ServerNotes(Logger &log) : log_(log) {}
    // One warning when a server starts failing, one notice when it answers again.
    void changes(const std::vector<ServerState> &servers);
    // A server closed the kept connection at `now`.
    void closed_connection(TimePoint now);

  private:
    Logger &log_;
    std::map<std::string, bool> server_answers_; // each server's last known state, by URL
    std::optional<TimePoint> closed_said_;       // when a closed kept connection was last logged
    long closed_unsaid_ = 0;                     // closed kept connections not logged since
};

} // namespace lhc

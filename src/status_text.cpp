#include "status_text.hpp"

#include "log.hpp"

#include <cstdio>

namespace lhc {

// STATUS= carries what servers and files say: flattened to one line, so that no text can end
// the field and add READY=1 or WATCHDOG=1 of its own, and cut short, so that the datagram that
// carries this round's WATCHDOG=1 stays far below the 4 KiB systemd accepts.
std::string status_line(const std::string &text, const std::optional<std::string> &reload_failure) {
    std::string line =
        printable(text + (reload_failure ? "; last reload failed: " + *reload_failure : ""));
    if (line.size() > max_status_bytes) {
        std::size_t cut = max_status_bytes;
        while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80)
            --cut; // not inside a UTF-8 sequence
        line = line.substr(0, cut) + "...";
    }
    return "STATUS=" + line;
}

std::string round_status(const RoundResult &round, const HealthState &state, bool give_up,
                         const std::vector<ServerState> &servers, const std::string &summary) {
    if (round.healthy()) {
        std::string failing;
        std::size_t answering = 0;
        for (const auto &s : servers) {
            if (s.answers)
                ++answering;
            else
                failing += (failing.empty() ? "" : "; ") + s.url + ": " + s.why;
        }
        std::string count = servers.empty()
                                ? ""
                                : ", " + std::to_string(answering) + "/" +
                                      std::to_string(servers.size()) + " servers answer";
        std::string tail =
            count + ", last round " + ms_text(round.latency) + ", 0 consecutive failures";
        // Postfix still works, but each new process first waits for the failing servers.
        if (!failing.empty())
            return "LDAP degraded: " + failing + tail;
        return "LDAP healthy: " + summary + tail;
    }
    return std::string(give_up ? "LDAP down: " : "LDAP failing: ") +
           std::to_string(state.consecutive_failures()) + " of " +
           std::to_string(state.policy().failures) + " consecutive failures, " +
           round.first_failure();
}

std::string ms_text(Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f ms", to_ms(d));
    return buf;
}

} // namespace lhc

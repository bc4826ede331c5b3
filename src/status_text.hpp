// The daemon's STATUS= line, as `systemctl status` shows it: what the last counted round found.
#pragma once

#include "health.hpp"
#include "probe_result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lhc {

// The longest STATUS= text sent; the rest is cut.
inline constexpr std::size_t max_status_bytes = 1024;

// "STATUS=" and `text`, with the last reload's failure until a reload succeeds.
std::string status_line(const std::string &text, const std::optional<std::string> &reload_failure);

// What a round found: healthy (with the servers that fail, if any: degraded), failing (the
// failures counted so far) or down. `summary` says what is probed.
std::string round_status(const RoundResult &round, const HealthState &state, bool give_up,
                         const std::vector<ServerState> &servers, const std::string &summary);

std::string ms_text(Duration d);

} // namespace lhc

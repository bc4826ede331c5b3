// One connection plan probed as Postfix's dict_ldap would, on the path a new Postfix process
// takes: a session (session.hpp: connect, StartTLS, bind), then each search, judged as Postfix
// judges the outcome (verdict.hpp). A good full path leaves its connection to be kept
// (kept_connection.hpp).
#pragma once

#include "kept_connection.hpp"
#include "log.hpp"
#include "probe_plan.hpp"
#include "probe_result.hpp"
#include "step_deadline.hpp"

#include <vector>

namespace lhc {

// Probes `plan` once. With ProbeMode::kept and a kept connection, searches on it; when that
// fails for any reason but a timeout (a hung server is not asked twice in a round), takes the
// full path at once and judges by that. A good full path leaves its connection in `kept`.
// `watch` (may be null) hears of every step, with its limit.
std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log,
                                          ProbeMode mode = ProbeMode::full,
                                          KeptConnection *kept = nullptr,
                                          StepWatch *watch = nullptr);

} // namespace lhc

#include "probe_result.hpp"

#include <algorithm>
#include <ldap.h>

namespace lhc {

const char *step_name(ProbeStep step) {
    switch (step) {
    case ProbeStep::connect:
        return "connect";
    case ProbeStep::starttls:
        return "starttls";
    case ProbeStep::bind:
        return "bind";
    case ProbeStep::search:
        break;
    }
    return "search";
}

std::string ProbeResult::describe() const {
    if (healthy)
        return server + ": ok";
    if (!explanation.empty())
        return explanation;
    std::string out =
        std::string(step_name(step)) + " " + server + ": " + ldap_err2string(ldap_code);
    if (!diagnostic.empty())
        out += ": " + diagnostic;
    return out;
}

bool RoundResult::healthy() const {
    return !probes.empty() &&
           std::all_of(probes.begin(), probes.end(), [](const auto &p) { return p.healthy; });
}

const ProbeResult *RoundResult::first_failed() const {
    for (const auto &p : probes)
        if (!p.healthy)
            return &p;
    return nullptr;
}

std::string RoundResult::first_failure() const {
    for (const auto &p : probes)
        if (!p.healthy)
            return p.tables + ": " + p.describe();
    return probes.empty() ? "no table to probe" : "";
}

} // namespace lhc

#include "unusable_table.hpp"

#include <utility>

namespace lhc {

UnusableTableProber::UnusableTableProber(std::string file, std::string error)
    : file_(std::move(file)), error_(std::move(error)) {}

RoundResult UnusableTableProber::probe_round(ProbeMode mode) {
    ProbeResult r;
    r.tables = file_;
    r.explanation = "a new Postfix process cannot open this table, so its lookups fail: " + error_;
    RoundResult round;
    round.probes.push_back(std::move(r));
    round.mode = mode;
    return round;
}

std::string UnusableTableProber::summary() const {
    return "the table " + file_ + ", which Postfix cannot open";
}

} // namespace lhc

// The prober that stands in for tables a new Postfix process cannot open: after a change on
// disk the daemon judges the tables Postfix would open now, and where Postfix's lookups fail,
// every round fails too, naming the file and what is wrong with it.
#pragma once

#include "probe_result.hpp"

#include <string>

namespace lhc {

class UnusableTableProber final : public Prober {
  public:
    // `file` and `error` ("file:line: what") as the table loader reported them.
    UnusableTableProber(std::string file, std::string error);
    RoundResult probe_round(ProbeMode mode) override;
    Duration worst_case() const override { return Duration::zero(); }
    std::string summary() const override;

  private:
    std::string file_;
    std::string error_;
};

} // namespace lhc

// The health state machine: what to tell systemd and when to probe next, from round verdicts.
// Pure logic over time points, so tests step it with a fake clock.
#pragma once

#include "clock.hpp"

namespace lhc {

// The defaults live in one place, Options (cli.hpp).
struct Policy {
    Duration interval;       // between rounds while healthy
    Duration retry_interval; // after a failed round, or beside one still waiting
    int failures;            // consecutive failed rounds that mean "LDAP is down"
};

class HealthState {
  public:
    struct Step {
        bool ready = false;     // first good round: send READY=1
        bool watchdog = false;  // good round: send WATCHDOG=1
        bool give_up = false;   // too many failed rounds: exit
        bool recovered = false; // good round after failed ones
        TimePoint next{};       // when to probe again
    };

    explicit HealthState(Policy policy) : policy_(policy) {}

    Step on_round(bool healthy, TimePoint now);

    int consecutive_failures() const { return failures_; }
    bool ready() const { return ready_; }
    const Policy &policy() const { return policy_; }

  private:
    Policy policy_;
    int failures_ = 0;
    bool ready_ = false;
};

} // namespace lhc

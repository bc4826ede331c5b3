// The health state machine: what to tell systemd and when to probe next, from round verdicts.
// Pure logic over time points, so tests step it with a fake clock.
#pragma once

#include "clock.hpp"
#include "probe_result.hpp"

#include <optional>

namespace lhc {

// The defaults live in one place, Options (cli.hpp).
struct Policy {
    Duration interval;        // between rounds while healthy
    Duration retry_interval;  // after a failed round, or beside one still waiting
    int failures;             // consecutive failed rounds that mean "LDAP is down"
    Duration full_interval{}; // at least this often a round takes the full path (0: always)
};

// Which rounds take the full path a new Postfix process takes (a new connection, TLS, bind,
// the searches) and which only search on the connection kept from the last good round: the
// first round, the one after a failed round or a closed kept connection, and at least one
// every full_interval. So a rotated password, a replaced certificate or a changed ACL is seen
// within full_interval, while the directory sees one operation per round in between.
//
// The full path is done when one ends well, not when it starts: until then every round takes
// it, the rounds started beside a slow one too (a round that starts while one is in flight
// finds the same reason to take it). A kept round passes where a new connection
// fails (a changed password, a full backlog, a stalled handshake), so a kept round beside a
// failing full path would hide it for good. (The daemon counts verdicts in the order the
// rounds started, which keeps a kept round already out from hiding it either.)
class FullProbeSchedule {
  public:
    explicit FullProbeSchedule(Duration every) : every_(every) {}
    ProbeMode next(TimePoint now) const {
        return !last_good_ || needed_ || now - *last_good_ >= every_ ? ProbeMode::full
                                                                     : ProbeMode::kept;
    }
    void finished(ProbeMode mode, bool healthy, TimePoint now) {
        if (mode != ProbeMode::full)
            return;
        needed_ = !healthy;
        if (healthy)
            last_good_ = now;
    }
    // The next round takes the full path, whenever it starts.
    void need_full() { needed_ = true; }

  private:
    Duration every_;
    std::optional<TimePoint> last_good_; // when a full path last ended well
    bool needed_ = false;
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

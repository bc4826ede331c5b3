#include "health.hpp"

namespace lhc {

HealthState::Step HealthState::on_round(bool healthy, TimePoint now) {
    Step s;
    if (healthy) {
        s.recovered = failures_ > 0;
        s.ready = !ready_;
        // Only a good round feeds the watchdog: a hung or failing probe must let it fire.
        s.watchdog = true;
        ready_ = true;
        failures_ = 0;
        s.next = now + policy_.interval;
        return s;
    }
    ++failures_;
    s.give_up = failures_ >= policy_.failures;
    s.next = now + policy_.retry_interval;
    return s;
}

} // namespace lhc

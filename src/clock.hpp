// Time and signals behind one small interface, so the daemon loop can be driven by a fake clock.
#pragma once

#include <chrono>
#include <vector>

namespace lhc {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;
using TimePoint = Clock::time_point;

enum class Wakeup {
    deadline,  // the deadline passed
    terminate, // SIGTERM or SIGINT
    reload,    // SIGHUP
    io,        // one of the watched descriptors became readable (or hung up)
};

class EventSource {
  public:
    virtual ~EventSource() = default;
    virtual TimePoint now() = 0;
    // Waits until `deadline`, a signal, or activity on one of `fds` (negative ones ignored).
    virtual Wakeup wait_until(TimePoint deadline, const std::vector<int> &fds = {}) = 0;
};

// The real one: SIGTERM/SIGINT/SIGHUP are blocked and read from a signalfd, so a signal that
// arrives during a probe round is handled right after it instead of being lost.
class SignalEventSource final : public EventSource {
  public:
    SignalEventSource();
    ~SignalEventSource() override;
    SignalEventSource(const SignalEventSource &) = delete;
    SignalEventSource &operator=(const SignalEventSource &) = delete;

    TimePoint now() override { return Clock::now(); }
    Wakeup wait_until(TimePoint deadline, const std::vector<int> &fds = {}) override;

  private:
    int fd_ = -1;
};

inline double to_ms(Duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

} // namespace lhc

// Every wait of a probe bounded, including the ones libldap does not bound: name resolution
// (getaddrinfo() against a DNS server that never answers), the synchronous bind libldap makes
// when it chases a referral, and whatever else may block inside the library. The probe runs
// on a worker thread and announces each step with its limit; the caller stops waiting at the
// first step that overruns and leaves the worker behind, counted, until libldap returns.
#pragma once

#include "clock.hpp"
#include "probe_result.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace lhc {

struct Overrun {
    ProbeStep step = ProbeStep::connect; // the step that did not end in time
    std::string server;                  // the server it was talking to
    Duration limit{};
};

// Shared between a worker and the caller waiting for it.
class StepWatch {
  public:
    // Worker: a step starts now and may take `limit`.
    void begin(ProbeStep step, const std::string &server, Duration limit);
    // Worker: all done.
    void finish();
    // Caller: waits for finish() (nullopt) or the first step to outlast its limit + `grace`.
    std::optional<Overrun> wait(Duration grace);

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool done_ = false;
    Overrun current_;
    TimePoint deadline_ = TimePoint::max();
};

// Runs `work` on a thread of its own and waits as StepWatch::wait() does. On an overrun the
// thread is left to finish on its own (it owns everything it uses) and counted as a straggler.
// Returns nullopt when the work finished; `work` must call watch.finish() last.
std::optional<Overrun> run_with_step_deadlines(std::function<void(StepWatch &watch)> work,
                                               Duration grace);

// Probes left behind that still wait inside libldap. Each holds a thread and a connection to
// a server that does not answer; past max_stragglers no new probe is started (the caller
// reports a failure instead), so a silent server cannot make the daemon pile them up.
int stragglers();
inline constexpr int max_stragglers = 8;

} // namespace lhc

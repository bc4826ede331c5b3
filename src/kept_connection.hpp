// The bound connection of the last good probe of a plan, kept and searched on again between
// full paths: one operation for the directory instead of a connection. A kept connection can
// fail where a new one would not (the server closed it, restarted, changed its mind): then
// only the full path judges (connection.hpp).
#pragma once

#include "log.hpp"
#include "probe_plan.hpp"
#include "probe_result.hpp"
#include "step_deadline.hpp"
#include "tls_guard.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace lhc {

// A round takes the connection out while it searches on it, so that rounds running side by
// side never share one libldap handle.
class KeptConnection {
  public:
    void keep(std::unique_ptr<LdapHandle> handle);
    std::unique_ptr<LdapHandle> take();
    // The descriptor to watch while nobody uses the connection, or -1.
    int watch_fd() const;
    // The server sent something unasked (a Notice of Disconnection) or closed the connection
    // (an idle timeout, a restart): the connection is dropped. True when that happened.
    bool closed_by_server();

  private:
    mutable std::mutex mutex_;
    std::unique_ptr<LdapHandle> handle_;
    int fd_ = -1;
};

// The searches of a round on the kept connection, on the calling thread: nullopt when there
// is no kept connection or it failed in a way that only the full path can judge (any failure
// but a timeout: a hung server is not asked twice in a round). Every wait here is a libldap
// result wait bounded by the timeout (no name resolution, no TLS handshake), so no worker
// thread is needed, unless referrals are chased: then `watch` (may be null) hears of every
// step.
std::optional<std::vector<ProbeResult>> probe_kept(const ConnectionPlan &plan, Logger &log,
                                                   KeptConnection &kept,
                                                   StepWatch *watch = nullptr);

// The searches of a round on the kept connection, sent at once and collected as the answers
// arrive, by the caller's own loop: no thread, and two wakeups a round (the timer and the
// answer) where a round on a thread of its own takes four.
class KeptRound {
  public:
    struct Outcome {
        std::vector<ProbeResult> probes;
        bool needs_full_path; // the kept connection failed; only the full path can judge
    };
    // Sends the searches; null when `kept` holds no connection.
    static std::unique_ptr<KeptRound> start(std::shared_ptr<const ConnectionPlan> plan, Logger &log,
                                            std::shared_ptr<KeptConnection> kept);
    ~KeptRound();
    int fd() const;                                  // readable when an answer arrives
    TimePoint deadline() const { return deadline_; } // the searches' timeout
    // Takes what arrived, without waiting; the outcome once every search is answered, or at
    // the deadline with the open ones as timeouts.
    std::optional<Outcome> advance(TimePoint now);

  private:
    KeptRound() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    TimePoint deadline_{};
};

} // namespace lhc

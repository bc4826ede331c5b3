// One connection plan probed as Postfix's dict_ldap would: connect (trying the URLs in order,
// with the ldaps:// handshake), StartTLS, bind, then each search, judged as Postfix judges
// the outcome. Between full paths, the bound connection of the last good probe is kept and
// searched on again: one operation for the directory instead of a connection.
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

// The bound connection of the last good probe of one plan. A round takes it out while it
// searches on it, so that rounds running side by side never share one libldap handle.
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

// Probes `plan` once. With ProbeMode::kept and a kept connection, searches on it; when that
// fails for any reason but a timeout (a hung server is not asked twice in a round), takes the
// full path at once and judges by that. A good full path leaves its connection in `kept`.
// `watch` (may be null) hears of every step, with its limit.
std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log,
                                          ProbeMode mode = ProbeMode::full,
                                          KeptConnection *kept = nullptr,
                                          StepWatch *watch = nullptr);

// Only the searches on the kept connection, on the calling thread: nullopt when there is no
// kept connection or it failed in a way that only the full path can judge. Every wait here
// is a libldap result wait bounded by the timeout (no name resolution, no TLS handshake), so
// no worker thread is needed, unless referrals are chased (the caller's choice).
std::optional<std::vector<ProbeResult>> probe_kept(const ConnectionPlan &plan, Logger &log,
                                                   KeptConnection &kept);

} // namespace lhc

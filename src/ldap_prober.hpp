// The probe of a whole configuration: every connection plan side by side, each on a worker
// thread whose steps end at their limits (step_deadline.hpp).
#pragma once

#include "kept_connection.hpp"
#include "log.hpp"
#include "nss_check.hpp"
#include "probe_plan.hpp"
#include "probe_result.hpp"

#include <memory>
#include <vector>

namespace lhc {

// Background probes of single servers still running: they use the Logger, so the process
// must not tear it down under them.
int background_probes();

class LdapProber final : public Prober {
  public:
    // `keep_idle`: keep each good round's connections open until the next round (daemon).
    // `nss_users` are resolved beside the searches, each round, within the tables' longest
    // wait bound (--nss-user).
    LdapProber(std::vector<ConnectionPlan> plans, Logger &log, bool keep_idle = false,
               std::vector<std::string> nss_users = {});
    ~LdapProber() override;
    RoundResult probe_round(ProbeMode mode) override;
    std::unique_ptr<LoopRound> start_loop_round() override;
    Duration worst_case() const override;
    std::string summary() const override;
    std::vector<int> watch_fds() const override;
    bool connection_closed() override;
    std::vector<ServerState> server_states() const override;

    // The servers of a server_host list are each probed on their own, in the background,
    // whenever a round takes the full path, so that a server Postfix skips over (down, or
    // after the one in use) is known without slowing the probe Postfix's order makes.
    struct ServerBook;

  private:
    // Records what the round found, and for full rounds starts the background probes.
    void note_servers(const RoundResult &round, ProbeMode mode);

    // Shared with probes that a hung server made us leave behind (see step_deadline.hpp).
    std::vector<std::shared_ptr<const ConnectionPlan>> plans_;
    Logger &log_;
    std::vector<std::shared_ptr<KeptConnection>> kept_; // one per plan when keeping
    std::shared_ptr<ServerBook> servers_;               // shared with the background probes
    NssCheck nss_;
};

} // namespace lhc

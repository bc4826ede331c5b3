// The daemon loop: probe rounds, systemd notifications, signals, reloads.
#pragma once

#include "clock.hpp"
#include "health.hpp"
#include "log.hpp"
#include "notifier.hpp"
#include "probe.hpp"
#include "rounds.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace lhc {

// Builds a prober from the configuration files; throws ConfigError on a bad file.
using ProberFactory = std::function<std::unique_ptr<Prober>()>;

class Daemon {
  public:
    Daemon(Policy policy, ProberFactory factory, Notifier &notifier, EventSource &events,
           RoundRunner &runner, Logger &log);

    // Runs until SIGTERM/SIGINT (exit_ok) or an outage (exit_unavailable). Throws ConfigError
    // when the first configuration cannot be loaded or cannot fit the watchdog period.
    int run();

  private:
    std::unique_ptr<Prober> load() const;
    void reload();
    std::string status(const RoundResult &round, const HealthState::Step &step) const;
    // Acts on one finished round; returns an exit code when the daemon must stop.
    std::optional<int> finish(const RoundResult &round);
    std::vector<int> watched_fds() const;

    HealthState state_;
    ProberFactory factory_;
    Notifier &notifier_;
    EventSource &events_;
    RoundRunner &runner_;
    Logger &log_;
    std::shared_ptr<Prober> prober_; // shared with the rounds still in flight
    TimePoint next_start_{};
};

} // namespace lhc

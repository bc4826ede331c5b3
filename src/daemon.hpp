// The daemon loop: probe rounds, systemd notifications, signals, reloads.
#pragma once

#include "clock.hpp"
#include "config_watch.hpp"
#include "health.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "notifier.hpp"
#include "probe_result.hpp"
#include "reloader.hpp"
#include "rounds.hpp"
#include "server_notes.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lhc {

class Daemon {
  public:
    Daemon(Policy policy, ProberFactory factory, Notifier &notifier, EventSource &events,
           RoundRunner &runner, Reloader &reloader, Logger &log);

    // Runs until SIGTERM/SIGINT (exit_ok) or an outage (exit_unavailable). Throws ConfigError
    // when the first configuration cannot be loaded or cannot fit the watchdog period.
    int run();
    // After every round, and so at exit with the final state, `sink` gets the metrics.
    void report_metrics_to(MetricsSink &sink) { metrics_sink_ = &sink; }
    // Reload when `watch` sees a file of the configuration change (and it did change).
    void follow_config(ConfigWatch &watch) { watch_ = &watch; }

    // An editor writes a file in several steps: a change is read once the files have been
    // quiet this long.
    static constexpr std::chrono::milliseconds change_settle{300};

  private:
    std::unique_ptr<Prober> load();
    // From now on, `files` are what the tables in force were read from.
    void follow(ConfigFiles files);
    // Reloads when a file differs from what was read (once it has settled).
    void check_config_files();
    // A failed round of tables whose files changed since they were read is not counted.
    bool stale(const RoundResult &round);
    void check_fits_watchdog(const Prober &prober) const;
    void reload();
    void finish_reload(ReloadResult result);
    std::string status_line(const std::string &text) const;
    // Whether a finished round's verdict counts; tells the schedule how it ended.
    bool counts(const RoundResult &round);
    // Acts on one finished round; returns an exit code when the daemon must stop.
    std::optional<int> finish(const RoundResult &round);
    std::vector<int> watched_fds() const;
    std::size_t in_flight() const;
    void start_round(TimePoint now);
    // Takes the loop's own round further; an exit code when it ended the daemon.
    std::optional<int> advance_loop_round();

    HealthState state_;
    Metrics metrics_;
    MetricsSink *metrics_sink_ = nullptr;
    FullProbeSchedule schedule_;
    ProberFactory factory_;
    Notifier &notifier_;
    EventSource &events_;
    RoundRunner &runner_;
    Reloader &reloader_;
    Logger &log_;
    std::shared_ptr<Prober> prober_;        // shared with the rounds still in flight
    std::unique_ptr<LoopRound> loop_round_; // a kept-connection round run by this loop
    bool loop_round_sent_ = false;          // sent since the loop last waited: nothing to read
    TimePoint next_start_{};
    bool reload_again_ = false;                       // a SIGHUP came while a reload was pending
    std::optional<std::string> reload_failure_;       // until a reload succeeds
    std::uint64_t rounds_started_ = 0;                // numbers the rounds, from 0
    std::uint64_t loop_round_number_ = 0;             // of loop_round_
    std::uint64_t first_current_round_ = 0;           // the first round of the tables in force
    std::optional<std::uint64_t> last_counted_round_; // the latest-started round counted
    ServerNotes server_notes_;
    ConfigFiles files_;                   // what the tables in force were read from
    ConfigWatch *watch_ = nullptr;        // null: no watching, the files compared on failures
    std::optional<TimePoint> recheck_at_; // when to compare the files with what was read
};

} // namespace lhc

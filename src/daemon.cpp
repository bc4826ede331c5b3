#include "daemon.hpp"

#include "config_error.hpp"
#include "exit_codes.hpp"

#include <cstdio>
#include <time.h>

namespace lhc {

namespace {

std::string seconds_text(Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g s", std::chrono::duration<double>(d).count());
    return buf;
}

std::string ms_text(Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f ms", to_ms(d));
    return buf;
}

std::string monotonic_usec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::to_string(static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                          static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
}

} // namespace

Daemon::Daemon(Policy policy, ProberFactory factory, Notifier &notifier, EventSource &events,
               RoundRunner &runner, Logger &log)
    : state_(policy), factory_(std::move(factory)), notifier_(notifier), events_(events),
      runner_(runner), log_(log) {}

std::unique_ptr<Prober> Daemon::load() const {
    auto prober = factory_();
    // A round that can outlast half the watchdog period would get a healthy daemon killed.
    if (auto period = notifier_.watchdog_period()) {
        Duration half = std::chrono::duration_cast<Duration>(*period) / 2;
        if (prober->worst_case() > half || state_.policy().interval > half)
            throw ConfigError(
                "WATCHDOG_USEC: a probe round can take up to " +
                seconds_text(prober->worst_case()) + " (timeout x steps) and the interval is " +
                seconds_text(state_.policy().interval) + ", but both must fit in half of the " +
                seconds_text(*period) + " watchdog period: raise WatchdogSec= or lower timeout");
    }
    return prober;
}

void Daemon::reload() {
    notifier_.notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() +
                     "\nSTATUS=Reloading the tables");
    try {
        prober_ = load();
        log_.notice(msg() << "reloaded: " << prober_->summary());
    } catch (const std::exception &e) {
        // A broken file must never stop mail: keep probing with what we had.
        log_.err(msg() << "reload failed, keeping the previous configuration: " << e.what());
    }
    // READY=1 closes the reload; before the first good round systemd is still waiting for it.
    notifier_.notify(state_.ready() ? "READY=1" : "STATUS=Probing " + prober_->summary());
}

std::string Daemon::status(const RoundResult &round, const HealthState::Step &step) const {
    if (round.healthy())
        return "LDAP healthy: " + prober_->summary() + ", last round " + ms_text(round.latency) +
               ", 0 consecutive failures";
    return std::string(step.give_up ? "LDAP down: " : "LDAP failing: ") +
           std::to_string(state_.consecutive_failures()) + " of " +
           std::to_string(state_.policy().failures) + " consecutive failures, " +
           round.first_failure();
}

std::optional<int> Daemon::finish(const RoundResult &round) {
    auto step = state_.on_round(round.healthy(), events_.now());
    if (round.healthy()) {
        log_.debug(msg() << "round ok in " << ms_text(round.latency));
        if (step.recovered)
            log_.notice(msg() << "LDAP answers again: " << prober_->summary());
    } else {
        log_.warning(msg() << "probe failed (" << state_.consecutive_failures() << " of "
                           << state_.policy().failures << "): " << round.first_failure());
    }
    if (step.ready)
        log_.notice(msg() << "LDAP healthy, ready: " << prober_->summary() << " in "
                          << ms_text(round.latency));
    notifier_.notify(std::string(step.ready ? "READY=1\n" : "") +
                     (step.watchdog ? "WATCHDOG=1\n" : "") + "STATUS=" + status(round, step));
    next_start_ = step.next;
    if (!step.give_up)
        return std::nullopt;
    log_.log(Priority::crit,
             msg() << (state_.ready() ? "LDAP unusable" : "LDAP unusable at start") << " after "
                   << state_.consecutive_failures()
                   << " consecutive failed rounds, exiting: " << round.first_failure());
    return exit_unavailable;
}

std::vector<int> Daemon::watched_fds() const {
    std::vector<int> fds = prober_->watch_fds();
    fds.push_back(runner_.wake_fd());
    return fds;
}

// Rounds start on schedule; one that is still out after --retry-interval does not hold up
// the next, up to --failures rounds at once. Normally a round ends in a millisecond and this
// is a plain loop; against a hung server the rounds overlap and their timeouts end together.
int Daemon::run() {
    prober_ = load();
    notifier_.notify("STATUS=Probing " + prober_->summary());
    next_start_ = events_.now();
    auto max_in_flight = static_cast<std::size_t>(state_.policy().failures);
    for (;;) {
        while (auto round = runner_.take_finished())
            if (auto code = finish(*round))
                return *code;
        TimePoint now = events_.now();
        bool can_start = runner_.in_flight() < max_in_flight;
        if (can_start && now >= next_start_) {
            runner_.start(prober_);
            next_start_ = now + state_.policy().retry_interval;
            continue;
        }
        // With every slot taken only a finished round (or a signal) can move things on.
        TimePoint deadline = can_start ? next_start_ : now + std::chrono::hours(24);
        switch (events_.wait_until(deadline, watched_fds())) {
        case Wakeup::deadline:
            break;
        case Wakeup::io:
            if (prober_->connection_closed()) {
                log_.info("a server closed the idle connection, probing now");
                next_start_ = events_.now();
            }
            break;
        case Wakeup::terminate:
            notifier_.notify("STOPPING=1\nSTATUS=Stopping");
            log_.info("stopping on signal");
            return exit_ok;
        case Wakeup::reload:
            reload();
            next_start_ = events_.now();
            break;
        }
    }
}

} // namespace lhc

#include "daemon.hpp"

#include "config_error.hpp"
#include "exit_codes.hpp"
#include "status_text.hpp"
#include "unusable_table.hpp"

#include <algorithm>
#include <cstdio>
#include <time.h>
#include <utility>

namespace lhc {

namespace {

std::string seconds_text(Duration d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g s", std::chrono::duration<double>(d).count());
    return buf;
}

std::string monotonic_usec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::to_string(static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                          static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
}

// The journal fields of a round: its first failure, or its first probe when healthy.
EventFields fields_of(const RoundResult &round) {
    const ProbeResult *p = round.first_failed();
    if (!p && !round.probes.empty())
        p = &round.probes.front();
    if (!p)
        return {};
    EventFields f{p->server, p->tables, "", ""};
    if (!p->healthy) {
        f.step = step_name(p->step);
        f.result = p->describe();
    }
    return f;
}

} // namespace

Daemon::Daemon(Policy policy, ProberFactory factory, Notifier &notifier, EventSource &events,
               RoundRunner &runner, Reloader &reloader, Logger &log)
    : state_(policy), schedule_(policy.full_interval), factory_(std::move(factory)),
      notifier_(notifier), events_(events), runner_(runner), reloader_(reloader), log_(log),
      server_notes_(log) {}

// The first load runs in the loop: until it is done there is nothing to probe with.
std::unique_ptr<Prober> Daemon::load() {
    ConfigFiles files;
    auto prober = factory_(files);
    check_fits_watchdog(*prober);
    follow(std::move(files));
    return prober;
}

void Daemon::follow(ConfigFiles files) {
    files_ = std::move(files);
    if (watch_)
        watch_->watch(files_);
}

// A change of a table, main.cf or master.cf: a new Postfix process opens what is on disk now,
// so that is what to judge. A reload already running has read the files or is reading them:
// the files are compared again when it is done.
void Daemon::check_config_files() {
    recheck_at_.reset();
    if (reloader_.pending())
        return;
    auto changed = files_.changed();
    if (changed.empty())
        return;
    if (Duration wait = files_.settle_left(); wait > Duration::zero()) {
        recheck_at_ = events_.now() + wait;
        return;
    }
    log_.info(msg() << changed.front() << (changed.size() > 1 ? " and other files" : "")
                    << " changed: reloading");
    reload();
}

// A failed round may only show that a file changed under it (a server migrated, a password
// rotated in the table and on the server): its verdict waits for the tables on disk.
bool Daemon::stale(const RoundResult &round) {
    if (round.healthy() || round.number < first_current_round_ || files_.changed().empty())
        return false;
    if (log_.debug_enabled())
        log_.debug(msg() << "round " << round.number
                         << " failed, but its tables changed since they were read: not counted "
                            "before they are read again");
    if (!recheck_at_)
        recheck_at_ = events_.now() + change_settle;
    return true;
}

// A round that can outlast half the watchdog period would get a healthy daemon killed.
void Daemon::check_fits_watchdog(const Prober &prober) const {
    auto period = notifier_.watchdog_period();
    if (!period)
        return;
    Duration half = std::chrono::duration_cast<Duration>(*period) / 2;
    if (prober.worst_case() > half || state_.policy().interval > half)
        throw ConfigError(
            "WATCHDOG_USEC: a probe round can take up to " + seconds_text(prober.worst_case()) +
            " (timeout x steps) and the interval is " + seconds_text(state_.policy().interval) +
            ", but both must fit in half of the " + seconds_text(*period) +
            " watchdog period: raise WatchdogSec= or lower timeout");
}

void Daemon::reload() {
    notifier_.notify("RELOADING=1\nMONOTONIC_USEC=" + monotonic_usec() + "\n" +
                     status_line("Reloading the tables"));
    reloader_.start(factory_);
}

void Daemon::finish_reload(ReloadResult result) {
    if (!result.files.empty())
        follow(std::move(result.files));
    if (result.prober) {
        try {
            check_fits_watchdog(*result.prober);
        } catch (const ConfigError &e) {
            result = ReloadResult{nullptr, e.what(), "", {}};
        }
    }
    // What Postfix cannot open fails its lookups: a failed round each time, not the old tables.
    bool unusable = !result.prober && !result.unusable_table.empty();
    if (unusable)
        result.prober = std::make_unique<UnusableTableProber>(result.unusable_table, result.error);
    if (result.prober) {
        prober_ = std::move(result.prober);
        // New tables: their first round takes the full path, and rounds of the old ones still
        // out do not count.
        first_current_round_ = rounds_started_;
        schedule_.need_full();
        reload_failure_.reset();
        if (unusable)
            log_.event(Event::reload_failed, Priority::err,
                       msg() << "reloaded: " << result.error
                             << "; Postfix cannot open this table either, so every round fails "
                                "until it is fixed");
        else
            log_.event(Event::reload_done, Priority::notice,
                       msg() << "reloaded: " << prober_->summary());
    } else {
        // A mistake of ours (a canary, postconf) must never stop mail: keep probing with what
        // we had, and say so in every STATUS= until a reload succeeds.
        reload_failure_ = result.error;
        log_.event(Event::reload_failed, Priority::err,
                   msg() << "reload failed, keeping the previous configuration: " << result.error);
    }
    // READY=1 closes the reload; before the first good round systemd is still waiting for it.
    notifier_.notify(std::string(state_.ready() ? "READY=1\n" : "") +
                     status_line("Probing " + prober_->summary()));
    next_start_ = events_.now();
    // The files may have changed again since this reload read them.
    if (std::exchange(reload_again_, false))
        reload();
    else
        recheck_at_ = events_.now();
}

std::string Daemon::status_line(const std::string &text) const {
    return lhc::status_line(text, reload_failure_);
}

// Rounds end out of order (a slow full path, a hung server beside a quick one): a verdict
// counts only when no round started later has been counted yet, so a good round that was out
// while a later one failed (a kept round beside a failing full path, a slow full path that
// bound before a password change) cannot hide that failure, and a round of tables that a
// reload replaced does not speak for the new ones.
bool Daemon::counts(const RoundResult &round) {
    bool current = round.number >= first_current_round_ &&
                   (!last_counted_round_ || round.number > *last_counted_round_);
    if (!current) {
        if (log_.debug_enabled())
            log_.debug(msg() << "round " << round.number << " ended after a later one was "
                             << "counted or the tables were reloaded: not counted ("
                             << (round.healthy() ? "healthy" : "failed: " + round.first_failure())
                             << ")");
        return false;
    }
    last_counted_round_ = round.number;
    schedule_.finished(round.mode, round.healthy(), events_.now());
    return true;
}

std::optional<int> Daemon::finish(const RoundResult &round) {
    if (stale(round) || !counts(round))
        return std::nullopt;
    auto step = state_.on_round(round.healthy(), events_.now());
    auto servers = prober_->server_states();
    server_notes_.changes(servers);
    if (metrics_sink_) {
        metrics_.on_round(round, state_.consecutive_failures(), servers);
        metrics_sink_->write(metrics_);
    }
    if (!round.healthy())
        schedule_.need_full();
    if (round.healthy()) {
        if (log_.debug_enabled())
            log_.debug(msg() << "round ok in " << ms_text(round.latency));
        if (step.recovered)
            log_.event(Event::recovered, Priority::notice,
                       msg() << "LDAP answers again: " << prober_->summary(), fields_of(round));
    } else {
        log_.event(Event::round_failed, Priority::warning,
                   msg() << "probe failed (" << state_.consecutive_failures() << " of "
                         << state_.policy().failures << "): " << round.first_failure(),
                   fields_of(round));
    }
    if (step.ready)
        log_.event(Event::ready, Priority::notice,
                   msg() << "LDAP healthy, ready: " << prober_->summary() << " in "
                         << ms_text(round.latency),
                   fields_of(round));
    notifier_.notify(
        std::string(step.ready ? "READY=1\n" : "") + (step.watchdog ? "WATCHDOG=1\n" : "") +
        status_line(round_status(round, state_, step.give_up, servers, prober_->summary())));
    next_start_ = step.next;
    if (!step.give_up)
        return std::nullopt;
    log_.event(Event::down, Priority::crit,
               msg() << (state_.ready() ? "LDAP unusable" : "LDAP unusable at start") << " after "
                     << state_.consecutive_failures()
                     << " consecutive failed rounds, exiting: " << round.first_failure(),
               fields_of(round));
    return exit_unavailable;
}

std::size_t Daemon::in_flight() const {
    return runner_.in_flight() + (loop_round_ ? 1 : 0);
}

// A round on the kept connection runs in this loop when the prober can (one search, no
// thread); anything else, and every full path, on the runner's threads.
void Daemon::start_round(TimePoint now) {
    ProbeMode mode = schedule_.next(now);
    // A loop round still waiting (a hung server) must not hold up the rounds beside it.
    bool in_loop = mode == ProbeMode::kept && in_flight() == 0 &&
                   (loop_round_ = prober_->start_loop_round()) != nullptr;
    loop_round_sent_ = in_loop;
    if (in_loop)
        loop_round_number_ = rounds_started_;
    else
        runner_.start(prober_, mode, rounds_started_);
    ++rounds_started_;
    next_start_ = now + state_.policy().retry_interval;
}

std::optional<int> Daemon::advance_loop_round() {
    // An answer cannot be there before the loop has waited: no poll(2) right after sending.
    if (!loop_round_ || loop_round_sent_)
        return std::nullopt;
    auto outcome = loop_round_->advance(events_.now());
    if (!outcome)
        return std::nullopt;
    loop_round_.reset();
    outcome->round.mode = ProbeMode::kept;
    outcome->round.number = loop_round_number_;
    if (outcome->needs_full_path) {
        // The server closed or refused the kept connection: not a verdict, ask the full path.
        schedule_.need_full();
        next_start_ = events_.now();
        return std::nullopt;
    }
    return finish(outcome->round);
}

std::vector<int> Daemon::watched_fds() const {
    // While a round runs it may be using the kept connection: its answer is no reason to wake.
    std::vector<int> fds;
    if (in_flight() == 0)
        fds = prober_->watch_fds();
    if (loop_round_)
        fds.push_back(loop_round_->fd());
    if (watch_)
        fds.push_back(watch_->fd());
    fds.push_back(runner_.wake_fd());
    fds.push_back(reloader_.wake_fd());
    return fds;
}

// Rounds start on schedule; one that is still out after --retry-interval does not hold up
// the next, up to --failures (at most max_rounds_in_flight) rounds at once. Normally a round
// ends in a millisecond and this is a plain loop; against a hung server the rounds overlap and
// their timeouts end together. A reload runs beside the rounds, which keep the old prober.
int Daemon::run() {
    prober_ = load();
    notifier_.notify(status_line("Probing " + prober_->summary()));
    next_start_ = events_.now();
    auto max_in_flight =
        std::min(static_cast<std::size_t>(state_.policy().failures), max_rounds_in_flight);
    for (;;) {
        while (auto round = runner_.take_finished())
            if (auto code = finish(*round))
                return *code;
        if (auto reloaded = reloader_.take_finished())
            finish_reload(std::move(*reloaded));
        if (auto code = advance_loop_round())
            return *code;
        if (recheck_at_ && events_.now() >= *recheck_at_)
            check_config_files();
        TimePoint now = events_.now();
        bool can_start = in_flight() < max_in_flight;
        if (can_start && now >= next_start_) {
            start_round(now);
            continue;
        }
        // With every slot taken only a finished round (or a signal) can move things on.
        TimePoint deadline = can_start ? next_start_ : now + std::chrono::hours(24);
        if (loop_round_)
            deadline = std::min(deadline, loop_round_->deadline());
        if (recheck_at_)
            deadline = std::min(deadline, *recheck_at_);
        auto wakeup = events_.wait_until(deadline, watched_fds());
        loop_round_sent_ = false;
        switch (wakeup) {
        case Wakeup::deadline:
            break;
        case Wakeup::io:
            if (watch_ && watch_->take_events())
                recheck_at_ = events_.now() + change_settle;
            if (prober_->connection_closed()) {
                server_notes_.closed_connection(events_.now());
                schedule_.need_full();
                next_start_ = events_.now();
            }
            break;
        case Wakeup::terminate:
            notifier_.notify("STOPPING=1\n" + status_line("Stopping"));
            log_.info("stopping on signal");
            return exit_ok;
        case Wakeup::reload:
            if (reloader_.pending()) {
                log_.info("reload requested while one is running: reloading again after it");
                reload_again_ = true;
            } else {
                reload();
            }
            break;
        }
    }
}

} // namespace lhc

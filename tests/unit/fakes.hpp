// Fakes for the daemon's seams: the clock/signals, systemd, the prober.
#pragma once

#include "clock.hpp"
#include "notifier.hpp"
#include "probe_result.hpp"
#include "reloader.hpp"
#include "rounds.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lhc::testing {

// Time moves only when the daemon waits. Scripted events (signals, descriptor activity)
// arrive at given times; wake points stand for background rounds that finish.
class FakeEvents final : public EventSource {
  public:
    TimePoint now() override { return now_; }
    Wakeup wait_until(TimePoint deadline, const std::vector<int> & = {}) override {
        std::optional<TimePoint> wake;
        for (auto t : wakes_)
            if (t > now_ && t <= deadline && (!wake || t < *wake))
                wake = t;
        if (!events_.empty() && events_.front().first <= deadline &&
            (!wake || events_.front().first <= *wake)) {
            auto [at, what] = events_.front();
            events_.pop_front();
            now_ = std::max(now_, at);
            return what;
        }
        if (wake) {
            now_ = *wake;
            return Wakeup::io;
        }
        now_ = std::max(now_, deadline);
        return Wakeup::deadline;
    }
    void signal_at(Duration after_start, Wakeup what) {
        events_.emplace_back(TimePoint{} + after_start, what);
    }
    void wake_at(TimePoint t) { wakes_.push_back(t); }
    Duration elapsed() const { return now_ - TimePoint{}; }

  private:
    TimePoint now_{};
    std::deque<std::pair<TimePoint, Wakeup>> events_;
    std::vector<TimePoint> wakes_;
};

// Rounds run "in the background" on the fake clock: a round started at t with duration d
// (from `duration`, by round number) is finished from t + d on.
class FakeRunner final : public RoundRunner {
  public:
    explicit FakeRunner(FakeEvents &events) : events_(events) {}
    void start(std::shared_ptr<Prober> prober, ProbeMode mode, std::uint64_t number) override {
        modes.push_back(mode);
        Duration d = duration ? duration(started++) : Duration::zero();
        TimePoint done = events_.now() + d;
        RoundResult r = prober->probe_round(mode);
        r.mode = mode;
        r.number = number;
        pending_.push_back({done, std::move(r)});
        std::stable_sort(pending_.begin(), pending_.end(),
                         [](auto &a, auto &b) { return a.first < b.first; });
        events_.wake_at(done);
        max_in_flight = std::max(max_in_flight, pending_.size());
    }
    std::size_t in_flight() const override { return pending_.size(); }
    std::optional<RoundResult> take_finished() override {
        if (pending_.empty() || pending_.front().first > events_.now())
            return std::nullopt;
        RoundResult r = pending_.front().second;
        pending_.pop_front();
        return r;
    }

    std::function<Duration(std::size_t)> duration; // `modes` already holds the round's mode
    std::size_t started = 0;
    std::size_t max_in_flight = 0;
    std::vector<ProbeMode> modes; // of every round started, in order

  private:
    FakeEvents &events_;
    std::deque<std::pair<TimePoint, RoundResult>> pending_;
};

// Reloads on the fake clock: the factory runs `delay` after the start (never without one), as if
// reading the files took that long.
class FakeReloader final : public Reloader {
  public:
    explicit FakeReloader(FakeEvents &events) : events_(events) {}
    void start(ProberFactory factory) override {
        ++started;
        factory_ = std::move(factory);
        if (delay) {
            due_ = events_.now() + *delay;
            events_.wake_at(*due_);
        }
    }
    bool pending() const override { return factory_ != nullptr; }
    std::optional<ReloadResult> take_finished() override {
        if (!factory_ || !due_ || *due_ > events_.now())
            return std::nullopt;
        due_.reset();
        return build_prober(std::exchange(factory_, nullptr));
    }

    std::optional<Duration> delay = Duration::zero();
    std::size_t started = 0;

  private:
    FakeEvents &events_;
    ProberFactory factory_;
    std::optional<TimePoint> due_;
};

class FakeNotifier final : public Notifier {
  public:
    void notify(std::string_view state) override { messages.emplace_back(state); }
    std::optional<std::chrono::microseconds> watchdog_period() override { return watchdog; }

    std::vector<std::string> messages;
    std::optional<std::chrono::microseconds> watchdog;

    int count(std::string_view assignment) const {
        int n = 0;
        for (const auto &m : messages)
            n += (m.find(assignment) != std::string::npos);
        return n;
    }
};

// A kept-connection round that is over as soon as the loop looks at it.
// With `hangs`, it gets no answer and is over at its deadline, failed.
class FakeLoopRound final : public LoopRound {
  public:
    FakeLoopRound(RoundResult round, bool needs_full, TimePoint deadline)
        : round_(std::move(round)), needs_full_(needs_full), deadline_(deadline) {}
    int fd() const override { return -1; }
    TimePoint deadline() const override { return deadline_; }
    std::optional<Outcome> advance(TimePoint now) override {
        if (now < deadline_)
            return std::nullopt;
        return Outcome{round_, needs_full_};
    }

  private:
    RoundResult round_;
    bool needs_full_;
    TimePoint deadline_;
};

// Plays a script of round verdicts; the last one repeats. Each round costs `round_cost`.
class FakeProber final : public Prober {
  public:
    FakeProber(std::vector<bool> script, FakeEvents *events = nullptr)
        : script_(std::move(script)), events_(events) {}
    RoundResult probe_round(ProbeMode mode) override {
        bool ok =
            verdict ? verdict(mode, rounds) : script_.at(std::min(rounds, script_.size() - 1));
        ++rounds;
        RoundResult r;
        ProbeResult p;
        p.healthy = ok;
        p.tables = "/etc/postfix/ldap-users.cf";
        p.server = "ldap://127.0.0.1:389";
        p.step = ok ? ProbeStep::search : ProbeStep::connect;
        p.ldap_code = ok ? 0 : -1;
        if (!ok)
            p.diagnostic = diagnostic;
        r.probes.push_back(p);
        return r;
    }
    // With `loop_rounds`, kept-connection rounds run in the daemon's loop (as LdapProber's
    // do for one connection); `kept_fails_once` makes the first of them find the kept
    // connection closed.
    std::unique_ptr<LoopRound> start_loop_round() override {
        if (!loop_rounds)
            return nullptr;
        ++loop_rounds_started;
        bool closed = std::exchange(kept_fails_once, false);
        RoundResult r = closed ? RoundResult{} : probe_round(ProbeMode::kept);
        TimePoint now = events_ ? events_->now() : TimePoint{};
        if (!loop_round_hangs_for)
            return std::make_unique<FakeLoopRound>(r, closed, now);
        r.probes.front().healthy = false;
        return std::make_unique<FakeLoopRound>(r, false, now + *loop_round_hangs_for);
    }
    Duration worst_case() const override { return worst; }
    std::string summary() const override { return "1 search on 1 connection"; }
    bool connection_closed() override { return std::exchange(closed, closes_every_time); }
    // Round by round: the states after round N are servers_by_round[min(N, size) - 1].
    std::vector<ServerState> server_states() const override {
        if (servers_by_round.empty() || rounds == 0)
            return {};
        return servers_by_round.at(std::min(rounds, servers_by_round.size()) - 1);
    }

    std::vector<std::vector<ServerState>> servers_by_round;
    std::string diagnostic; // what the server says when a round fails
    // When set, the verdict of round N (counted from 0) by mode, instead of the script.
    std::function<bool(ProbeMode, std::size_t)> verdict;
    bool closed = false;            // the next io wakeup reports a closed idle connection
    bool closes_every_time = false; // and every one after it
    bool loop_rounds = false;
    bool kept_fails_once = false;
    std::optional<Duration> loop_round_hangs_for; // loop rounds get no answer, fail after it
    std::size_t loop_rounds_started = 0;

    std::size_t rounds = 0;
    Duration worst = std::chrono::seconds(10);

  private:
    std::vector<bool> script_;
    FakeEvents *events_;
};

} // namespace lhc::testing

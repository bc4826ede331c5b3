// Fakes for the daemon's seams: the clock/signals, systemd, the prober.
#pragma once

#include "clock.hpp"
#include "notifier.hpp"
#include "probe.hpp"

#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace lhc::testing {

// Time moves only when the daemon waits; scripted signals arrive at given times.
class FakeEvents final : public EventSource {
  public:
    TimePoint now() override { return now_; }
    Wakeup wait_until(TimePoint deadline) override {
        if (!signals_.empty() && signals_.front().first <= deadline) {
            auto [at, what] = signals_.front();
            signals_.pop_front();
            now_ = std::max(now_, at);
            return what;
        }
        now_ = std::max(now_, deadline);
        return Wakeup::deadline;
    }
    void signal_at(Duration after_start, Wakeup what) {
        signals_.emplace_back(TimePoint{} + after_start, what);
    }
    Duration elapsed() const { return now_ - TimePoint{}; }

  private:
    TimePoint now_{};
    std::deque<std::pair<TimePoint, Wakeup>> signals_;
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

// Plays a script of round verdicts; the last one repeats. Each round costs `round_cost`.
class FakeProber final : public Prober {
  public:
    FakeProber(std::vector<bool> script, FakeEvents *events = nullptr)
        : script_(std::move(script)), events_(events) {}
    RoundResult probe_round() override {
        bool ok = script_.at(std::min(rounds, script_.size() - 1));
        ++rounds;
        RoundResult r;
        ProbeResult p;
        p.healthy = ok;
        p.tables = "/etc/postfix/ldap-users.cf";
        p.server = "ldap://127.0.0.1:389";
        p.step = ok ? "search" : "connect";
        p.ldap_code = ok ? 0 : -1;
        r.probes.push_back(p);
        return r;
    }
    Duration worst_case() const override { return worst; }
    std::string summary() const override { return "1 search on 1 connection"; }

    std::size_t rounds = 0;
    Duration worst = std::chrono::seconds(10);

  private:
    std::vector<bool> script_;
    FakeEvents *events_;
};

} // namespace lhc::testing

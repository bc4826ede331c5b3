#include "fakes.hpp"
#include "health.hpp"

#include <gtest/gtest.h>

using namespace lhc;
using namespace std::chrono_literals;

namespace {
Policy policy() {
    return Policy{5s, 500ms, 3};
}
TimePoint at(Duration d) {
    return TimePoint{} + d;
}
} // namespace

TEST(HealthState, FirstGoodRoundIsReadyAndFeedsTheWatchdog) {
    HealthState h(policy());
    auto s = h.on_round(true, at(0s));
    EXPECT_TRUE(s.ready);
    EXPECT_TRUE(s.watchdog);
    EXPECT_FALSE(s.give_up);
    EXPECT_EQ(s.next, at(5s));
    auto again = h.on_round(true, at(5s));
    EXPECT_FALSE(again.ready) << "READY=1 is sent once";
    EXPECT_TRUE(again.watchdog);
}

TEST(HealthState, FailedRoundNeverFeedsTheWatchdogAndRetriesQuickly) {
    HealthState h(policy());
    h.on_round(true, at(0s));
    auto s = h.on_round(false, at(5s));
    EXPECT_FALSE(s.watchdog);
    EXPECT_FALSE(s.ready);
    EXPECT_FALSE(s.give_up);
    EXPECT_EQ(s.next, at(5s + 500ms));
    EXPECT_EQ(h.consecutive_failures(), 1);
}

TEST(HealthState, GivesUpAfterTheConfiguredConsecutiveFailures) {
    HealthState h(policy());
    h.on_round(true, at(0s));
    EXPECT_FALSE(h.on_round(false, at(5s)).give_up);
    EXPECT_FALSE(h.on_round(false, at(6s)).give_up);
    EXPECT_TRUE(h.on_round(false, at(7s)).give_up);
}

TEST(HealthState, OneFailureBetweenGoodRoundsIsForgotten) {
    HealthState h(policy());
    h.on_round(true, at(0s));
    h.on_round(false, at(5s));
    h.on_round(false, at(6s));
    auto s = h.on_round(true, at(7s));
    EXPECT_TRUE(s.recovered);
    EXPECT_EQ(h.consecutive_failures(), 0);
    EXPECT_FALSE(h.on_round(false, at(12s)).give_up);
    EXPECT_FALSE(h.on_round(false, at(13s)).give_up);
}

TEST(HealthState, DownAtStartGivesUpWithoutReady) {
    HealthState h(Policy{5s, 500ms, 2});
    EXPECT_FALSE(h.on_round(false, at(0s)).ready);
    auto s = h.on_round(false, at(1s));
    EXPECT_TRUE(s.give_up);
    EXPECT_FALSE(h.ready());
}

TEST(HealthState, FailuresOfOneGivesUpAtTheFirstFailure) {
    HealthState h(Policy{5s, 500ms, 1});
    h.on_round(true, at(0s));
    EXPECT_TRUE(h.on_round(false, at(5s)).give_up);
}

TEST(FullProbeSchedule, FirstRoundThenEveryIntervalOrWhenNeeded) {
    using namespace std::chrono_literals;
    FullProbeSchedule s(60s);
    TimePoint t0{};
    EXPECT_EQ(s.next(t0), ProbeMode::full);
    s.started(ProbeMode::full, t0);
    EXPECT_EQ(s.next(t0 + 1s), ProbeMode::kept);
    s.started(ProbeMode::kept, t0 + 1s);
    EXPECT_EQ(s.next(t0 + 59s), ProbeMode::kept);
    EXPECT_EQ(s.next(t0 + 60s), ProbeMode::full) << "due whatever the kept rounds did";
    s.need_full();
    EXPECT_EQ(s.next(t0 + 2s), ProbeMode::full) << "after a failure or a closed connection";
    s.started(ProbeMode::full, t0 + 2s);
    EXPECT_EQ(s.next(t0 + 3s), ProbeMode::kept);
    EXPECT_EQ(s.next(t0 + 62s), ProbeMode::full);
}

TEST(FullProbeSchedule, ZeroMeansEveryRound) {
    FullProbeSchedule s(Duration::zero());
    TimePoint t0{};
    s.started(ProbeMode::full, t0);
    EXPECT_EQ(s.next(t0), ProbeMode::full);
}

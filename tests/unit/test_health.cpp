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
    s.finished(ProbeMode::full, true, t0);
    EXPECT_EQ(s.next(t0 + 1s), ProbeMode::kept);
    s.finished(ProbeMode::kept, true, t0 + 1s);
    EXPECT_EQ(s.next(t0 + 59s), ProbeMode::kept);
    EXPECT_EQ(s.next(t0 + 60s), ProbeMode::full) << "due whatever the kept rounds did";
    s.need_full();
    EXPECT_EQ(s.next(t0 + 2s), ProbeMode::full) << "after a failure or a closed connection";
    s.finished(ProbeMode::full, true, t0 + 2s);
    EXPECT_EQ(s.next(t0 + 3s), ProbeMode::kept);
    EXPECT_EQ(s.next(t0 + 62s), ProbeMode::full);
}

// Issue 19: the full path was marked done when it started, so the rounds started beside a slow
// one were kept rounds, passed, and hid its failure for good.
TEST(FullProbeSchedule, TheFullPathIsDoneWhenOneEndsWellNotWhenItStarts) {
    using namespace std::chrono_literals;
    FullProbeSchedule s(60s);
    TimePoint t0{};
    s.finished(ProbeMode::full, true, t0); // due at 60 s, still connecting at 60.25 s
    EXPECT_EQ(s.next(t0 + 60250ms), ProbeMode::full) << "beside a full path in flight";
    s.finished(ProbeMode::full, false, t0 + 60400ms);
    s.finished(ProbeMode::full, false, t0 + 60650ms);
    EXPECT_EQ(s.next(t0 + 70s), ProbeMode::full) << "until a full path ends well";
    s.finished(ProbeMode::full, true, t0 + 70s);
    EXPECT_EQ(s.next(t0 + 71s), ProbeMode::kept);
    EXPECT_EQ(s.next(t0 + 130s), ProbeMode::full) << "due from the end of the last good one";
}

TEST(FullProbeSchedule, ZeroMeansEveryRound) {
    FullProbeSchedule s(Duration::zero());
    TimePoint t0{};
    s.finished(ProbeMode::full, true, t0);
    EXPECT_EQ(s.next(t0), ProbeMode::full);
}

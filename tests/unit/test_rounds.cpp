// ThreadRoundRunner on real threads: results come back through the wake fd, in order, and the
// memory that overlapping rounds raised is handed back once they are over (and only then, at
// most once per trim_spacing).
#include "rounds.hpp"

#include <condition_variable>
#include <gtest/gtest.h>
#include <mutex>
#include <poll.h>

using namespace lhc;

namespace {

// Each round blocks until the test opens the gate.
class GatedProber final : public Prober {
  public:
    RoundResult probe_round(ProbeMode) override {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return open_; });
        return RoundResult{};
    }
    Duration worst_case() const override { return Duration{1}; }
    std::string summary() const override { return "gated"; }

    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Waits (bounded) for the runner's wake fd, then takes one finished round.
RoundResult take_one(ThreadRoundRunner &runner) {
    for (;;) {
        if (auto r = runner.take_finished())
            return *r;
        pollfd p{runner.wake_fd(), POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            throw std::runtime_error("no round finished within 10 s");
    }
}

} // namespace

TEST(ThreadRoundRunner, SequentialRoundsNeverTrim) {
    std::size_t trims = 0;
    ThreadRoundRunner runner([&] { ++trims; });
    for (int i = 0; i < 3; ++i) {
        auto prober = std::make_shared<GatedProber>();
        prober->open();
        runner.start(prober, ProbeMode::full, 0);
        take_one(runner);
        EXPECT_EQ(runner.in_flight(), 0U);
    }
    EXPECT_EQ(trims, 0U);
}

TEST(ThreadRoundRunner, OverlappingRoundsTrimOnceWhenAllAreTaken) {
    std::size_t trims = 0;
    ThreadRoundRunner runner([&] { ++trims; });
    auto prober = std::make_shared<GatedProber>();
    runner.start(prober, ProbeMode::full, 0);
    runner.start(prober, ProbeMode::full, 0);
    EXPECT_EQ(runner.in_flight(), 2U);
    prober->open();
    take_one(runner);
    EXPECT_EQ(trims, 0U) << "trimmed while a round was still out";
    take_one(runner);
    EXPECT_EQ(runner.in_flight(), 0U);
    EXPECT_EQ(trims, 1U);

    // Back to one round at a time: no further trims.
    auto single = std::make_shared<GatedProber>();
    single->open();
    runner.start(single, ProbeMode::full, 0);
    take_one(runner);
    EXPECT_EQ(trims, 1U);
}

TEST(ThreadRoundRunner, OverlapsEveryCycleTrimAtMostOncePerSpacing) {
    // A directory always slower than --retry-interval: rounds overlap in every cycle.
    std::size_t trims = 0;
    ThreadRoundRunner runner([&] { ++trims; });
    for (int cycle = 0; cycle < 5; ++cycle) {
        auto prober = std::make_shared<GatedProber>();
        runner.start(prober, ProbeMode::full, 0);
        runner.start(prober, ProbeMode::full, 0);
        prober->open();
        take_one(runner);
        take_one(runner);
    }
    EXPECT_EQ(trims, 1U) << "5 cycles well within " << ThreadRoundRunner::trim_spacing.count()
                         << " s";
}

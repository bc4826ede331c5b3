// Every step of a probe ends at its limit, even where libldap itself would wait on.
#include "step_deadline.hpp"

#include <condition_variable>
#include <gtest/gtest.h>
#include <mutex>
#include <thread>

using namespace lhc;
using namespace std::chrono_literals;

namespace {

// A step that blocks until released: what a getaddrinfo() against a silent DNS server or a
// referral's synchronous bind looks like from the outside.
struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool open = false;
    bool ended = false;

    void block() {
        std::unique_lock lock(mutex);
        cv.wait(lock, [this] { return open; });
    }
    void release() {
        std::lock_guard lock(mutex);
        open = true;
        cv.notify_all();
    }
    void mark_ended() {
        std::lock_guard lock(mutex);
        ended = true;
        cv.notify_all();
    }
    void wait_ended() {
        std::unique_lock lock(mutex);
        cv.wait(lock, [this] { return ended; });
    }
};

} // namespace

TEST(StepDeadline, WorkThatEndsInTimeIsWaitedFor) {
    bool ran = false;
    auto overrun = run_with_step_deadlines(
        [&](StepWatch &watch) {
            watch.begin(ProbeStep::connect, "ldap://a", 10s);
            watch.begin(ProbeStep::search, "ldap://a", 10s);
            ran = true;
            watch.finish();
        },
        100ms);
    EXPECT_FALSE(overrun.has_value());
    EXPECT_TRUE(ran);
}

TEST(StepDeadline, AStepThatNeverEndsIsLeftBehindAtItsLimitAndCounted) {
    auto gate = std::make_shared<Gate>();
    int before = stragglers();
    auto start = Clock::now();
    auto overrun = run_with_step_deadlines(
        [gate](StepWatch &watch) {
            watch.begin(ProbeStep::connect, "ldap://fast", 10s);
            watch.begin(ProbeStep::search, "ldap://silent", 50ms);
            gate->block();
            watch.finish();
            gate->mark_ended();
        },
        50ms);
    auto waited = Clock::now() - start;
    ASSERT_TRUE(overrun.has_value());
    EXPECT_EQ(overrun->step, ProbeStep::search);
    EXPECT_EQ(overrun->server, "ldap://silent");
    EXPECT_EQ(overrun->limit, 50ms);
    EXPECT_GE(waited, 100ms);
    EXPECT_LT(waited, 5s) << "the caller must not wait for the blocked step";
    EXPECT_EQ(stragglers(), before + 1);
    gate->release();
    gate->wait_ended();
    // The worker decrements on its way out, right after mark_ended(); poll for it.
    for (auto until = Clock::now() + 5s; stragglers() != before && Clock::now() < until;)
        std::this_thread::yield();
    EXPECT_EQ(stragglers(), before);
}

TEST(StepDeadline, HugeLimitsDoNotOverflow) {
    auto overrun = run_with_step_deadlines(
        [](StepWatch &watch) {
            watch.begin(ProbeStep::connect, "ldap://a", Duration::max());
            watch.finish();
        },
        Duration::max());
    EXPECT_FALSE(overrun.has_value());
}

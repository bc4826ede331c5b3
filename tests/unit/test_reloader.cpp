// ThreadReloader on real threads: the factory runs off the caller's thread, its result (or its
// error) comes back through the wake fd, and a reload still stuck when the reloader goes away
// cannot touch freed memory.
#include "config_error.hpp"
#include "reloader.hpp"

#include <condition_variable>
#include <future>
#include <gtest/gtest.h>
#include <mutex>
#include <poll.h>

using namespace lhc;

namespace {

class Gate {
  public:
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return open_; });
    }
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

// Tells when it is destroyed, i.e. when the last owner of a reload's result let go.
class NoteDestructionProber final : public Prober {
  public:
    explicit NoteDestructionProber(std::promise<void> *destroyed = nullptr)
        : destroyed_(destroyed) {}
    ~NoteDestructionProber() override {
        if (destroyed_)
            destroyed_->set_value();
    }
    RoundResult probe_round(ProbeMode) override { return {}; }
    Duration worst_case() const override { return Duration{1}; }
    std::string summary() const override { return "reloaded"; }

  private:
    std::promise<void> *destroyed_;
};

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

} // namespace

TEST(ThreadReloader, FactoryRunsOffTheCallerAndWakesTheLoopWhenDone) {
    ThreadReloader reloader;
    Gate gate;
    reloader.start([&](ConfigFiles &) -> std::unique_ptr<Prober> {
        gate.wait();
        return std::make_unique<NoteDestructionProber>();
    });
    // start() returned although the factory is blocked: the loop stays free.
    EXPECT_TRUE(reloader.pending());
    EXPECT_FALSE(readable(reloader.wake_fd(), 0));
    EXPECT_FALSE(reloader.take_finished());
    EXPECT_THROW(reloader.start([](ConfigFiles &) { return std::unique_ptr<Prober>(); }),
                 std::logic_error);

    gate.open();
    ASSERT_TRUE(readable(reloader.wake_fd(), 10000)) << "no wakeup within 10 s";
    auto result = reloader.take_finished();
    ASSERT_TRUE(result);
    ASSERT_TRUE(result->prober);
    EXPECT_EQ(result->prober->summary(), "reloaded");
    EXPECT_FALSE(reloader.pending());
    EXPECT_FALSE(readable(reloader.wake_fd(), 0)) << "taking the result drains the wake fd";
}

TEST(ThreadReloader, ConfigErrorBecomesAFailedResult) {
    ThreadReloader reloader;
    reloader.start([](ConfigFiles &) -> std::unique_ptr<Prober> {
        throw ConfigError("/etc/postfix/ldap-users.cf", 7, "bad numerical value");
    });
    ASSERT_TRUE(readable(reloader.wake_fd(), 10000));
    auto result = reloader.take_finished();
    ASSERT_TRUE(result);
    EXPECT_FALSE(result->prober);
    EXPECT_EQ(result->error, "/etc/postfix/ldap-users.cf:7: bad numerical value");
}

TEST(ThreadReloader, ReloadStuckPastTheReloaderFinishesSafely) {
    Gate gate;
    std::promise<void> destroyed;
    auto released = destroyed.get_future();
    {
        ThreadReloader reloader;
        reloader.start([&](ConfigFiles &) -> std::unique_ptr<Prober> {
            gate.wait();
            return std::make_unique<NoteDestructionProber>(&destroyed);
        });
    }
    // The reloader is gone (the daemon stopped); the reload now ends and must store its
    // result in state the thread still owns, then free it.
    gate.open();
    EXPECT_EQ(released.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

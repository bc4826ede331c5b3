#include "step_deadline.hpp"

#include "workers.hpp"

#include <atomic>

namespace lhc {

namespace {

std::atomic<int> straggler_count{0};

// Saturating: a table may say "timeout = 2147483647".
TimePoint deadline_after(Duration limit) {
    TimePoint now = Clock::now();
    return limit >= TimePoint::max() - now ? TimePoint::max() : now + limit;
}

} // namespace

void StepWatch::begin(ProbeStep step, const std::string &server, Duration limit) {
    std::lock_guard lock(mutex_);
    current_ = Overrun{step, server, limit};
    deadline_ = deadline_after(limit);
    changed_.notify_all();
}

void StepWatch::finish() {
    std::lock_guard lock(mutex_);
    done_ = true;
    changed_.notify_all();
}

std::optional<Overrun> StepWatch::wait(Duration grace) {
    std::unique_lock lock(mutex_);
    for (;;) {
        if (done_)
            return std::nullopt;
        TimePoint until =
            deadline_ >= TimePoint::max() - grace ? TimePoint::max() : deadline_ + grace;
        if (until == TimePoint::max())
            changed_.wait(lock);
        else if (Clock::now() >= until)
            return current_;
        else
            changed_.wait_until(lock, until);
    }
}

std::optional<Overrun> run_with_step_deadlines(std::function<void(StepWatch &watch)> work,
                                               Duration grace) {
    struct Shared {
        StepWatch watch;
        std::mutex mutex;
        bool abandoned = false;
        bool ended = false;
    };
    auto shared = std::make_shared<Shared>();
    run_on_worker([shared, work = std::move(work)] {
        work(shared->watch);
        std::lock_guard lock(shared->mutex);
        shared->ended = true;
        if (shared->abandoned)
            --straggler_count;
    });
    auto overrun = shared->watch.wait(grace);
    std::lock_guard lock(shared->mutex);
    // A step that ended right at its limit still brought its real result.
    if (!overrun || shared->ended)
        return std::nullopt;
    shared->abandoned = true;
    ++straggler_count;
    return overrun;
}

int stragglers() {
    return straggler_count.load();
}

} // namespace lhc

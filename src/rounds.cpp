#include "rounds.hpp"

#include "event_fd.hpp"
#include "workers.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <malloc.h>
#include <mutex>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace lhc {

struct ThreadRoundRunner::State {
    mutable std::mutex mutex;
    std::deque<RoundResult> finished;
    std::size_t running = 0;
    // Most rounds in flight at once since the runner was last idle.
    std::size_t peak = 0;
    EventFd wake;
};

ThreadRoundRunner::ThreadRoundRunner(Trim trim)
    : state_(std::make_shared<State>()), trim_(std::move(trim)) {}

void ThreadRoundRunner::default_trim() {
    malloc_trim(0);
}

void ThreadRoundRunner::start(std::shared_ptr<Prober> prober, ProbeMode mode,
                              std::uint64_t number) {
    {
        std::lock_guard lock(state_->mutex);
        ++state_->running;
        state_->peak = std::max(state_->peak, state_->running + state_->finished.size());
    }
    run_on_worker([state = state_, prober = std::move(prober), mode, number] {
        RoundResult result = prober->probe_round(mode);
        result.mode = mode;
        result.number = number;
        std::lock_guard lock(state->mutex);
        state->finished.push_back(std::move(result));
        --state->running;
        state->wake.raise();
    });
}

std::size_t ThreadRoundRunner::in_flight() const {
    std::lock_guard lock(state_->mutex);
    return state_->running + state_->finished.size();
}

std::optional<RoundResult> ThreadRoundRunner::take_finished() {
    std::unique_lock lock(state_->mutex);
    // The wake fd is raised only together with `finished` and cleared with its last round: no
    // read(2) on every loop turn.
    if (state_->finished.empty())
        return std::nullopt;
    RoundResult r = std::move(state_->finished.front());
    state_->finished.pop_front();
    if (state_->finished.empty())
        state_->wake.clear();
    bool idle = state_->running == 0 && state_->finished.empty();
    bool overlap_ended = idle && state_->peak > 1;
    if (idle)
        state_->peak = 0;
    lock.unlock();
    // Overlapping rounds (a slow or hung server) raise the heap's high-water mark; give that
    // memory back once they are over, so an incident does not leave the daemon bigger for
    // the years it runs. Steady state, one round at a time, never gets here; a directory that
    // is always slower than --retry-interval overlaps every cycle, hence the spacing.
    if (!overlap_ended)
        return r;
    auto now = std::chrono::steady_clock::now();
    if (!last_trim_ || now - *last_trim_ >= trim_spacing) {
        last_trim_ = now;
        trim_();
    }
    return r;
}

int ThreadRoundRunner::wake_fd() const {
    return state_->wake.fd();
}

} // namespace lhc

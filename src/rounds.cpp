#include "rounds.hpp"

#include <cerrno>
#include <cstdint>
#include <deque>
#include <mutex>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace lhc {

struct ThreadRoundRunner::State {
    mutable std::mutex mutex;
    std::deque<RoundResult> finished;
    std::size_t running = 0;
    int event_fd = -1;

    State() {
        event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd < 0)
            throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ~State() { close(event_fd); }
};

ThreadRoundRunner::ThreadRoundRunner() : state_(std::make_shared<State>()) {}

void ThreadRoundRunner::start(std::shared_ptr<Prober> prober) {
    {
        std::lock_guard lock(state_->mutex);
        ++state_->running;
    }
    std::thread([state = state_, prober = std::move(prober)] {
        RoundResult result = prober->probe_round();
        std::lock_guard lock(state->mutex);
        state->finished.push_back(std::move(result));
        --state->running;
        uint64_t one = 1;
        (void)!write(state->event_fd, &one, sizeof one);
    }).detach();
}

std::size_t ThreadRoundRunner::in_flight() const {
    std::lock_guard lock(state_->mutex);
    return state_->running + state_->finished.size();
}

std::optional<RoundResult> ThreadRoundRunner::take_finished() {
    std::lock_guard lock(state_->mutex);
    if (state_->finished.empty()) {
        uint64_t drained;
        (void)!read(state_->event_fd, &drained, sizeof drained);
        return std::nullopt;
    }
    RoundResult r = std::move(state_->finished.front());
    state_->finished.pop_front();
    return r;
}

int ThreadRoundRunner::wake_fd() const {
    return state_->event_fd;
}

} // namespace lhc

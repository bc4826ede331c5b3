#include "reloader.hpp"

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <sys/eventfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>

namespace lhc {

ReloadResult build_prober(const ProberFactory &factory) {
    ReloadResult result;
    try {
        result.prober = factory();
    } catch (const std::exception &e) {
        result.error = e.what();
    }
    return result;
}

struct ThreadReloader::State {
    mutable std::mutex mutex;
    bool running = false;
    std::optional<ReloadResult> finished;
    int event_fd = -1;

    State() {
        event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (event_fd < 0)
            throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ~State() { close(event_fd); }
};

ThreadReloader::ThreadReloader() : state_(std::make_shared<State>()) {}

void ThreadReloader::start(ProberFactory factory) {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->running || state_->finished)
            throw std::logic_error("a reload is already pending");
        state_->running = true;
    }
    std::thread([state = state_, factory = std::move(factory)] {
        ReloadResult result = build_prober(factory);
        std::lock_guard lock(state->mutex);
        state->finished = std::move(result);
        state->running = false;
        uint64_t one = 1;
        (void)!write(state->event_fd, &one, sizeof one);
    }).detach();
}

bool ThreadReloader::pending() const {
    std::lock_guard lock(state_->mutex);
    return state_->running || state_->finished;
}

std::optional<ReloadResult> ThreadReloader::take_finished() {
    std::lock_guard lock(state_->mutex);
    // The wake fd is written only together with `finished`: no read(2) on every loop turn.
    if (!state_->finished)
        return std::nullopt;
    uint64_t drained;
    (void)!read(state_->event_fd, &drained, sizeof drained);
    return std::exchange(state_->finished, std::nullopt);
}

int ThreadReloader::wake_fd() const {
    return state_->event_fd;
}

} // namespace lhc

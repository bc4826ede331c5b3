#include "reloader.hpp"

#include "config_error.hpp"
#include "event_fd.hpp"

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>

namespace lhc {

ReloadResult build_prober(const ProberFactory &factory) {
    ReloadResult result;
    try {
        result.prober = factory(result.files);
    } catch (const UnusableTable &e) {
        result.error = e.what();
        result.unusable_table = e.file();
    } catch (const std::exception &e) {
        result.error = e.what();
    }
    return result;
}

struct ThreadReloader::State {
    mutable std::mutex mutex;
    bool running = false;
    std::optional<ReloadResult> finished;
    EventFd wake;
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
        state->wake.raise();
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
    state_->wake.clear();
    return std::exchange(state_->finished, std::nullopt);
}

int ThreadReloader::wake_fd() const {
    return state_->wake.fd();
}

} // namespace lhc

#include "clock.hpp"

#include <cerrno>
#include <csignal>
#include <poll.h>
#include <sys/signalfd.h>
#include <system_error>
#include <unistd.h>

namespace lhc {

namespace {
sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}
} // namespace

SignalEventSource::SignalEventSource() {
    sigset_t set = handled_signals();
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "sigprocmask");
    fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "signalfd");
}

SignalEventSource::~SignalEventSource() {
    if (fd_ >= 0)
        close(fd_);
}

Wakeup SignalEventSource::wait_until(TimePoint deadline) {
    for (;;) {
        signalfd_siginfo info{};
        if (read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
            if (info.ssi_signo == SIGHUP)
                return Wakeup::reload;
            return Wakeup::terminate;
        }
        auto left = deadline - Clock::now();
        if (left <= Duration::zero())
            return Wakeup::deadline;
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        pollfd pfd{fd_, POLLIN, 0};
        if (ppoll(&pfd, 1, &ts, nullptr) < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "ppoll");
    }
}

} // namespace lhc

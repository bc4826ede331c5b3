#include "clock.hpp"

#include <algorithm>
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

Wakeup SignalEventSource::wait_until(TimePoint deadline, const std::vector<int> &fds) {
    std::vector<pollfd> watched{{fd_, POLLIN, 0}};
    for (int fd : fds)
        if (fd >= 0)
            watched.push_back({fd, POLLIN, 0});
    // The signalfd is read only when ppoll finds it readable: a healthy round wakes this loop
    // twice, and a read(2) that finds nothing on every turn is a third of its system calls.
    for (;;) {
        auto left = std::max(deadline - Clock::now(), Duration::zero());
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        int n = ppoll(watched.data(), watched.size(), &ts, nullptr);
        if (n < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), "ppoll");
        // Signals first: a SIGTERM must not wait behind a busy descriptor.
        signalfd_siginfo info{};
        if (n > 0 && watched[0].revents != 0 &&
            read(fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info))
            return info.ssi_signo == SIGHUP ? Wakeup::reload : Wakeup::terminate;
        if (n > 0 && watched[0].revents == 0)
            return Wakeup::io;
        if (n == 0 && Clock::now() >= deadline)
            return Wakeup::deadline;
    }
}

} // namespace lhc

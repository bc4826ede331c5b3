#include "event_fd.hpp"

#include <cerrno>
#include <cstdint>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace lhc {

EventFd::EventFd() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
}

EventFd::~EventFd() {
    close(fd_);
}

void EventFd::raise() {
    uint64_t one = 1;
    (void)!write(fd_, &one, sizeof one);
}

void EventFd::clear() {
    uint64_t drained;
    (void)!read(fd_, &drained, sizeof drained);
}

} // namespace lhc

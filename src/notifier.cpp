#include "notifier.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

namespace lhc {

SdNotifier::~SdNotifier() {
    close_socket();
}

void SdNotifier::close_socket() {
    if (fd_ >= 0)
        close(fd_);
    fd_ = -1;
}

bool SdNotifier::connect_socket() {
    const char *name = std::getenv("NOTIFY_SOCKET");
    if (!name || (name[0] != '/' && name[0] != '@'))
        return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::size_t len = std::strlen(name);
    if (len >= sizeof addr.sun_path)
        return false;
    std::memcpy(addr.sun_path, name, len);
    if (name[0] == '@')
        addr.sun_path[0] = '\0'; // the abstract namespace, as sd_notify(3) reads '@'
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        return false;
    auto size =
        static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len + (name[0] == '@' ? 0 : 1));
    if (connect(fd_, reinterpret_cast<const sockaddr *>(&addr), size) != 0) {
        close_socket();
        return false;
    }
    return true;
}

void SdNotifier::notify(std::string_view state) {
    // Failing to reach systemd is not fatal: outside a notify unit there is nobody to tell.
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (fd_ < 0 && !connect_socket())
            break;
        if (send(fd_, state.data(), state.size(), MSG_NOSIGNAL) >= 0)
            return;
        // The manager may have been re-executed, or the socket replaced: connect once more.
        close_socket();
    }
    if (fd_ < 0 && std::getenv("NOTIFY_SOCKET")) {
        std::string s(state);
        sd_notify(0, s.c_str());
    }
}

std::optional<std::chrono::microseconds> SdNotifier::watchdog_period() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::microseconds(usec);
    return std::nullopt;
}

} // namespace lhc

// SdNotifier against a real AF_UNIX datagram socket set as NOTIFY_SOCKET, as systemd does it.
#include "notifier.hpp"

#include <cstdlib>
#include <gtest/gtest.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace lhc;

namespace {

class NotifySocket {
  public:
    NotifySocket() {
        char tmpl[] = "/tmp/lhc-notify-XXXXXX";
        dir_ = mkdtemp(tmpl);
        path_ = dir_ + "/notify";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
        if (bind(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
            ADD_FAILURE() << "bind " << path_;
        setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~NotifySocket() {
        unsetenv("NOTIFY_SOCKET");
        close(fd_);
        unlink(path_.c_str());
        rmdir(dir_.c_str());
    }
    // The next datagram, or "" after one second.
    std::string receive() {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 1000) != 1)
            return "";
        char buf[4096];
        ssize_t n = recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    }

  private:
    std::string dir_, path_;
    int fd_ = -1;
};

} // namespace

TEST(SdNotifier, SendsTheStateAsOneDatagram) {
    NotifySocket sock;
    SdNotifier n;
    n.notify("READY=1\nSTATUS=LDAP healthy");
    EXPECT_EQ(sock.receive(), "READY=1\nSTATUS=LDAP healthy");
    n.notify("WATCHDOG=1");
    EXPECT_EQ(sock.receive(), "WATCHDOG=1");
}

TEST(SdNotifier, WithoutNotifySocketNothingFails) {
    unsetenv("NOTIFY_SOCKET");
    SdNotifier n;
    n.notify("READY=1");
    SUCCEED();
}

TEST(SdNotifier, WatchdogPeriodComesFromWatchdogUsecForThisProcess) {
    SdNotifier n;
    setenv("WATCHDOG_USEC", "30000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    ASSERT_TRUE(n.watchdog_period().has_value());
    EXPECT_EQ(*n.watchdog_period(), std::chrono::seconds(30));
    setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
    EXPECT_FALSE(n.watchdog_period().has_value()) << "the watchdog of another process";
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    EXPECT_FALSE(n.watchdog_period().has_value());
}

// SdNotifier against a real AF_UNIX datagram socket set as NOTIFY_SOCKET, as systemd does it.
#include "notifier.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <fcntl.h>
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

static int open_fds() {
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

TEST(SdNotifier, KeepsOneSocketForEveryMessage) {
    NotifySocket sock;
    SdNotifier n;
    int before = open_fds();
    n.notify("STATUS=first");
    EXPECT_EQ(sock.receive(), "STATUS=first");
    EXPECT_EQ(open_fds(), before + 1) << "the socket is not kept open";
    for (int i = 0; i < 50; ++i) {
        n.notify("WATCHDOG=1");
        EXPECT_EQ(sock.receive(), "WATCHDOG=1");
    }
    EXPECT_EQ(open_fds(), before + 1) << "a socket per message";
}

TEST(SdNotifier, ConnectsAgainWhenTheManagerReplacedItsSocket) {
    SdNotifier n;
    {
        NotifySocket sock;
        n.notify("READY=1");
        EXPECT_EQ(sock.receive(), "READY=1");
    }
    NotifySocket again; // a new socket, as after systemd's daemon-reexec
    n.notify("WATCHDOG=1");
    EXPECT_EQ(again.receive(), "WATCHDOG=1");
}

TEST(SdNotifier, ReachesAnAbstractSocket) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string name = "lhc-notify-test-" + std::to_string(getpid());
    name.copy(addr.sun_path + 1, sizeof addr.sun_path - 2);
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&addr), size), 0);
    setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
    SdNotifier n;
    n.notify("READY=1");
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 1000), 1);
    char buf[64];
    ssize_t got = recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(std::max<ssize_t>(got, 0))), "READY=1");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
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

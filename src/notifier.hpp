// A thin interface over systemd's notification protocol so tests can record what the daemon
// tells systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lhc {

class Notifier {
  public:
    virtual ~Notifier() = default;
    // `state` is one or more newline-separated VAR=value assignments.
    virtual void notify(std::string_view state) = 0;
    // The watchdog period systemd asked for (WATCHDOG_USEC for this process), if any.
    virtual std::optional<std::chrono::microseconds> watchdog_period() = 0;
};

// sd_notify(3)'s protocol over one socket kept open: sd_notify() makes a socket for every
// message (eleven system calls), and the daemon sends one after every round, so the socket
// is the larger part of what a healthy round costs in system calls. A NOTIFY_SOCKET that is
// not an AF_UNIX path or abstract name is left to sd_notify() itself.
class SdNotifier final : public Notifier {
  public:
    SdNotifier() = default;
    ~SdNotifier() override;
    SdNotifier(const SdNotifier &) = delete;
    SdNotifier &operator=(const SdNotifier &) = delete;

    void notify(std::string_view state) override;
    std::optional<std::chrono::microseconds> watchdog_period() override;

  private:
    // Connects to $NOTIFY_SOCKET; false when it is unset or not a form this class handles.
    bool connect_socket();
    void close_socket();

    int fd_ = -1;
};

} // namespace lhc

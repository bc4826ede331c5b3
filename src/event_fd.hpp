// A flag another thread raises and the daemon's poll() sees: an eventfd.
#pragma once

namespace lhc {

class EventFd {
  public:
    EventFd(); // throws std::system_error
    ~EventFd();
    EventFd(const EventFd &) = delete;
    EventFd &operator=(const EventFd &) = delete;

    int fd() const { return fd_; }
    void raise();
    void clear(); // never blocks

  private:
    int fd_ = -1;
};

} // namespace lhc

// A thin interface over sd_notify(3) so tests can record what the daemon tells systemd.
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

// sd_notify(3) itself.
class SdNotifier final : public Notifier {
  public:
    void notify(std::string_view state) override;
    std::optional<std::chrono::microseconds> watchdog_period() override;
};

} // namespace lhc

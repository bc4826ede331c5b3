#include "notifier.hpp"

#include <string>
#include <systemd/sd-daemon.h>

namespace lhc {

void SdNotifier::notify(std::string_view state) {
    // Failing to reach systemd is not fatal: outside a notify unit there is nobody to tell.
    std::string s(state);
    sd_notify(0, s.c_str());
}

std::optional<std::chrono::microseconds> SdNotifier::watchdog_period() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::microseconds(usec);
    return std::nullopt;
}

} // namespace lhc

#include "notifier.hpp"

#include <dlfcn.h>
#include <stdexcept>
#include <string>
#include <systemd/sd-daemon.h>

namespace lhc {

namespace {

// libsystemd is loaded when the daemon starts rather than linked: a --once or --check-config
// process never talks to systemd, and without the link it neither maps nor relocates
// libsystemd and the six libraries that come with it (bench/: 0.9 MiB of peak RSS per --once
// run, which the recover timer starts every 2 s during an outage). The function types come
// from the header, so a changed signature is still a compile error.
struct LibSystemd {
    decltype(&sd_notify) notify = nullptr;
    decltype(&sd_watchdog_enabled) watchdog_enabled = nullptr;
};

template <typename F> void bind_symbol(void *handle, const char *name, F &f) {
    f = reinterpret_cast<F>(dlsym(handle, name));
    if (f == nullptr)
        throw std::runtime_error(std::string("libsystemd.so.0 has no ") + name);
}

const LibSystemd &libsystemd() {
    // Loaded once and never closed: it is used for as long as the process lives.
    static const LibSystemd lib = [] {
        void *handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr)
            throw std::runtime_error(std::string("cannot load libsystemd: ") + dlerror());
        LibSystemd l;
        bind_symbol(handle, "sd_notify", l.notify);
        bind_symbol(handle, "sd_watchdog_enabled", l.watchdog_enabled);
        return l;
    }();
    return lib;
}

} // namespace

SdNotifier::SdNotifier() {
    libsystemd();
}

void SdNotifier::notify(std::string_view state) {
    // Failing to reach systemd is not fatal: outside a notify unit there is nobody to tell.
    std::string s(state);
    libsystemd().notify(0, s.c_str());
}

std::optional<std::chrono::microseconds> SdNotifier::watchdog_period() {
    uint64_t usec = 0;
    if (libsystemd().watchdog_enabled(0, &usec) > 0 && usec > 0)
        return std::chrono::microseconds(usec);
    return std::nullopt;
}

} // namespace lhc

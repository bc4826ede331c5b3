#include "log.hpp"

#include <cerrno>
#include <unistd.h>

namespace lhc {

void Logger::log(Priority p, std::string_view text) {
    if (p == Priority::debug && !debug_)
        return;
    std::string line = "<" + std::to_string(static_cast<int>(p)) + ">";
    // One event is one journal entry: fold embedded newlines (e.g. from server diagnostics).
    for (char c : text)
        line += (c == '\n' || c == '\r') ? ' ' : c;
    line += '\n';
    write_line(line);
}

void Logger::log(Priority p, const msg &m) {
    log(p, m.str());
}

void Logger::write_line(std::string_view line) {
    // A single write(2) keeps lines whole when several threads log.
    while (!line.empty()) {
        ssize_t n = ::write(fd_, line.data(), line.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        line.remove_prefix(static_cast<size_t>(n));
    }
}

} // namespace lhc

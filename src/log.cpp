#include "log.hpp"

#include <cerrno>
#include <unistd.h>

namespace lhc {
namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// A log line is one journal entry and is read on terminals: line breaks and tabs become a space,
// every other control byte (NUL, ESC, ...) the four characters \xHH.
void append_printable(std::string &line, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (!is_control(u))
            line += c;
        else if (c == '\n' || c == '\r' || c == '\t')
            line += ' ';
        else
            line.append({'\\', 'x', hex[u >> 4], hex[u & 0xf]});
    }
}

} // namespace

std::string printable(std::string_view text) {
    std::string out;
    append_printable(out, text);
    return out;
}

void Logger::log(Priority p, std::string_view text) {
    if (p == Priority::debug && !debug_)
        return;
    std::string line = "<" + std::to_string(static_cast<int>(p)) + ">";
    append_printable(line, text);
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

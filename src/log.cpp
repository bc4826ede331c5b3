#include "log.hpp"

#include "utf8.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace lhc {
namespace {

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// A log line is one journal entry and is read on terminals: line breaks and tabs become a space,
// every other control byte (NUL, ESC, ...) and every byte that is not part of well-formed UTF-8
// the four characters \xHH.
void append_printable(std::string &line, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < text.size();) {
        char c = text[i];
        auto u = static_cast<unsigned char>(c);
        std::size_t len = utf8_length(text, i);
        if (len > 1 || (len == 1 && !is_control(u)))
            line.append(text.substr(i, len));
        else if (c == '\n' || c == '\r' || c == '\t')
            line += ' ';
        else
            line.append({'\\', 'x', hex[u >> 4], hex[u & 0xf]});
        i += len > 0 ? len : 1;
    }
}

// systemd.exec(5): JOURNAL_STREAM holds the device and inode of the stream it connected to
// stdout and stderr; a match means our stderr is still that stream, not redirected.
bool is_journal_stream(int fd) {
    const char *env = std::getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st {};
    return env && std::sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
           st.st_dev == dev && st.st_ino == ino;
}

} // namespace

const char *message_id(Event e) {
    switch (e) {
    case Event::ready:
        return "5d8c45eef303479ebe855e27af96015b";
    case Event::round_failed:
        return "f5bd0bd0296f49daac3308eaa98dc262";
    case Event::down:
        return "59d3dbaad4bc4980b29bd945bf16e74d";
    case Event::recovered:
        return "39ad331f979944ecba45a0e8e571f6d6";
    case Event::degraded:
        return "b4cfa43d1ac44cb5af04094df4b90851";
    case Event::server_back:
        return "6ad70561c91d45e695d1419803ef1cf6";
    case Event::reload_done:
        return "3c313be52bc04aaa9d43d5955b16853d";
    case Event::reload_failed:
        return "3c06b1276f9f488ca36b3121685eed57";
    }
    return "";
}

Logger::Logger(int fd) : fd_(fd), journal_(is_journal_stream(fd)) {}

void Logger::event(Event e, Priority p, std::string_view text, const EventFields &fields) {
    if (journal_ && write_event(e, p, text, fields))
        return;
    log(p, text);
}

bool Logger::write_event(Event e, Priority p, std::string_view text, const EventFields &fields) {
    std::vector<std::string> items{
        "MESSAGE=" + printable(text),
        "PRIORITY=" + std::to_string(static_cast<int>(p)),
        std::string("MESSAGE_ID=") + message_id(e),
        std::string("SYSLOG_IDENTIFIER=") + program_invocation_short_name,
    };
    for (auto [name, value] :
         {std::pair{"LDAP_SERVER=", &fields.server}, std::pair{"LDAP_TABLE=", &fields.table},
          std::pair{"LDAP_STEP=", &fields.step}, std::pair{"LDAP_RESULT=", &fields.result}})
        if (!value->empty())
            items.push_back(name + printable(*value));
    std::vector<iovec> iov;
    for (auto &item : items)
        iov.push_back({item.data(), item.size()});
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

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

// One line an event on stderr, with sd-daemon "<N>" priority prefixes that journald understands.
// No timestamps (the journal has them), no colours, never a secret, never a control byte: a
// newline, carriage return or tab in a message becomes a space, any other byte 0x00-0x1f or 0x7f
// the text \xHH (lower-case hex), whatever the message quotes (server diagnostics, values shown
// with --debug, file names). Backslashes are written as they are.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace lhc {

// Builds a message with operator<<: logger.info(msg() << "x=" << x).
class msg {
  public:
    template <typename T> msg &operator<<(const T &v) {
        os_ << v;
        return *this;
    }
    operator std::string() const { return os_.str(); }
    std::string str() const { return os_.str(); }

  private:
    std::ostringstream os_;
};

// `text` as one line without control bytes, as every log line is written (also for the
// verdict that --once prints: it may carry a server's diagnostic message).
std::string printable(std::string_view text);

enum class Priority { crit = 2, err = 3, warning = 4, notice = 5, info = 6, debug = 7 };

class Logger {
  public:
    explicit Logger(int fd = 2) : fd_(fd) {}
    virtual ~Logger() = default;

    void set_debug(bool on) { debug_ = on; }
    bool debug_enabled() const { return debug_; }

    void log(Priority p, std::string_view text);
    void log(Priority p, const msg &m);
    void err(const std::string &t) { log(Priority::err, t); }
    void warning(const std::string &t) { log(Priority::warning, t); }
    void notice(const std::string &t) { log(Priority::notice, t); }
    void info(const std::string &t) { log(Priority::info, t); }
    void debug(const std::string &t) {
        if (debug_)
            log(Priority::debug, t);
    }

  protected:
    virtual void write_line(std::string_view line);

  private:
    int fd_;
    bool debug_ = false;
};

} // namespace lhc

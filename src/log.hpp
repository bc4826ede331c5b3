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

// The events an operator acts on. Each has a MESSAGE_ID of its own, explained in the journal
// catalog (units/ldap-health-check.catalog), so `journalctl -x` says what it means for mail
// and `journalctl MESSAGE_ID=...` finds every one.
enum class Event {
    ready,
    round_failed,
    down,
    recovered,
    degraded,    // one server of a server_host list fails, the others answer
    server_back, // that server answers again
    reload_done,
    reload_failed,
};
inline constexpr Event all_events[] = {Event::ready,       Event::round_failed, Event::down,
                                       Event::recovered,   Event::degraded,     Event::server_back,
                                       Event::reload_done, Event::reload_failed};
// 32 lower-case hex digits, as journalctl takes it.
const char *message_id(Event e);

// Structured fields of an event; empty ones are left out. Never a secret.
struct EventFields {
    std::string server; // LDAP_SERVER=
    std::string table;  // LDAP_TABLE=
    std::string step;   // LDAP_STEP=
    std::string result; // LDAP_RESULT=: what libldap said, e.g. "Can't contact LDAP server"
};

class Logger {
  public:
    // When `fd` is the journal's stream (JOURNAL_STREAM names it), events go to the journal
    // with their fields; everything else is a line on `fd`.
    explicit Logger(int fd = 2);
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
    // The same line as log(p, text), sent to the journal with the event's MESSAGE_ID and fields
    // when stderr is the journal.
    void event(Event e, Priority p, std::string_view text, const EventFields &fields = {});
    void event(Event e, Priority p, const msg &m, const EventFields &fields = {}) {
        event(e, p, m.str(), fields);
    }

  protected:
    void use_journal(bool on) { journal_ = on; }
    virtual void write_line(std::string_view line);
    // Sends one journal entry; false when the journal cannot take it (the line is written then).
    virtual bool write_event(Event e, Priority p, std::string_view text, const EventFields &fields);

  private:
    int fd_;
    bool journal_ = false;
    bool debug_ = false;
};

} // namespace lhc

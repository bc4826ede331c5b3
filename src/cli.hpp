// The command line, parsed with Boost.Program_options.
#pragma once

#include "canary.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace lhc {

// --interval and --retry-interval, in seconds. The minimum keeps a typo such as 0 or 1e-9 from
// turning the daemon into a busy loop against the directory; a day is the most that makes sense.
inline constexpr double min_interval = 0.001;
inline constexpr double max_interval = 86400;
// --full-probe-interval: 0 makes every round take the full path; an hour is the most, so that
// a rotated password or a replaced certificate is still seen the same day.
inline constexpr double max_full_probe_interval = 3600;
// --wait: the recover timer's probe waits for LDAP up to this long in one process.
inline constexpr double max_wait = 3600;

struct Options {
    std::vector<std::string> conffiles; // ldap_table(5) files; empty: ask postconf
    std::vector<Canary> canaries;       // lookups that must return a value
    std::vector<std::string> nss_users; // users that must resolve through NSS (getpwnam_r)
    double interval = 1.5;              // seconds between rounds while healthy
    double retry_interval = 0.25;       // seconds between rounds after a failure
    int failures = 3;                   // consecutive failed rounds before exiting
    double full_probe_interval = 120;   // seconds between rounds on a new connection (0: all)
    std::string probe_key;              // empty: a per-table default that Postfix would query
    std::string postconf = "postconf";  // the program asked for Postfix's tables
    std::string postfix_config_dir;     // postconf -c DIR
    bool once = false;
    double wait = 0;          // with --once: seconds to keep probing until a round is healthy
    std::string metrics_file; // the Prometheus text file written after every round
    bool check_config = false;
    bool debug = false;
    bool help = false;
    bool version = false;
};

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Throws UsageError for anything the user must fix on the command line. As with getopt(3), the
// word after an option that takes a value is that value even when it starts with '-' and is a
// number: "--interval -1" is a bad interval, not --interval followed by -1 (--once).
Options parse_command_line(int argc, const char *const argv[]);
// "TABLE=KEY", split at the first '='; throws UsageError naming the option's value.
Canary parse_canary(const std::string &value);
std::string usage_text();

} // namespace lhc

// What a probe round finds, as plain values (an outage is a result, not an exception), and the
// Prober interface the daemon drives. Free of the ldap_table model, so the daemon, the round
// runner and the test fakes do not depend on it.
#pragma once

#include "clock.hpp"

#include <string>
#include <vector>

namespace lhc {

// The steps of a probe, in the order Postfix takes them.
enum class ProbeStep { connect, starttls, bind, search };
const char *step_name(ProbeStep step);

// A round either takes the whole path a new Postfix process takes (a new connection, TLS,
// bind, the searches), or searches on the connection kept from the last good round, which
// costs the directory one operation instead of a connection.
enum class ProbeMode { full, kept };

// What Postfix's lookup would turn into: healthy covers "found" and "not found".
struct ProbeResult {
    bool healthy = false;
    std::string tables; // the table file(s) this search stands for, comma separated
    std::string server; // URL of the server that was used (or the last one tried)
    ProbeStep step = ProbeStep::connect;
    int ldap_code = 0; // LDAP result code (0 when healthy)
    std::string diagnostic;
    int entries = 0;      // entries found by the search
    std::string first_dn; // first entry found, for --debug
    Duration latency{};

    // "step server: ldap_err2string: diagnostic"; never contains a secret.
    std::string describe() const;
};

struct RoundResult {
    std::vector<ProbeResult> probes;
    Duration latency{};

    bool healthy() const;
    // The first failure, described, or "" when healthy.
    std::string first_failure() const;
};

class Prober {
  public:
    virtual ~Prober() = default;
    // `kept` is a wish: a connection with no kept connection takes the full path.
    virtual RoundResult probe_round(ProbeMode mode) = 0;
    // Upper bound of one round, from the timeouts: checked against WATCHDOG_USEC.
    virtual Duration worst_case() const = 0;
    // "3 searches on 2 connections" for STATUS= lines.
    virtual std::string summary() const = 0;
    // Connections kept open from the last good round: a server that goes away closes them,
    // which is worth a probe at once instead of at the next interval.
    virtual std::vector<int> watch_fds() const { return {}; }
    // Drops the kept connections that saw activity; true when there was any.
    virtual bool connection_closed() { return false; }
};

} // namespace lhc

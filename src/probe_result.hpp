// What a probe round finds, as plain values (an outage is a result, not an exception), and the
// Prober interface the daemon drives. Free of the ldap_table model, so the daemon, the round
// runner and the test fakes do not depend on it.
#pragma once

#include "clock.hpp"

#include <cstdint>
#include <memory>
#include <optional>
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
    std::string canary; // the key whose value this search must find (--canary), or ""
    std::string value;  // what Postfix would return for the canary, for --debug
    // Why the probe fails, where that is not an LDAP error: a canary that finds nothing, an
    // NSS lookup. Replaces describe()'s LDAP wording.
    std::string explanation;

    // "step server: ldap_err2string: diagnostic"; never contains a secret.
    std::string describe() const;
};

struct RoundResult {
    std::vector<ProbeResult> probes;
    Duration latency{};
    ProbeMode mode = ProbeMode::full; // what the round was started as
    std::uint64_t number = 0;         // the daemon's count of rounds started, at its start

    bool healthy() const;
    // The first failure, described, or "" when healthy.
    std::string first_failure() const;
    // The first failed probe, or null when healthy (or there was nothing to probe).
    const ProbeResult *first_failed() const;
};

// What one server answered when last asked. With server_host = ldap1 ldap2 and ldap1 down,
// Postfix still works (each new process first waits for ldap1 to fail, then uses ldap2), but
// one more failure stops it: the daemon says "degraded".
struct ServerState {
    std::string url;
    bool answers = true;
    std::string why; // when it does not: "connect: Can't contact LDAP server"
    Duration latency{};
    std::vector<std::size_t> lists; // the server_host lists that name it, counted from 0
};

// A round on the kept connection driven by the daemon's own loop instead of a thread: the
// directory sees one search, the daemon wakes twice (the timer, the answer).
class LoopRound {
  public:
    struct Outcome {
        RoundResult round;
        bool needs_full_path = false; // the kept connection failed: not a verdict
    };
    virtual ~LoopRound() = default;
    virtual int fd() const = 0;             // readable when an answer arrives
    virtual TimePoint deadline() const = 0; // when the open searches count as timed out
    // Takes what arrived, without waiting; the outcome once the round is over.
    virtual std::optional<Outcome> advance(TimePoint now) = 0;
};

class Prober {
  public:
    virtual ~Prober() = default;
    // A kept-connection round for the caller's loop, or null when there is no kept connection
    // (or the configuration needs threads: several connections, chased referrals).
    virtual std::unique_ptr<LoopRound> start_loop_round() { return nullptr; }
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
    // Every server's last known state, in the order of the tables' server_host lists.
    virtual std::vector<ServerState> server_states() const { return {}; }
};

} // namespace lhc

// The LDAP probe: the connection, TLS, bind and search that Postfix's dict_ldap would make,
// judged the way Postfix judges them. An outage is a plain result value, not an exception.
#pragma once

#include "clock.hpp"
#include "ldap_table.hpp"
#include "log.hpp"

#include <memory>
#include <string>
#include <vector>

namespace lhc {

// What Postfix's lookup would turn into: healthy covers "found" and "not found".
struct ProbeResult {
    bool healthy = false;
    std::string tables; // the table file(s) this search stands for, comma separated
    std::string server; // URL of the server that was used (or the last one tried)
    std::string step;   // connect, starttls, bind, search
    int ldap_code = 0;  // LDAP result code (0 when healthy)
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
    virtual RoundResult probe_round() = 0;
    // Upper bound of one round, from the timeouts: checked against WATCHDOG_USEC.
    virtual Duration worst_case() const = 0;
    // "3 searches on 2 connections" for STATUS= lines.
    virtual std::string summary() const = 0;
    // Idle connections kept open from the last good round: a server that goes away closes
    // them, which is worth a probe at once instead of at the next interval.
    virtual std::vector<int> watch_fds() const { return {}; }
    // Drops the idle connections that saw activity; true when there was any.
    virtual bool connection_closed() { return false; }
};

// One search on a connection, with the tables it stands for.
struct SearchPlan {
    std::string tables;
    std::string base;
    Scope scope = Scope::sub;
    std::string filter;
    bool dynamic_base = false; // a missing base is "not found", not a failure (Postfix)
    std::vector<std::string> attributes;
    int size_limit = 0;
};

// Tables with identical connection settings share one connection per round.
struct ConnectionPlan {
    LdapTable settings; // connection parameters of the first table in the group
    std::vector<std::string> urls;
    std::vector<SearchPlan> searches;
    std::string init_error; // libldap refuses the URL list: every round fails, as in Postfix
};

// Groups tables by connection settings and expands each query with the probe key
// (`probe_key` empty: a per-table default for which Postfix really sends a query).
std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log);

struct IdleConnection;

class LdapProber final : public Prober {
  public:
    // `keep_idle`: keep each good round's connections open until the next round (daemon).
    LdapProber(std::vector<ConnectionPlan> plans, Logger &log, bool keep_idle = false);
    ~LdapProber() override;
    RoundResult probe_round() override;
    Duration worst_case() const override;
    std::string summary() const override;
    std::vector<int> watch_fds() const override;
    bool connection_closed() override;

  private:
    // Shared with probes that a hung server made us leave behind (see step_deadline.hpp).
    std::vector<std::shared_ptr<const ConnectionPlan>> plans_;
    Logger &log_;
    std::vector<std::shared_ptr<IdleConnection>> idle_; // one per plan when keep_idle
};

// Probes one connection plan (connect, TLS, bind, each search) on the calling thread, with
// libldap's own timeouts only; for tests.
std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log);

} // namespace lhc

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
    // "3 tables, 2 connections" for STATUS= lines.
    virtual std::string summary() const = 0;
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
};

// Groups tables by connection settings and expands each query with the probe key
// (`probe_key` empty: a per-table default for which Postfix really sends a query).
std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log);

class LdapProber final : public Prober {
  public:
    LdapProber(std::vector<ConnectionPlan> plans, Logger &log);
    RoundResult probe_round() override;
    Duration worst_case() const override;
    std::string summary() const override;

  private:
    std::vector<ConnectionPlan> plans_;
    Logger &log_;
};

// Probes one connection plan (connect, TLS, bind, each search); exposed for tests.
std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log);

} // namespace lhc

// ldap-health-check: wires the table reader, the probe, the daemon loop and systemd together.
#include "cli.hpp"
#include "clock.hpp"
#include "config.h"
#include "config_error.hpp"
#include "config_watch.hpp"
#include "daemon.hpp"
#include "exit_codes.hpp"
#include "ldap_prober.hpp"
#include "ldap_table.hpp"
#include "libldap_release.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "notifier.hpp"
#include "nss_check.hpp"
#include "postfix_tables.hpp"
#include "probe_plan.hpp"
#include "reloader.hpp"
#include "rounds.hpp"
#include "sasl_plugins.hpp"
#include "step_deadline.hpp"
#include "table_loader.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <ldap.h>
#include <malloc.h>
#include <optional>
#include <sstream>
#include <system_error>
#include <thread>

using namespace lhc;

namespace {

std::string read_text(const char *path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Local users looked up through NSS in a directory, with no --nss-user: the disaster this
// program exists to prevent, unwatched. Only a warning: the host may have reasons.
void warn_if_nss_unwatched(const Options &o, Logger &log) {
    if (!o.nss_users.empty())
        return;
    std::string maps;
    try {
        maps = postconf_parameter(o.postconf, o.postfix_config_dir, "local_recipient_maps");
    } catch (const std::exception &e) { // a warning is not worth failing the check for
        log.debug(msg() << "not checking the NSS path: " << e.what());
        return;
    }
    if (auto warning = nss_path_unwatched(maps, read_text("/etc/nsswitch.conf")); !warning.empty())
        log.warning(warning);
}

Policy policy_of(const Options &o) {
    auto seconds = [](double s) {
        return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
    };
    return Policy{seconds(o.interval), seconds(o.retry_interval), o.failures,
                  seconds(o.full_probe_interval)};
}

// Postfix reads main.cf again while its modification time is within the last clock second
// (load_file(): the file may still be being written), and Postfix 3.10's postconf forgets
// `-c DIR` when it does: a changed main.cf is read once Postfix itself takes it as written.
constexpr std::chrono::seconds main_cf_settle{2};

// `read` (may be null) hears of main.cf and master.cf before postconf reads them.
std::vector<std::string> table_files(const Options &o, Logger &log, ConfigFiles *read = nullptr) {
    if (!o.conffiles.empty())
        return o.conffiles;
    if (read) {
        std::string dir = o.postfix_config_dir.empty() ? "/etc/postfix" : o.postfix_config_dir;
        read->add(dir + "/main.cf", main_cf_settle);
        read->add(dir + "/master.cf");
    }
    auto found = discover_ldap_tables(o.postconf, o.postfix_config_dir);
    for (const auto &name : found.skipped)
        log.warning(msg() << "ldap:" << name
                          << ": not an absolute path after Postfix's $name expansion, so its "
                             "parameters live in main.cf ("
                          << name << "_server_host, ...): not supported, not watched");
    // The NSS path alone is worth watching on a host whose Postfix has no ldap: table.
    if (found.files.empty() && o.nss_users.empty()) {
        warn_if_nss_unwatched(o, log); // where it matters most: nothing else is watched
        throw ConfigError("no --conffile given and postconf names no ldap: or proxy:ldap: table");
    }
    if (found.files.empty()) {
        log.info("postconf names no ldap: or proxy:ldap: table: watching the NSS path alone");
        return {};
    }
    std::string list;
    for (const auto &f : found.files)
        list += (list.empty() ? "" : ", ") + f;
    log.info(msg() << "watching the LDAP tables Postfix uses: " << list);
    return found.files;
}

std::vector<LdapTable> load_tables(const std::vector<std::string> &files, Logger &log,
                                   ConfigFiles *read = nullptr) {
    std::vector<LdapTable> tables;
    for (const auto &f : files) {
        if (read)
            read->add(f);
        tables.push_back(load_ldap_table(f));
        for (const auto &w : tables.back().warnings)
            log.warning(w);
        if (log.debug_enabled())
            for (const auto &[name, value] : tables.back().describe())
                log.debug(msg() << f << ": " << name << " = " << value);
    }
    return tables;
}

// A canary for a table that is not watched is a mistake on the command line.
void check_canaries(const Options &o, const std::vector<LdapTable> &tables) {
    for (const auto &c : o.canaries)
        if (auto problem = canary_problem(tables, c); !problem.empty())
            throw UsageError(problem);
}

std::vector<ConnectionPlan> plan(const Options &o, const std::vector<LdapTable> &tables,
                                 Logger &log) {
    check_canaries(o, tables);
    return plan_probes(tables, o.probe_key, log, o.canaries);
}

// The daemon's prober keeps each good round's connection open to notice a server going away.
// `read` hears of every file it reads.
std::unique_ptr<Prober> make_daemon_prober(const Options &o, Logger &log, ConfigFiles &read) {
    auto tables = load_tables(table_files(o, log, &read), log, &read);
    return std::make_unique<LdapProber>(plan(o, tables, log), log, true, o.nss_users);
}

// Without inotify (no instance left) the daemon still compares the files with what it read
// before it counts a failed round; it says so once.
std::optional<ConfigWatch> config_watch(Logger &log) {
    try {
        return std::make_optional<ConfigWatch>();
    } catch (const std::system_error &e) {
        log.warning(msg() << "not following changes of the configuration files (" << e.what()
                          << "): reload with systemctl reload after a change");
        return std::nullopt;
    }
}

// libldap's one-time set-up (ldap_int_initialize, on the first ldap_* call of the process)
// resolves this machine's own name (ldap_pvt_get_fqdn: gethostname, then getaddrinfo) and
// reads ldap.conf. Postfix pays for it before any lookup and outside any timeout; left to our
// first round, it would count against the connect step's limit, and a host whose own name goes
// to a slow DNS server would read as an LDAP outage even with server_host = 127.0.0.1. Made
// after the SASL set-up, which libldap's own would otherwise take over.
void initialize_libldap() {
    int version = 0;
    ldap_get_option(nullptr, LDAP_OPT_PROTOCOL_VERSION, &version);
    installed_libldap();
}

// The tables of a --once as they are on disk: read again before a round when one of their
// files changed since, so that a --wait (the recover timer waits a minute at a time) judges
// what a new Postfix process would open, an edit made while it waits included.
class OnceTables {
  public:
    OnceTables(const Options &o, Logger &log) : o_(o), log_(log) {}

    // The prober for this round, or null when the configuration cannot be read (error()):
    // read again only when a file changed since, however it turned out the last time.
    LdapProber *current() {
        if (read_ && files_.changed().empty())
            return prober_ ? &*prober_ : nullptr;
        read_ = true;
        prober_.reset();
        files_ = ConfigFiles();
        try {
            auto tables = load_tables(table_files(o_, log_, &files_), log_, &files_);
            // One round knows every bind it will make before libldap starts (the daemon
            // cannot skip the plugins: a reload may bring a table with bind = sasl).
            if (first_ && !any_sasl_bind(tables))
                start_sasl_without_plugins();
            first_ = false;
            initialize_libldap();
            prober_.emplace(plan(o_, tables, log_), log_, false, o_.nss_users);
            error_.clear();
        } catch (const ConfigError &e) {
            error_ = e.what();
        }
        return prober_ ? &*prober_ : nullptr;
    }
    const std::string &error() const { return error_; }

  private:
    const Options &o_;
    Logger &log_;
    ConfigFiles files_;
    std::optional<LdapProber> prober_;
    std::string error_;
    bool read_ = false; // the files were read at least once
    bool first_ = true;
};

// One round, or with --wait a round every --retry-interval (each follows a failed one, as in
// the daemon) until one is healthy or the time is up.
// The recover timer waits this way during an outage: one process a minute with one line per
// change of verdict, where a process every two seconds wrote six journal lines each time.
int once(const Options &o, Logger &log) {
    auto seconds = [](double s) {
        return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
    };
    TimePoint until = Clock::now() + seconds(o.wait);
    OnceTables tables(o, log);
    std::string last;
    int code = exit_unavailable;
    for (;;) {
        TimePoint start = Clock::now();
        LdapProber *prober = tables.current();
        RoundResult round = prober ? prober->probe_round(ProbeMode::full) : RoundResult{};
        if (prober && round.healthy()) {
            char latency[32];
            std::snprintf(latency, sizeof latency, "%.1f ms", to_ms(round.latency));
            std::cout << "healthy: " << prober->summary() << " in " << latency << std::endl;
            code = exit_ok;
            break;
        }
        code = prober ? exit_unavailable : exit_config;
        std::string verdict =
            "unhealthy: " + printable(prober ? round.first_failure() : tables.error());
        if (verdict != last && (prober || o.wait > 0))
            std::cout << verdict << std::endl;
        last = std::move(verdict);
        TimePoint next = start + seconds(o.retry_interval);
        if (next > until)
            break;
        std::this_thread::sleep_until(next);
    }
    if (code == exit_config)
        log.err(tables.error());
    // A probe left behind still runs inside libldap: exit without tearing the process down
    // under it.
    if (stragglers() > 0)
        std::_Exit(code);
    return code;
}

void print_version() {
    std::cout << "ldap-health-check " << PACKAGE_VERSION << "\nlibldap "
              << installed_libldap().name() << " (an unanswered ldaps:// handshake "
              << (installed_libldap().bounds_tls_handshake()
                      ? "ends at the table's timeout if that is 0 or more, then the next "
                        "server_host URL)"
                      : "holds Postfix's lookup for good)")
              << std::endl;
}

int check_config(const Options &o, Logger &log) {
    auto tables = load_tables(table_files(o, log), log);
    check_canaries(o, tables);
    warn_if_nss_unwatched(o, log);
    std::cout << "ok: " << tables.size() << (tables.size() == 1 ? " table" : " tables")
              << std::endl;
    return exit_ok;
}

int run_daemon(const Options &o, Logger &log) {
    // Rounds run on short-lived threads; without this each may get a malloc arena of its
    // own, and the daemon's memory would creep up with the number of overlapping rounds.
    mallopt(M_ARENA_MAX, 1);
    initialize_libldap();
    SdNotifier notifier;
    SignalEventSource events;
    ThreadRoundRunner runner;
    ThreadReloader reloader;
    Daemon daemon(
        policy_of(o), [&](ConfigFiles &read) { return make_daemon_prober(o, log, read); }, notifier,
        events, runner, reloader, log);
    std::optional<ConfigWatch> watch = config_watch(log);
    if (watch)
        daemon.follow_config(*watch);
    std::optional<MetricsFile> metrics;
    if (!o.metrics_file.empty())
        daemon.report_metrics_to(metrics.emplace(o.metrics_file, log));
    int code = daemon.run();
    // A round or a probe still stuck on a hung server runs on a detached thread inside libldap,
    // and a reload stuck on a table file or postconf uses `o` and `log` from this frame:
    // tearing the process down under them could crash, and a crash at stop would read as an
    // outage to systemd.
    if (runner.in_flight() > 0 || reloader.pending() || stragglers() > 0 || background_probes() > 0)
        std::_Exit(code);
    return code;
}

int run(int argc, char **argv) {
    // A write to a connection the server has reset (closing the TLS session of a server that
    // just died) must be an EPIPE for libldap to handle, not a signal that kills the daemon.
    std::signal(SIGPIPE, SIG_IGN);
    Logger log;
    Options o;
    try {
        o = parse_command_line(argc, argv);
        if (o.help) {
            std::cout << usage_text();
            return exit_ok;
        }
        if (o.version) {
            print_version();
            return exit_ok;
        }
        log.set_debug(o.debug);
        if (o.check_config)
            return check_config(o, log);
        if (o.once)
            return once(o, log);
        return run_daemon(o, log);
    } catch (const UsageError &e) {
        log.err(msg() << e.what() << " (see --help)");
        return exit_usage;
    } catch (const ConfigError &e) {
        log.err(e.what());
        return exit_config;
    }
}

void print_nested(Logger &log, const std::exception &e) {
    log.log(Priority::crit, msg() << "internal error: " << e.what());
    try {
        std::rethrow_if_nested(e);
    } catch (const std::exception &inner) {
        print_nested(log, inner);
    } catch (...) {
    }
}

} // namespace

int main(int argc, char **argv) noexcept try {
    return run(argc, argv);
} catch (const std::exception &e) {
    Logger log;
    print_nested(log, e);
    return exit_internal;
} catch (...) {
    Logger log;
    log.log(Priority::crit, "internal error: unknown exception");
    return exit_internal;
}

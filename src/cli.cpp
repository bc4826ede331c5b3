#include "cli.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace po = boost::program_options;

namespace lhc {

namespace {

constexpr int max_failures = 1000000;

std::string range_text() {
    std::ostringstream os;
    os << min_interval << " to " << max_interval;
    return os.str();
}

po::options_description describe_options(Options &o, std::vector<std::string> &canaries) {
    const std::string interval_help = "seconds between probe rounds while LDAP is healthy, " +
                                      range_text() + " (fractions allowed)";
    const std::string retry_help =
        "seconds between probe rounds after a failed one, " + range_text();
    const std::string failures_help = "consecutive failed rounds (1 to " +
                                      std::to_string(max_failures) +
                                      ") after which LDAP counts as down and the daemon exits 69";
    std::ostringstream full;
    full << "seconds between rounds that take the whole path of a new Postfix process (new "
            "connection, TLS, bind, search; 0 to "
         << max_full_probe_interval
         << "; 0: every round); the rounds in between search on the connection kept from the "
            "last good round";
    const std::string full_help = full.str();
    std::ostringstream wait;
    wait << "with --once: keep probing, a round every --retry-interval (each follows a failed "
            "one), until one is healthy or SEC "
            "seconds (0 to "
         << max_wait << ") have passed; a verdict is printed only when it changes";
    const std::string wait_help = wait.str();
    po::options_description d("Options");
    d.add_options()("conffile,c", po::value(&o.conffiles)->value_name("FILE"),
                    "ldap_table(5) file to watch; repeat for several. Default: every ldap: and "
                    "proxy:ldap: table in Postfix's configuration (postconf)")(
        "interval,i", po::value(&o.interval)->value_name("SEC")->default_value(o.interval),
        interval_help.c_str())(
        "retry-interval,r",
        po::value(&o.retry_interval)->value_name("SEC")->default_value(o.retry_interval),
        retry_help.c_str())(
        "full-probe-interval",
        po::value(&o.full_probe_interval)->value_name("SEC")->default_value(o.full_probe_interval),
        full_help.c_str())("failures,f",
                           po::value(&o.failures)->value_name("N")->default_value(o.failures),
                           failures_help.c_str())(
        "probe-key,k", po::value(&o.probe_key)->value_name("KEY"),
        "lookup key for the probe search (default: one Postfix really queries, per table)")(
        "canary", po::value(&canaries)->value_name("TABLE=KEY"),
        "each round, look KEY up in the watched table TABLE as Postfix would; the round fails "
        "unless Postfix would return a value (a recipient that must exist). Repeatable")(
        "nss-user", po::value(&o.nss_users)->value_name("NAME"),
        "each round, resolve NAME through NSS (getpwnam_r, as Postfix's unix:passwd.byname "
        "does); the round fails when it is not found. Repeatable")(
        "once,1", po::bool_switch(&o.once), "probe once, print a verdict, exit 0 or 69")(
        "wait", po::value(&o.wait)->value_name("SEC"), wait_help.c_str())(
        "metrics-file", po::value(&o.metrics_file)->value_name("PATH"),
        "write the daemon's state after every round to PATH in the Prometheus text format (for "
        "node_exporter's textfile collector: a name ending in .prom)")(
        "check-config,n", po::bool_switch(&o.check_config),
        "only read and validate the tables, exit 0 or 78")(
        "debug,d", po::bool_switch(&o.debug),
        "log every probe step and the effective configuration")(
        "postconf", po::value(&o.postconf)->value_name("PROGRAM")->default_value(o.postconf),
        "postconf(1) to ask for Postfix's tables when no --conffile is given")(
        "postfix-config-dir", po::value(&o.postfix_config_dir)->value_name("DIR"),
        "Postfix configuration directory for postconf -c")("help,h", po::bool_switch(&o.help),
                                                           "show this help and exit")(
        "version,V", po::bool_switch(&o.version), "show the version and exit");
    return d;
}

template <typename T> std::string got(const T &v) {
    std::ostringstream os;
    os << " (got " << v << ")";
    return os.str();
}

void check_interval(const char *option, double v) {
    if (!std::isfinite(v) || v < min_interval || v > max_interval) {
        std::ostringstream os;
        os << option << " must be a number of seconds >= " << min_interval
           << " and <= " << max_interval << got(v);
        throw UsageError(os.str());
    }
}

void check(const Options &o) {
    check_interval("--interval", o.interval);
    check_interval("--retry-interval", o.retry_interval);
    if (!std::isfinite(o.full_probe_interval) || o.full_probe_interval < 0 ||
        o.full_probe_interval > max_full_probe_interval) {
        std::ostringstream os;
        os << "--full-probe-interval must be a number of seconds >= 0 and <= "
           << max_full_probe_interval << got(o.full_probe_interval);
        throw UsageError(os.str());
    }
    if (o.failures < 1 || o.failures > max_failures)
        throw UsageError("--failures must be a whole number >= 1 and <= " +
                         std::to_string(max_failures) + got(o.failures));
    for (const std::string &f : o.conffiles)
        if (f.empty())
            throw UsageError("--conffile must name a file, not the empty string");
    for (const std::string &u : o.nss_users)
        if (u.empty())
            throw UsageError("--nss-user must name a user, not the empty string");
    if (o.once && o.check_config)
        throw UsageError("--once and --check-config exclude each other");
    if (!std::isfinite(o.wait) || o.wait < 0 || o.wait > max_wait) {
        std::ostringstream os;
        os << "--wait must be a number of seconds >= 0 and <= " << max_wait << got(o.wait);
        throw UsageError(os.str());
    }
    if (o.wait > 0 && !o.once)
        throw UsageError("--wait applies to --once only");
}

bool is_number(const std::string &word) {
    if (word.empty())
        return false;
    char *end = nullptr;
    std::strtod(word.c_str(), &end);
    return *end == '\0';
}

// The option that `word` ("--name", an unambiguous abbreviation of it, or "-x") names when that
// option takes a value; null otherwise.
const po::option_description *option_with_value(const po::options_description &desc,
                                                const std::string &word) {
    if (word.size() < 2 || word[0] != '-' || word.find('=') != std::string::npos)
        return nullptr;
    bool is_long = word[1] == '-';
    if (is_long ? word.size() == 2 : word.size() != 2)
        return nullptr;
    try {
        const po::option_description *d =
            desc.find_nothrow(is_long ? word.substr(2) : word, is_long);
        return d && d->semantic()->max_tokens() > 0 ? d : nullptr;
    } catch (const po::error &) {
        return nullptr; // ambiguous: the parser proper says so
    }
}

// Boost.Program_options reads "-1" after --interval as the option -1 (--once) and then says the
// interval is missing: hand it such a number glued to its option instead.
std::vector<std::string> glue_numeric_values(const po::options_description &desc, int argc,
                                             const char *const argv[]) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string word = argv[i];
        if (word == "--") {
            args.insert(args.end(), argv + i, argv + argc);
            break;
        }
        const po::option_description *d = option_with_value(desc, word);
        if (d && i + 1 < argc && is_number(argv[i + 1]))
            word = "--" + d->long_name() + "=" + argv[++i];
        args.push_back(std::move(word));
    }
    return args;
}

} // namespace

Canary parse_canary(const std::string &value) {
    auto eq = value.find('=');
    if (eq == std::string::npos)
        throw UsageError("--canary \"" + value +
                         "\": expected TABLE=KEY (a watched table file, '=', the key)");
    Canary c{value.substr(0, eq), value.substr(eq + 1)};
    if (c.table.empty())
        throw UsageError("--canary \"" + value + "\": the table before '=' is empty");
    if (c.key.empty())
        throw UsageError("--canary \"" + value + "\": the key after '=' is empty");
    return c;
}

std::string usage_text() {
    Options o;
    std::vector<std::string> canaries;
    std::ostringstream os;
    os << "Usage: ldap-health-check [--conffile FILE]... [OPTION]...\n"
          "Probe the LDAP servers of Postfix's ldap_table(5) files as Postfix would, and "
          "tell systemd.\n\n"
       << describe_options(o, canaries)
       << "\nExit status: 0 ok, 64 usage error, 69 LDAP unavailable, 70 internal error,\n"
          "78 configuration error. See ldap-health-check(8).\n";
    return os.str();
}

Options parse_command_line(int argc, const char *const argv[]) {
    Options o;
    std::vector<std::string> canaries;
    auto desc = describe_options(o, canaries);
    try {
        po::variables_map vm;
        // No positional arguments: a stray word is a mistake, not a table.
        po::positional_options_description none;
        po::store(po::command_line_parser(glue_numeric_values(desc, argc, argv))
                      .options(desc)
                      .positional(none)
                      .run(),
                  vm);
        po::notify(vm);
        if (vm.count("metrics-file") && o.metrics_file.empty())
            throw UsageError("--metrics-file must name a file, not the empty string");
    } catch (const po::error &e) {
        throw UsageError(e.what());
    }
    if (o.help || o.version)
        return o;
    for (const auto &c : canaries)
        o.canaries.push_back(parse_canary(c));
    check(o);
    return o;
}

} // namespace lhc

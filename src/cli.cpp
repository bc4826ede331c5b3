#include "cli.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>

namespace po = boost::program_options;

namespace lhc {

namespace {

po::options_description describe_options(Options &o) {
    po::options_description d("Options");
    d.add_options()("conffile,c", po::value(&o.conffiles)->value_name("FILE"),
                    "ldap_table(5) file to watch; repeat for several. Default: every ldap: and "
                    "proxy:ldap: table in Postfix's configuration (postconf)")(
        "interval,i", po::value(&o.interval)->value_name("SEC")->default_value(o.interval),
        "seconds between probe rounds while LDAP is healthy (fractions allowed)")(
        "retry-interval,r",
        po::value(&o.retry_interval)->value_name("SEC")->default_value(o.retry_interval),
        "seconds between probe rounds after a failed one")(
        "failures,f", po::value(&o.failures)->value_name("N")->default_value(o.failures),
        "consecutive failed rounds after which LDAP counts as down and the daemon exits 69")(
        "probe-key,k", po::value(&o.probe_key)->value_name("KEY"),
        "lookup key for the probe search (default: one Postfix really queries, per table)")(
        "once,1", po::bool_switch(&o.once), "probe once, print a verdict, exit 0 or 69")(
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

void check(const Options &o) {
    auto positive = [](double v) { return std::isfinite(v) && v > 0 && v <= 86400; };
    if (!positive(o.interval))
        throw UsageError("--interval must be a number of seconds > 0 and <= 86400");
    if (!std::isfinite(o.retry_interval) || o.retry_interval < 0 || o.retry_interval > 86400)
        throw UsageError("--retry-interval must be a number of seconds >= 0 and <= 86400");
    if (o.failures < 1 || o.failures > 1000000)
        throw UsageError("--failures must be a whole number >= 1");
    if (o.once && o.check_config)
        throw UsageError("--once and --check-config exclude each other");
}

} // namespace

std::string usage_text() {
    Options o;
    std::ostringstream os;
    os << "Usage: ldap-health-check [--conffile FILE]... [OPTION]...\n"
          "Probe the LDAP servers of Postfix's ldap_table(5) files as Postfix would, and "
          "tell systemd.\n\n"
       << describe_options(o)
       << "\nExit status: 0 ok, 64 usage error, 69 LDAP unavailable, 70 internal error,\n"
          "78 configuration error. See ldap-health-check(8).\n";
    return os.str();
}

Options parse_command_line(int argc, const char *const argv[]) {
    Options o;
    auto desc = describe_options(o);
    try {
        po::variables_map vm;
        // No positional arguments: a stray word is a mistake, not a table.
        po::positional_options_description none;
        po::store(po::command_line_parser(argc, argv).options(desc).positional(none).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        throw UsageError(e.what());
    }
    if (!o.help && !o.version)
        check(o);
    return o;
}

} // namespace lhc

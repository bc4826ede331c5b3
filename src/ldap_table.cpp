// dict_ldap_open() of Debian 12's Postfix 3.7: the same parameters, read in the same order
// (so the first fatal error is the one Postfix reports), with the same defaults and checks.
#include "ldap_table.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"
#include "table_file.hpp"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <ldap.h>
#include <map>
#include <set>
#include <stdexcept>
#include <strings.h>
#include <sys/stat.h>

namespace lhc {
namespace {

// Never quoted in any message.
bool is_secret(const std::string &name) {
    return name == "bind_pw";
}

// Names dict_ldap_open() reads; anything else in the file Postfix silently ignores.
const std::set<std::string> &known_names() {
    static const std::set<std::string> names = {"server_host",
                                                "server_port",
                                                "version",
                                                "scope",
                                                "search_base",
                                                "timeout",
                                                "query_filter",
                                                "result_format",
                                                "result_filter",
                                                "domain",
                                                "terminal_result_attribute",
                                                "leaf_result_attribute",
                                                "result_attribute",
                                                "special_result_attribute",
                                                "bind",
                                                "bind_dn",
                                                "bind_pw",
                                                "cache",
                                                "cache_expiry",
                                                "cache_size",
                                                "recursion_limit",
                                                "expansion_limit",
                                                "size_limit",
                                                "dereference",
                                                "chase_referrals",
                                                "sasl_mechs",
                                                "sasl_realm",
                                                "sasl_authz_id",
                                                "sasl_minssf",
                                                "start_tls",
                                                "tls_require_cert",
                                                "tls_ca_cert_file",
                                                "tls_ca_cert_dir",
                                                "tls_cert",
                                                "tls_key",
                                                "tls_random_file",
                                                "tls_cipher_suite",
                                                "debuglevel"};
    return names;
}

// cfg_get_str/int/bool() over the parsed file, with file:line in every message.
class Reader {
  public:
    Reader(const TableFile &file, std::vector<std::string> &warnings)
        : file_(file), warnings_(warnings) {}

    int line(const std::string &name) const {
        auto it = file_.entries.find(name);
        return it == file_.entries.end() ? 0 : it->second.line;
    }
    [[noreturn]] void fail(const std::string &name, const std::string &what) const {
        throw ConfigError(file_.path, line(name), what);
    }
    void warn(const std::string &name, const std::string &what) const {
        warnings_.push_back(ConfigError::format(file_.path, line(name), what));
    }
    std::string shown(const std::string &name, const std::string &value) const {
        return name + " = " + (is_secret(name) ? std::string(Secret::mask) : value);
    }

    const std::string *lookup(const std::string &name) {
        used_.insert(name);
        auto it = file_.entries.find(name);
        return it == file_.entries.end() ? nullptr : &it->second.value;
    }

    // cfg_get_str(): `min` is the minimum length, checked on the default too.
    std::string str(const std::string &name, const std::string &def, std::size_t min = 0) {
        const std::string *v = lookup(name);
        std::string value = v ? *v : def;
        if (value.size() < min)
            fail(name, "bad string length " + std::to_string(value.size()) + " < " +
                           std::to_string(min) + ": " + shown(name, value));
        return value;
    }
    // cfg_get_str() with a null default: absent and empty are the same.
    std::optional<std::string> str_or_null(const std::string &name) {
        const std::string *v = lookup(name);
        if (!v || v->empty())
            return std::nullopt;
        return *v;
    }

    // get_dict_int(): strtol(), base 10, whole value, within int; a zero min/max means none.
    int integer(const std::string &name, int def, int min = 0, int max = 0) {
        const std::string *v = lookup(name);
        int value = v ? parse_int(name, *v) : def;
        if (min && value < min)
            fail(name, "invalid " + name + " parameter value " + std::to_string(value) + " < " +
                           std::to_string(min));
        if (max && value > max)
            fail(name, "invalid " + name + " parameter value " + std::to_string(value) + " > " +
                           std::to_string(max));
        return value;
    }

    // get_dict_bool(): only yes and no, in any case.
    bool boolean(const std::string &name, bool def) {
        const std::string *v = lookup(name);
        if (!v)
            return def;
        if (strcasecmp(v->c_str(), "yes") == 0)
            return true;
        if (strcasecmp(v->c_str(), "no") == 0)
            return false;
        fail(name, "bad boolean configuration: " + shown(name, *v));
    }

    // What Postfix ignores silently and an admin most likely did not mean.
    void warn_unused(BindMode bind) const {
        for (const auto &[name, entry] : file_.entries) {
            if (used_.count(name))
                continue;
            std::string why = !known_names().count(name) ? "unknown parameter, ignored"
                              : name == "result_filter"  ? "ignored because result_format is set"
                              : bind != BindMode::sasl   ? "ignored unless bind = sasl"
                                                         : "ignored";
            warnings_.push_back(ConfigError::format(file_.path, entry.line, name + ": " + why));
        }
    }

  private:
    int parse_int(const std::string &name, const std::string &text) const {
        errno = 0;
        char *end = nullptr;
        long value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE || value != static_cast<int>(value))
            fail(name, "bad numerical configuration: " + shown(name, text));
        return static_cast<int>(value);
    }

    const TableFile &file_;
    std::vector<std::string> &warnings_;
    std::set<std::string> used_;
};

using UrlWarn = std::function<void(const std::string &)>;

// What libldap's URL parser skips around a URL: an enclosing "<...>" and a "URL:" prefix.
std::string normalise_url(std::string url) {
    if (url.size() >= 2 && url.front() == '<' && url.back() == '>')
        url = url.substr(1, url.size() - 2);
    if (url.size() >= 4 && strncasecmp(url.c_str(), "URL:", 4) == 0)
        url.erase(0, 4);
    return url;
}

struct ServerList {
    std::vector<std::string> literal;    // as Postfix joins them for ldap_initialize()
    std::vector<std::string> normalised; // the same, one normalised URL each
};

// dict_ldap_open()'s server_host loop: LDAP URLs as they are (checked by libldap like Postfix
// does), host:port and bare hosts turned into ldap:// URLs. `warn` also hears of every
// non-ldap scheme, which needs protocol version 3.
ServerList build_urls(const std::string &hosts, int port, const UrlWarn &warn) {
    ServerList list;
    const std::string seps = ", \t\r\n";
    std::size_t i = 0;
    while ((i = hosts.find_first_not_of(seps, i)) != std::string::npos) {
        std::size_t end = hosts.find_first_of(seps, i);
        std::string h = hosts.substr(i, end - i);
        i = end;
        if (!ldap_is_ldap_url(h.c_str())) {
            // Not checked here: libldap refuses a malformed one with the whole list.
            h = h.find(':') != std::string::npos ? "ldap://" + h
                                                 : "ldap://" + h + ":" + std::to_string(port);
            list.literal.push_back(h);
            list.normalised.push_back(h);
            continue;
        }
        LDAPURLDesc *desc = nullptr;
        if (int rc = ldap_url_parse(h.c_str(), &desc); rc != 0) {
            warn("error parsing URL " + h + ": ldap_url_parse error " + std::to_string(rc) +
                 "; skipping");
            continue;
        }
        if (strcasecmp(desc->lud_scheme, "ldap") != 0) {
            warn(std::string("URL scheme ") + desc->lud_scheme + " requires protocol version 3");
        }
        ldap_free_urldesc(desc);
        list.literal.push_back(h);
        list.normalised.push_back(normalise_url(h));
    }
    return list;
}

std::string join(const std::vector<std::string> &v) {
    std::string out;
    for (const auto &s : v)
        out += (out.empty() ? "" : " ") + s;
    return out;
}

void read_connection(Reader &r, LdapTable &t) {
    t.server_host = r.str("server_host", "localhost", 1);
    t.server_port = r.integer("server_port", LDAP_PORT);
    // Debian patches the default from 2 to 3 and falls back to 3, not 2, on other values.
    t.version = r.integer("version", 3, 2);
    if (t.version != 2 && t.version != 3) {
        r.warn("version", "Unknown version " + std::to_string(t.version) + ", using 3");
        t.version = 3;
    }
    // Only the first non-ldap URL warns: it raises the version for the rest.
    build_urls(t.server_host, t.server_port, [&](const std::string &what) {
        bool scheme = what.rfind("URL scheme", 0) == 0;
        if (scheme && t.version == 3)
            return;
        r.warn("server_host", what);
        if (scheme)
            t.version = 3;
    });
    if (std::string why = t.url_list_error(); !why.empty())
        r.warn("server_host", "Postfix accepts this server_host, but libldap refuses the URL list "
                              "it makes (" +
                                  why +
                                  "): every lookup fails (Unable to init LDAP "
                                  "server)");
}

// Values Postfix accepts although libldap then fails or never gives up; the probe makes the
// same calls, so these only explain the verdict in advance (--check-config, the journal).
void warn_timeout(Reader &r, int timeout) {
    std::string value = "timeout = " + std::to_string(timeout) + ": ";
    if (timeout == 0)
        r.warn("timeout", value + "libldap refuses a zero search time limit: every lookup fails");
    else if (timeout == -1)
        r.warn("timeout", value +
                              "Postfix waits without end for a server that does not "
                              "answer; ldap-health-check gives up after " +
                              std::to_string(LdapTable::unbounded_wait_seconds) + " s");
    else if (timeout < -1)
        r.warn("timeout", value + "libldap gives up on every wait at once: every lookup fails");
}

Scope parse_scope(Reader &r) {
    std::string scope = r.str("scope", "sub", 1);
    if (strcasecmp(scope.c_str(), "one") == 0)
        return Scope::one;
    if (strcasecmp(scope.c_str(), "base") == 0)
        return Scope::base;
    if (strcasecmp(scope.c_str(), "sub") != 0)
        r.warn("scope", "Unrecognized value " + scope + " specified for scope; using sub");
    return Scope::sub;
}

void check_template(Reader &r, const std::string &name, const std::string &tmpl, bool query) {
    try {
        validate_template(tmpl);
    } catch (const ConfigError &) {
        r.fail(name, std::string("Invalid ") + (query ? "query" : "result") + " template: " + tmpl);
    }
}

void read_query(Reader &r, LdapTable &t) {
    t.scope = parse_scope(r);
    t.search_base = r.str("search_base", "");
    t.timeout = r.integer("timeout", 10);
    warn_timeout(r, t.timeout);
    t.query_filter = r.str("query_filter", "(mailacceptinggeneralid=%s)");
    // An empty result_format counts as unset, and then result_filter must not be empty.
    std::string result_key = "result_format";
    if (std::optional<std::string> rf = r.str_or_null("result_format"))
        t.result_format = *rf;
    else
        t.result_format = r.str(result_key = "result_filter", "%s", 1);
    check_template(r, "search_base", t.search_base, true);
    check_template(r, "query_filter", t.query_filter, true);
    if (!is_dynamic_template(t.query_filter))
        r.warn("query_filter", "Fixed query_filter " + t.query_filter + " is probably useless");
    check_template(r, result_key, t.result_format, false);
    t.domain = r.str("domain", "");
    t.terminal_result_attribute = r.str("terminal_result_attribute", "");
    t.leaf_result_attribute = r.str("leaf_result_attribute", "");
    t.result_attribute = r.str("result_attribute", "maildrop");
    t.special_result_attribute = r.str("special_result_attribute", "");
}

BindMode parse_bind(Reader &r) {
    // name_code(): case-insensitive.
    static const std::map<std::string, BindMode> modes = {{"no", BindMode::none},
                                                          {"none", BindMode::none},
                                                          {"yes", BindMode::simple},
                                                          {"simple", BindMode::simple},
                                                          {"sasl", BindMode::sasl}};
    std::string value = r.str("bind", "yes", 1);
    std::string lower = fold_key(value);
    auto it = modes.find(lower);
    if (it == modes.end())
        r.fail("bind", "unsupported parameter value: bind = " + value);
    return it->second;
}

void read_bind_and_limits(Reader &r, LdapTable &t) {
    t.bind = parse_bind(r);
    t.bind_dn = r.str("bind_dn", "");
    t.bind_pw = Secret(r.str("bind_pw", ""));
    // Caching is gone from Postfix; setting it is only worth a warning.
    if ((t.cache = r.boolean("cache", false)))
        r.warn("cache", "ignoring cache");
    if ((t.cache_expiry = r.integer("cache_expiry", -1)) >= 0)
        r.warn("cache_expiry", "ignoring cache_expiry");
    if ((t.cache_size = r.integer("cache_size", -1)) >= 0)
        r.warn("cache_size", "ignoring cache_size");
    t.recursion_limit = r.integer("recursion_limit", 1000, 1);
    t.expansion_limit = r.integer("expansion_limit", 0);
    t.size_limit = r.integer("size_limit", t.expansion_limit);
    if (t.size_limit < 0)
        r.warn(r.line("size_limit") ? "size_limit" : "expansion_limit",
               "size_limit = " + std::to_string(t.size_limit) +
                   (r.line("size_limit") ? "" : " (from expansion_limit)") +
                   ": Postfix sends this negative limit with every search, and a server refuses "
                   "it (slapd: Protocol error): every lookup fails");
    t.dereference = r.integer("dereference", 0);
    if (t.dereference < 0 || t.dereference > 3) {
        r.warn("dereference", "Unrecognized value " + std::to_string(t.dereference) +
                                  " specified for dereference; using 0");
        t.dereference = 0;
    }
    t.chase_referrals = r.boolean("chase_referrals", false);
}

void read_sasl_and_tls(Reader &r, LdapTable &t) {
    // Postfix reads (and range-checks) the sasl_* parameters only for bind = sasl.
    if (t.bind == BindMode::sasl) {
        t.sasl_mechs = r.str("sasl_mechs", "");
        t.sasl_realm = r.str("sasl_realm", "");
        t.sasl_authz_id = r.str("sasl_authz_id", "");
        t.sasl_minssf = r.integer("sasl_minssf", 0, 0, 4096);
    }
    t.start_tls = r.boolean("start_tls", false);
    if (t.start_tls && t.version < 3) {
        r.warn("start_tls", "start_tls requires protocol version 3");
        t.version = 3;
    }
    t.tls_require_cert = r.boolean("tls_require_cert", false);
    t.tls_ca_cert_file = r.str("tls_ca_cert_file", "");
    t.tls_ca_cert_dir = r.str("tls_ca_cert_dir", "");
    t.tls_cert = r.str("tls_cert", "");
    t.tls_key = r.str("tls_key", "");
    t.tls_random_file = r.str("tls_random_file", "");
    t.tls_cipher_suite = r.str("tls_cipher_suite", "");
    t.debuglevel = r.integer("debuglevel", 0);
}

const char *yes_no(bool b) {
    return b ? "yes" : "no";
}

const char *bind_name(BindMode b) {
    return b == BindMode::none ? "no" : b == BindMode::simple ? "yes" : "sasl";
}

const char *scope_name(Scope s) {
    return s == Scope::base ? "base" : s == Scope::one ? "one" : "sub";
}

} // namespace

std::vector<std::string> LdapTable::urls() const {
    return build_urls(server_host, server_port, [](const std::string &) {}).normalised;
}

std::string LdapTable::url_list() const {
    return join(build_urls(server_host, server_port, [](const std::string &) {}).literal);
}

// ldap_initialize() parses the list entry by entry, with the checks of ldap_url_parse(); it is
// not called here because creating a handle initialises libldap and SASL (loads every plugin),
// which a --check-config or a --once without SASL must not pay for.
std::string LdapTable::url_list_error() const {
    for (const auto &url :
         build_urls(server_host, server_port, [](const std::string &) {}).literal) {
        LDAPURLDesc *desc = nullptr;
        int rc = ldap_url_parse(url.c_str(), &desc);
        if (desc)
            ldap_free_urldesc(desc);
        if (rc != LDAP_URL_SUCCESS)
            return url + ": ldap_url_parse error " + std::to_string(rc);
    }
    return "";
}

std::vector<std::pair<std::string, std::string>> LdapTable::describe() const {
    auto n = [](int i) { return std::to_string(i); };
    std::vector<std::pair<std::string, std::string>> d = {
        {"server_host", server_host},
        {"server_port", n(server_port)},
        {"version", n(version)},
        {"scope", scope_name(scope)},
        {"search_base", search_base},
        {"timeout", n(timeout)},
        {"query_filter", query_filter},
        {"result_format", result_format},
        {"domain", domain},
        {"terminal_result_attribute", terminal_result_attribute},
        {"leaf_result_attribute", leaf_result_attribute},
        {"result_attribute", result_attribute},
        {"special_result_attribute", special_result_attribute},
        {"bind", bind_name(bind)},
        {"bind_dn", bind_dn},
        {"bind_pw", bind_pw.empty() ? "" : Secret::mask},
        {"cache", yes_no(cache)},
        {"cache_expiry", n(cache_expiry)},
        {"cache_size", n(cache_size)},
        {"recursion_limit", n(recursion_limit)},
        {"expansion_limit", n(expansion_limit)},
        {"size_limit", n(size_limit)},
        {"dereference", n(dereference)},
        {"chase_referrals", yes_no(chase_referrals)},
    };
    if (bind == BindMode::sasl) {
        d.insert(d.end(), {{"sasl_mechs", sasl_mechs},
                           {"sasl_realm", sasl_realm},
                           {"sasl_authz_id", sasl_authz_id},
                           {"sasl_minssf", n(sasl_minssf)}});
    }
    d.insert(d.end(), {{"start_tls", yes_no(start_tls)},
                       {"tls_require_cert", yes_no(tls_require_cert)},
                       {"tls_ca_cert_file", tls_ca_cert_file},
                       {"tls_ca_cert_dir", tls_ca_cert_dir},
                       {"tls_cert", tls_cert},
                       {"tls_key", tls_key},
                       {"tls_random_file", tls_random_file},
                       {"tls_cipher_suite", tls_cipher_suite},
                       {"debuglevel", n(debuglevel)}});
    return d;
}

LdapTable parse_ldap_table(std::string_view text, const std::string &path, unsigned mode) {
    TableFile file = parse_table_text(text, path);
    LdapTable t;
    t.path = path;
    t.warnings = file.warnings;
    Reader r(file, t.warnings);
    read_connection(r, t);
    read_query(r, t);
    read_bind_and_limits(r, t);
    read_sasl_and_tls(r, t);
    r.warn_unused(t.bind);
    // Not Postfix: nslcd-style care for a password in a world-readable file.
    if (!t.bind_pw.empty() && (mode & S_IROTH))
        t.warnings.push_back(
            ConfigError::format(path, 0, "contains bind_pw and is readable by others"));
    return t;
}

LdapTable load_ldap_table(const std::string &path) {
    unsigned mode = 0;
    std::string text = read_whole_file(path, &mode);
    return parse_ldap_table(text, path, mode);
}

} // namespace lhc

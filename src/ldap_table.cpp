// dict_ldap_open() of Debian 12's Postfix 3.7: the same parameters, read in the same order
// (so the first fatal error is the one Postfix reports), with the same defaults and checks.
#include "ldap_table.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"
#include "table_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <ldap.h>
#include <map>
#include <optional>
#include <set>
#include <strings.h>
#include <sys/stat.h>
#include <type_traits>
#include <variant>

namespace lhc {

using Connection = LdapParameter::Connection;

namespace {

const LdapParameter *find_parameter(std::string_view name) {
    for (const LdapParameter &p : ldap_parameters())
        if (p.name == name)
            return &p;
    return nullptr;
}

// Postfix reads the sasl_* parameters only for bind = sasl, and only then are they in effect.
bool in_effect(const LdapParameter &p, const LdapTable &t) {
    return p.connection != Connection::if_sasl || t.bind == BindMode::sasl;
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

std::string text_of(const std::string &v) {
    return v;
}
std::string text_of(const Secret &v) {
    return v.reveal();
}
std::string text_of(int v) {
    return std::to_string(v);
}
std::string text_of(bool v) {
    return yes_no(v);
}
std::string text_of(Scope v) {
    return scope_name(v);
}
std::string text_of(BindMode v) {
    return bind_name(v);
}

// The value as Postfix spells it, the clear text of a secret included.
std::string value_text(const LdapParameter &p, const LdapTable &t) {
    return std::visit(
        [&](auto member) -> std::string {
            if constexpr (std::is_same_v<decltype(member), std::monostate>)
                return "";
            else
                return text_of(t.*member);
        },
        p.field);
}

} // namespace

// cfg_get_str/int/bool() over the parsed file, with file:line in every message.
class TableReader {
  public:
    TableReader(const TableFile &file, std::vector<std::string> &warnings)
        : file_(file), warnings_(warnings) {}

    int line(std::string_view name) const {
        auto it = file_.entries.find(std::string(name));
        return it == file_.entries.end() ? 0 : it->second.line;
    }
    [[noreturn]] void fail(std::string_view name, const std::string &what) const {
        throw ConfigError(file_.path, line(name), what);
    }
    void warn(std::string_view name, const std::string &what) const {
        warnings_.push_back(ConfigError::format(file_.path, line(name), what));
    }

    // The parameter's value from the file, or `fallback` when the file does not set it.
    void value(LdapTable &t, const LdapParameter &p, std::string_view fallback) {
        if (!p.has_field())
            return; // another parameter's reader reads it
        const std::string *v = lookup(p.name);
        store(t, p, v ? *v : std::string(fallback));
    }
    void value(LdapTable &t, const LdapParameter &p) { value(t, p, p.fallback); }

    // `text` read as the parameter's type, with Postfix's checks.
    void store(LdapTable &t, const LdapParameter &p, const std::string &text) const {
        std::visit(
            [&](auto member) {
                if constexpr (!std::is_same_v<decltype(member), std::monostate>)
                    convert(p, text, t.*member);
            },
            p.field);
    }

    // cfg_get_str(): `min` is the minimum length, checked on the default too.
    std::string str(std::string_view name, std::string_view def, int min) {
        const std::string *v = lookup(name);
        std::string value = v ? *v : std::string(def);
        check_length(name, value, min);
        return value;
    }
    // cfg_get_str() with a null default: absent and empty are the same.
    std::optional<std::string> str_or_null(std::string_view name) {
        const std::string *v = lookup(name);
        if (!v || v->empty())
            return std::nullopt;
        return *v;
    }

    // What Postfix ignores silently and an admin most likely did not mean.
    void warn_unused(BindMode bind) const {
        for (const auto &[name, entry] : file_.entries) {
            if (used_.count(name))
                continue;
            std::string why = !find_parameter(name)     ? "unknown parameter, ignored"
                              : name == "result_filter" ? "ignored because result_format is set"
                              : bind != BindMode::sasl  ? "ignored unless bind = sasl"
                                                        : "ignored";
            warnings_.push_back(ConfigError::format(file_.path, entry.line, name + ": " + why));
        }
    }

  private:
    const std::string *lookup(std::string_view name) {
        std::string key(name);
        used_.insert(key);
        auto it = file_.entries.find(key);
        return it == file_.entries.end() ? nullptr : &it->second.value;
    }

    std::string shown(std::string_view name, const std::string &value) const {
        const LdapParameter *p = find_parameter(name);
        return std::string(name) + " = " + (p && p->secret() ? std::string(Secret::mask) : value);
    }

    void check_length(std::string_view name, const std::string &value, int min) const {
        if (value.size() < static_cast<std::size_t>(min))
            fail(name, "bad string length " + std::to_string(value.size()) + " < " +
                           std::to_string(min) + ": " + shown(name, value));
    }

    void convert(const LdapParameter &p, const std::string &text, std::string &out) const {
        check_length(p.name, text, p.min);
        out = text;
    }
    void convert(const LdapParameter &p, const std::string &text, Secret &out) const {
        check_length(p.name, text, p.min);
        out = Secret(text);
    }

    // get_dict_int(): strtol(), base 10, whole value, within int; a zero min/max means none.
    void convert(const LdapParameter &p, const std::string &text, int &out) const {
        errno = 0;
        char *end = nullptr;
        long value = std::strtol(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE || value != static_cast<int>(value))
            fail(p.name, "bad numerical configuration: " + shown(p.name, text));
        std::string name(p.name);
        if (p.min && value < p.min)
            fail(name, "invalid " + name + " parameter value " + std::to_string(value) + " < " +
                           std::to_string(p.min));
        if (p.max && value > p.max)
            fail(name, "invalid " + name + " parameter value " + std::to_string(value) + " > " +
                           std::to_string(p.max));
        out = static_cast<int>(value);
    }

    // get_dict_bool(): only yes and no, in any case.
    void convert(const LdapParameter &p, const std::string &text, bool &out) const {
        if (strcasecmp(text.c_str(), "yes") == 0)
            out = true;
        else if (strcasecmp(text.c_str(), "no") == 0)
            out = false;
        else
            fail(p.name, "bad boolean configuration: " + shown(p.name, text));
    }

    void convert(const LdapParameter &p, const std::string &text, Scope &out) const {
        check_length(p.name, text, p.min);
        if (strcasecmp(text.c_str(), "one") == 0)
            out = Scope::one;
        else if (strcasecmp(text.c_str(), "base") == 0)
            out = Scope::base;
        else
            out = Scope::sub;
        if (out == Scope::sub && strcasecmp(text.c_str(), "sub") != 0)
            warn(p.name, "Unrecognized value " + text + " specified for scope; using sub");
    }

    // name_code(): case-insensitive.
    void convert(const LdapParameter &p, const std::string &text, BindMode &out) const {
        static const std::map<std::string, BindMode> modes = {{"no", BindMode::none},
                                                              {"none", BindMode::none},
                                                              {"yes", BindMode::simple},
                                                              {"simple", BindMode::simple},
                                                              {"sasl", BindMode::sasl}};
        check_length(p.name, text, p.min);
        auto it = modes.find(fold_key(text));
        if (it == modes.end())
            fail(p.name, "unsupported parameter value: bind = " + text);
        out = it->second;
    }

    const TableFile &file_;
    std::vector<std::string> &warnings_;
    std::set<std::string> used_;
};

namespace {

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

// After the version: Debian patches the default from 2 to 3 and falls back to 3, not 2, on
// other values; then the server_host loop, which may raise the version again.
void read_version(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
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
void read_timeout(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
    std::string value = "timeout = " + std::to_string(t.timeout) + ": ";
    if (t.timeout == 0)
        r.warn("timeout", value + "libldap refuses a zero search time limit: every lookup fails");
    else if (t.timeout == -1)
        r.warn("timeout", value +
                              "Postfix waits without end for a server that does not "
                              "answer; ldap-health-check gives up after " +
                              std::to_string(LdapTable::unbounded_wait_seconds) + " s");
    else if (t.timeout < -1)
        r.warn("timeout", value + "libldap gives up on every answer after its first message: every "
                                  "lookup that finds an entry fails (Search error -5: Timed out)");
}

void check_template(TableReader &r, const std::string &name, const std::string &tmpl, bool query) {
    try {
        validate_template(tmpl);
    } catch (const ConfigError &) {
        r.fail(name, std::string("Invalid ") + (query ? "query" : "result") + " template: " + tmpl);
    }
}

// An empty result_format counts as unset, and then its older name result_filter is read, with
// the default and minimum length declared for result_format. Postfix checks the templates
// right after.
void read_result_format(TableReader &r, LdapTable &t, const LdapParameter &p) {
    std::string result_key = "result_format";
    if (std::optional<std::string> rf = r.str_or_null("result_format"))
        t.result_format = *rf;
    else
        t.result_format = r.str(result_key = "result_filter", p.fallback, p.min);
    check_template(r, "search_base", t.search_base, true);
    check_template(r, "query_filter", t.query_filter, true);
    if (!is_dynamic_template(t.query_filter))
        r.warn("query_filter", "Fixed query_filter " + t.query_filter + " is probably useless");
    check_template(r, result_key, t.result_format, false);
}

// Caching is gone from Postfix; setting it is only worth a warning.
void read_cache(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
    if (t.cache)
        r.warn(p.name, "ignoring cache");
}
void read_cache_limit(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
    if (t.*std::get<int LdapTable::*>(p.field) >= 0)
        r.warn(p.name, "ignoring " + std::string(p.name));
}

void read_size_limit(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p, std::to_string(t.expansion_limit));
    bool own = r.line("size_limit") != 0;
    if (t.size_limit < 0)
        r.warn(own ? "size_limit" : "expansion_limit",
               "size_limit = " + std::to_string(t.size_limit) +
                   (own ? "" : " (from expansion_limit)") +
                   ": Postfix sends this negative limit with every search, and a server refuses "
                   "it (slapd: Protocol error): every lookup fails");
}

void read_dereference(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
    if (t.dereference < 0 || t.dereference > 3) {
        r.warn("dereference", "Unrecognized value " + std::to_string(t.dereference) +
                                  " specified for dereference; using 0");
        t.dereference = 0;
    }
}

void read_start_tls(TableReader &r, LdapTable &t, const LdapParameter &p) {
    r.value(t, p);
    if (t.start_tls && t.version < 3) {
        r.warn("start_tls", "start_tls requires protocol version 3");
        t.version = 3;
    }
}

bool is_ldaps(const std::string &url) {
    return url.size() >= 8 && strncasecmp(url.c_str(), "ldaps://", 8) == 0;
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

bool LdapTable::uses_tls() const {
    auto list = urls();
    return start_tls || std::any_of(list.begin(), list.end(), is_ldaps);
}

std::vector<std::pair<std::string, std::string>> LdapTable::describe() const {
    std::vector<std::pair<std::string, std::string>> d;
    for (const LdapParameter &p : ldap_parameters()) {
        if (!p.has_field() || !in_effect(p, *this))
            continue;
        std::string value = value_text(p, *this);
        d.emplace_back(p.name, p.secret() && !value.empty() ? Secret::mask : value);
    }
    return d;
}

// The URL list stands for server_host and server_port: the normalised URLs follow from it.
std::vector<std::string> LdapTable::connection_key() const {
    bool tls = uses_tls();
    std::vector<std::string> key{url_list()};
    for (const LdapParameter &p : ldap_parameters()) {
        bool counts = p.connection == Connection::yes ||
                      (p.connection == Connection::if_bound && bind != BindMode::none) ||
                      (p.connection == Connection::if_sasl && bind == BindMode::sasl) ||
                      (p.connection == Connection::if_tls && tls);
        if (p.connection != Connection::no && p.connection != Connection::via_urls)
            key.push_back(counts ? value_text(p, *this) : "");
    }
    return key;
}

LdapTable::LdapTable() {
    TableFile none;
    TableReader defaults(none, warnings);
    for (const LdapParameter &p : ldap_parameters())
        defaults.store(*this, p, std::string(p.fallback));
}

// dict_ldap_open()'s parameters in the order it reads them (so the first fatal error is the
// one Postfix reports), with Debian 12's defaults.
const std::vector<LdapParameter> &ldap_parameters() {
    using T = LdapTable;
    static const std::vector<LdapParameter> parameters = {
        {"server_host", &T::server_host, "localhost", 1, 0, Connection::via_urls},
        {"server_port", &T::server_port, "389", 0, 0, Connection::via_urls},
        {"version", &T::version, "3", 2, 0, Connection::yes, read_version},
        {"scope", &T::scope, "sub", 1},
        {"search_base", &T::search_base, ""},
        // Not in Postfix's own key: it bounds the waits of the probe on that connection.
        {"timeout", &T::timeout, "10", 0, 0, Connection::yes, read_timeout},
        {"query_filter", &T::query_filter, "(mailacceptinggeneralid=%s)"},
        {"result_format", &T::result_format, "%s", 1, 0, Connection::no, read_result_format},
        {"result_filter", std::monostate{}, "%s"}, // read by read_result_format()
        {"domain", &T::domain, ""},
        {"terminal_result_attribute", &T::terminal_result_attribute, ""},
        {"leaf_result_attribute", &T::leaf_result_attribute, ""},
        {"result_attribute", &T::result_attribute, "maildrop"},
        {"special_result_attribute", &T::special_result_attribute, ""},
        {"bind", &T::bind, "yes", 1, 0, Connection::yes},
        {"bind_dn", &T::bind_dn, "", 0, 0, Connection::if_bound},
        {"bind_pw", &T::bind_pw, "", 0, 0, Connection::if_bound},
        {"cache", &T::cache, "no", 0, 0, Connection::no, read_cache},
        {"cache_expiry", &T::cache_expiry, "-1", 0, 0, Connection::no, read_cache_limit},
        {"cache_size", &T::cache_size, "-1", 0, 0, Connection::no, read_cache_limit},
        {"recursion_limit", &T::recursion_limit, "1000", 1},
        {"expansion_limit", &T::expansion_limit, "0"},
        // The default is expansion_limit's value, whose own default this is.
        {"size_limit", &T::size_limit, "0", 0, 0, Connection::no, read_size_limit},
        {"dereference", &T::dereference, "0", 0, 0, Connection::yes, read_dereference},
        {"chase_referrals", &T::chase_referrals, "no", 0, 0, Connection::yes},
        {"sasl_mechs", &T::sasl_mechs, "", 0, 0, Connection::if_sasl},
        {"sasl_realm", &T::sasl_realm, "", 0, 0, Connection::if_sasl},
        {"sasl_authz_id", &T::sasl_authz_id, "", 0, 0, Connection::if_sasl},
        {"sasl_minssf", &T::sasl_minssf, "0", 0, 4096, Connection::if_sasl},
        {"start_tls", &T::start_tls, "no", 0, 0, Connection::yes, read_start_tls},
        {"tls_require_cert", &T::tls_require_cert, "no", 0, 0, Connection::if_tls},
        {"tls_ca_cert_file", &T::tls_ca_cert_file, "", 0, 0, Connection::if_tls},
        {"tls_ca_cert_dir", &T::tls_ca_cert_dir, "", 0, 0, Connection::if_tls},
        {"tls_cert", &T::tls_cert, "", 0, 0, Connection::if_tls},
        {"tls_key", &T::tls_key, "", 0, 0, Connection::if_tls},
        {"tls_random_file", &T::tls_random_file, "", 0, 0, Connection::if_tls},
        {"tls_cipher_suite", &T::tls_cipher_suite, "", 0, 0, Connection::if_tls},
        {"debuglevel", &T::debuglevel, "0"},
    };
    return parameters;
}

LdapTable parse_ldap_table(std::string_view text, const std::string &path, unsigned mode) {
    TableFile file = parse_table_text(text, path);
    LdapTable t;
    t.path = path;
    t.warnings = file.warnings;
    TableReader r(file, t.warnings);
    for (const LdapParameter &p : ldap_parameters()) {
        if (!in_effect(p, t))
            continue;
        if (p.read)
            p.read(r, t, p);
        else
            r.value(t, p);
    }
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

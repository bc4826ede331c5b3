#include "table_loader.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"
#include "server_urls.hpp"
#include "table_file.hpp"
#include "table_reader.hpp"

#include <map>
#include <optional>
#include <sys/stat.h>

namespace lhc {

namespace {

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

// How dict_ldap_open() reads a parameter where that is more than the value alone.
using Read = void (*)(TableReader &, LdapTable &, const LdapParameter &);

Read reading_of(std::string_view name) {
    static const std::map<std::string_view, Read> readings = {
        {"version", read_version},
        {"timeout", read_timeout},
        {"result_format", read_result_format},
        {"cache", read_cache},
        {"cache_expiry", read_cache_limit},
        {"cache_size", read_cache_limit},
        {"size_limit", read_size_limit},
        {"dereference", read_dereference},
        {"start_tls", read_start_tls},
    };
    auto it = readings.find(name);
    return it == readings.end() ? nullptr : it->second;
}

} // namespace

LdapTable parse_ldap_table(std::string_view text, const std::string &path, unsigned mode) {
    TableFile file = parse_table_text(text, path);
    LdapTable t;
    t.path = path;
    t.warnings = file.warnings;
    TableReader r(file, t.warnings);
    for (const LdapParameter &p : ldap_parameters()) {
        if (!p.in_effect(t))
            continue;
        if (Read read = reading_of(p.name))
            read(r, t, p);
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

// Postfix opens its tables as root, before it drops privileges: a file this process may not
// read (0600, another group) can still serve Postfix, so only a missing file, one that is no
// regular file or one that Postfix refuses to parse makes a table unusable to Postfix too.
LdapTable load_ldap_table(const std::string &path) {
    unsigned mode = 0;
    std::string text;
    try {
        text = read_whole_file(path, &mode);
    } catch (const ConfigError &e) {
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
            throw;
        throw UnusableTable(e);
    }
    try {
        return parse_ldap_table(text, path, mode);
    } catch (const ConfigError &e) {
        throw UnusableTable(e);
    }
}

} // namespace lhc

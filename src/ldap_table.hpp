// The ldap_table(5) model: every parameter Postfix knows, with Debian's effective defaults
// and what each means for the connection Postfix shares between tables. Reading a file into
// it is table_loader.hpp's.
#pragma once

#include "secret.hpp"
#include "table_values.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace lhc {

// The field of every parameter is declared in ldap_parameters() (ldap_table.cpp), with its
// default: a default-constructed table holds Postfix's defaults.
struct LdapTable {
    LdapTable();

    std::string path;

    // connection
    std::string server_host;
    int server_port;
    int version; // Debian 12's Postfix 3.7 defaults to 3, see postmap -v
    int timeout;
    bool start_tls;
    bool tls_require_cert;
    std::string tls_ca_cert_file, tls_ca_cert_dir, tls_cert, tls_key, tls_random_file,
        tls_cipher_suite;
    BindMode bind;
    std::string bind_dn;
    Secret bind_pw;
    std::string sasl_mechs, sasl_realm, sasl_authz_id;
    int sasl_minssf;
    int dereference;
    bool chase_referrals;
    int debuglevel;

    // query
    std::string search_base;
    Scope scope;
    std::string query_filter;
    std::string domain; // Postfix match list; empty = no restriction
    std::string result_format;
    std::string result_attribute;
    std::string special_result_attribute, terminal_result_attribute, leaf_result_attribute;
    int recursion_limit;
    int expansion_limit;
    int size_limit; // defaults to expansion_limit
    bool cache;
    int cache_expiry, cache_size;

    std::vector<std::string> warnings; // "file:line: what"; the caller logs them

    // The URL list Postfix hands to ldap_initialize() in one call, exactly as it builds it.
    std::string url_list() const;
    // The same servers one URL each, in order, normalised: "<ldaps://h/>" and "URL:ldaps://h/"
    // (forms libldap accepts) become "ldaps://h/", so the scheme can be read off the prefix.
    std::vector<std::string> urls() const;
    // Why libldap refuses url_list() (then every Postfix lookup fails), or "" when it takes it.
    std::string url_list_error() const;
    // StartTLS or an ldaps:// URL: the tls_* settings apply.
    bool uses_tls() const;
    // How long any single wait may last, in seconds: the timeout, or where Postfix's own
    // client would wait without end (timeout <= 0 in the waits it does not bound),
    // unbounded_wait_seconds. Always positive.
    int wait_seconds() const { return timeout > 0 ? timeout : unbounded_wait_seconds; }
    static constexpr int unbounded_wait_seconds = 10; // Postfix's default timeout
    // Below -1, libldap's ldap_result() waits without end for the first message of an answer
    // and then finds its deadline long past (wait4msg, result.c): an answer of one message
    // (nothing found, an error) gets through, one that finds an entry (entries, then the
    // result) fails with LDAP_TIMEOUT. Mail is looked up by keys that exist: the table fails.
    bool finds_time_out() const { return timeout < -1; }
    // Every resolved parameter as (name, value), secrets shown as Secret::mask: for --debug.
    std::vector<std::pair<std::string, std::string>> describe() const;
    // Equal for two tables exactly when Postfix would give them one shared connection: the
    // URL list and the values of the parameters that belong to the connection.
    std::vector<std::string> connection_key() const;
};

// One ldap_table(5) parameter as dict_ldap_open() reads it.
struct LdapParameter {
    // Whether tables that differ in it still share one connection (dict_ldap_conn_find()).
    enum class Connection {
        no,       // a query parameter: they do
        via_urls, // they do when the URL lists it makes are the same (server_host, server_port)
        yes,
        if_bound, // only counts unless bind = no
        if_tls,   // only counts with StartTLS or an ldaps:// URL
        if_sasl,  // only counts with bind = sasl, and Postfix reads it only then
    };
    // Where the value lives; its type says how the file's text is read (table_values.hpp). A
    // Secret is never quoted in a message. monostate: another parameter's reading reads it
    // (table_loader.cpp).
    using Field = std::variant<std::monostate, std::string LdapTable::*, Secret LdapTable::*,
                               int LdapTable::*, bool LdapTable::*, Scope LdapTable::*,
                               BindMode LdapTable::*>;

    std::string_view name;
    Field field;
    std::string_view fallback; // the default, as it would be written in the file
    // A string's minimum length or an integer's range (0: none), checked on the default too.
    int min = 0, max = 0;
    Connection connection = Connection::no;

    bool has_field() const { return !std::holds_alternative<std::monostate>(field); }
    bool secret() const { return std::holds_alternative<Secret LdapTable::*>(field); }
    // Postfix reads the sasl_* parameters only for bind = sasl, and only then are they in
    // effect.
    bool in_effect(const LdapTable &t) const;
};

// Every parameter dict_ldap_open() reads, in its order.
const std::vector<LdapParameter> &ldap_parameters();
// The parameter called `name`, or null.
const LdapParameter *find_parameter(std::string_view name);

} // namespace lhc

// The ldap_table(5) model: every parameter Postfix 3.7 knows, Debian 12's effective defaults,
// and Postfix's validation (refuse what Postfix refuses, warn where it warns).
#pragma once

#include "secret.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lhc {

enum class BindMode { none, simple, sasl }; // bind = no | yes | sasl
enum class Scope { base, one, sub };

struct LdapTable {
    std::string path;

    // connection
    std::string server_host = "localhost";
    int server_port = 389;
    int version = 3; // what Debian 12's Postfix 3.7 resolves, see postmap -v
    int timeout = 10;
    bool start_tls = false;
    bool tls_require_cert = false;
    std::string tls_ca_cert_file, tls_ca_cert_dir, tls_cert, tls_key, tls_random_file,
        tls_cipher_suite;
    BindMode bind = BindMode::simple;
    std::string bind_dn;
    Secret bind_pw;
    std::string sasl_mechs, sasl_realm, sasl_authz_id;
    int sasl_minssf = 0;
    int dereference = 0;
    bool chase_referrals = false;
    int debuglevel = 0;

    // query
    std::string search_base;
    Scope scope = Scope::sub;
    std::string query_filter = "(mailacceptinggeneralid=%s)";
    std::string domain; // Postfix match list; empty = no restriction
    std::string result_format = "%s";
    std::string result_attribute = "maildrop";
    std::string special_result_attribute, terminal_result_attribute, leaf_result_attribute;
    int recursion_limit = 1000;
    int expansion_limit = 0;
    int size_limit = 0; // defaults to expansion_limit
    bool cache = false;
    int cache_expiry = -1, cache_size = -1;

    std::vector<std::string> warnings; // "file:line: what"; the caller logs them

    // The URL list Postfix hands to ldap_initialize() in one call, exactly as it builds it.
    std::string url_list() const;
    // The same servers one URL each, in order, normalised: "<ldaps://h/>" and "URL:ldaps://h/"
    // (forms libldap accepts) become "ldaps://h/", so the scheme can be read off the prefix.
    std::vector<std::string> urls() const;
    // Why libldap refuses url_list() (then every Postfix lookup fails), or "" when it takes it.
    std::string url_list_error() const;
    // How long any single wait may last, in seconds: the timeout, or where Postfix's own
    // client would wait without end (timeout <= 0 in the waits it does not bound),
    // unbounded_wait_seconds. Always positive.
    int wait_seconds() const { return timeout > 0 ? timeout : unbounded_wait_seconds; }
    static constexpr int unbounded_wait_seconds = 10; // Postfix's default timeout
    // Every resolved parameter as (name, value), secrets shown as Secret::mask: for --debug.
    std::vector<std::pair<std::string, std::string>> describe() const;
};

// Reads and validates one table file. Throws ConfigError("file:line: what").
LdapTable load_ldap_table(const std::string &path);
// Same from text already in memory (tests, fuzzing). `mode` is the file's st_mode, to warn
// when a file holding bind_pw is readable by others; pass 0 to skip that check.
LdapTable parse_ldap_table(std::string_view text, const std::string &path, unsigned mode = 0);

} // namespace lhc

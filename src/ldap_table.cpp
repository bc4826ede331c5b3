#include "ldap_table.hpp"

#include "server_urls.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

namespace lhc {

using Connection = LdapParameter::Connection;

namespace {

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

// A default is a value Postfix takes: read as the file's text would be, it cannot fail.
void assign(std::string &out, const std::string &text) {
    out = text;
}
void assign(Secret &out, const std::string &text) {
    out = Secret(text);
}
void assign(int &out, const std::string &text) {
    out = int_value(text).value();
}
void assign(bool &out, const std::string &text) {
    out = bool_value(text).value();
}
void assign(Scope &out, const std::string &text) {
    out = scope_value(text).value();
}
void assign(BindMode &out, const std::string &text) {
    out = bind_value(text).value();
}

} // namespace

LdapTable::LdapTable() {
    for (const LdapParameter &p : ldap_parameters())
        std::visit(
            [&](auto member) {
                if constexpr (!std::is_same_v<decltype(member), std::monostate>)
                    assign(this->*member, std::string(p.fallback));
            },
            p.field);
}

std::vector<std::string> LdapTable::urls() const {
    return build_urls(server_host, server_port).normalised;
}

std::string LdapTable::url_list() const {
    return join_urls(build_urls(server_host, server_port).literal);
}

std::string LdapTable::url_list_error() const {
    return lhc::url_list_error(build_urls(server_host, server_port).literal);
}

bool LdapTable::uses_tls() const {
    auto list = urls();
    return start_tls || std::any_of(list.begin(), list.end(), is_ldaps);
}

std::vector<std::pair<std::string, std::string>> LdapTable::describe() const {
    std::vector<std::pair<std::string, std::string>> d;
    for (const LdapParameter &p : ldap_parameters()) {
        if (!p.has_field() || !p.in_effect(*this))
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

bool LdapParameter::in_effect(const LdapTable &t) const {
    return connection != Connection::if_sasl || t.bind == BindMode::sasl;
}

const LdapParameter *find_parameter(std::string_view name) {
    for (const LdapParameter &p : ldap_parameters())
        if (p.name == name)
            return &p;
    return nullptr;
}

// dict_ldap_open()'s parameters in the order it reads them (so the first fatal error is the
// one Postfix reports), with Debian's defaults. Where Postfix does more than read the value,
// table_loader.cpp says what.
const std::vector<LdapParameter> &ldap_parameters() {
    using T = LdapTable;
    static const std::vector<LdapParameter> parameters = {
        {"server_host", &T::server_host, "localhost", 1, 0, Connection::via_urls},
        {"server_port", &T::server_port, "389", 0, 0, Connection::via_urls},
        {"version", &T::version, "3", 2, 0, Connection::yes},
        {"scope", &T::scope, "sub", 1},
        {"search_base", &T::search_base, ""},
        // Not in Postfix's own key: it bounds the waits of the probe on that connection.
        {"timeout", &T::timeout, "10", 0, 0, Connection::yes},
        {"query_filter", &T::query_filter, "(mailacceptinggeneralid=%s)"},
        {"result_format", &T::result_format, "%s", 1},
        {"result_filter", std::monostate{}, "%s"}, // read with result_format
        {"domain", &T::domain, ""},
        {"terminal_result_attribute", &T::terminal_result_attribute, ""},
        {"leaf_result_attribute", &T::leaf_result_attribute, ""},
        {"result_attribute", &T::result_attribute, "maildrop"},
        {"special_result_attribute", &T::special_result_attribute, ""},
        {"bind", &T::bind, "yes", 1, 0, Connection::yes},
        {"bind_dn", &T::bind_dn, "", 0, 0, Connection::if_bound},
        {"bind_pw", &T::bind_pw, "", 0, 0, Connection::if_bound},
        {"cache", &T::cache, "no"},
        {"cache_expiry", &T::cache_expiry, "-1"},
        {"cache_size", &T::cache_size, "-1"},
        {"recursion_limit", &T::recursion_limit, "1000", 1},
        {"expansion_limit", &T::expansion_limit, "0"},
        // The default is expansion_limit's value, whose own default this is.
        {"size_limit", &T::size_limit, "0"},
        {"dereference", &T::dereference, "0", 0, 0, Connection::yes},
        {"chase_referrals", &T::chase_referrals, "no", 0, 0, Connection::yes},
        {"sasl_mechs", &T::sasl_mechs, "", 0, 0, Connection::if_sasl},
        {"sasl_realm", &T::sasl_realm, "", 0, 0, Connection::if_sasl},
        {"sasl_authz_id", &T::sasl_authz_id, "", 0, 0, Connection::if_sasl},
        {"sasl_minssf", &T::sasl_minssf, "0", 0, 4096, Connection::if_sasl},
        {"start_tls", &T::start_tls, "no", 0, 0, Connection::yes},
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

} // namespace lhc

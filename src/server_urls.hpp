// server_host as dict_ldap_open() turns it into the URL list it hands to ldap_initialize():
// LDAP URLs as they are, host:port and bare hosts made into ldap:// URLs.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace lhc {

struct ServerList {
    std::vector<std::string> literal;    // as Postfix joins them for ldap_initialize()
    std::vector<std::string> normalised; // the same, one normalised URL each
};

// `warn` hears what Postfix warns about (a URL it skips) and of every non-ldap scheme, which
// needs protocol version 3.
using UrlWarn = std::function<void(const std::string &)>;
ServerList build_urls(const std::string &hosts, int port, const UrlWarn &warn = {});

// The list as one string, as ldap_initialize() takes it.
std::string join_urls(const std::vector<std::string> &urls);

// Why libldap refuses the list (ldap_url_parse() of each entry), or "".
std::string url_list_error(const std::vector<std::string> &literal);

bool is_ldaps(const std::string &url);

} // namespace lhc

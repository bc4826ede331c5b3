// Zero configuration: the ldap: and proxy:ldap: tables that Postfix itself uses.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lhc {

struct DiscoveredTables {
    std::vector<std::string> files;   // absolute paths, in order of first appearance
    std::vector<std::string> skipped; // ldap:name forms that live in main.cf, not in a file
};

// Scans `postconf` and `postconf -P` output for ldap:/path and proxy:ldap:/path.
DiscoveredTables find_ldap_tables(std::string_view postconf_output);

// Runs `postconf [-c DIR]` and `postconf -P [-c DIR]`; throws ConfigError when it cannot.
DiscoveredTables discover_ldap_tables(const std::string &postconf, const std::string &config_dir);

} // namespace lhc

// Zero configuration: the ldap: and proxy:ldap: tables that Postfix itself uses.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lhc {

struct DiscoveredTables {
    std::vector<std::string> files;   // absolute paths, in order of first appearance
    std::vector<std::string> skipped; // ldap:name forms that live in main.cf, not in a file
};

// postconf runs at start and on every reload: a hung one must not hang the daemon.
inline constexpr std::chrono::milliseconds postconf_deadline = std::chrono::seconds(10);
// Postfix 3.7 prints about 35 KiB; far more is not postconf.
inline constexpr std::size_t postconf_output_limit = std::size_t{1} << 20;

// Scans `postconf -x` and `postconf -P -x` output for ldap:/path and proxy:ldap:/path.
DiscoveredTables find_ldap_tables(std::string_view postconf_output);

// Runs `postconf -x [-c DIR]` and `postconf -P -x [-c DIR]`, each killed after `deadline`;
// throws ConfigError when either cannot run, fails, says too much or does not answer in time,
// and std::system_error when the OS fails us (pipe2, posix_spawn, poll, read): exit 70.
DiscoveredTables discover_ldap_tables(const std::string &postconf, const std::string &config_dir,
                                      std::chrono::milliseconds deadline = postconf_deadline);

// `postconf -x -h NAME [-c DIR]`: one main.cf parameter as Postfix expands it. Fails as
// discover_ldap_tables() does.
std::string postconf_parameter(const std::string &postconf, const std::string &config_dir,
                               const std::string &name,
                               std::chrono::milliseconds deadline = postconf_deadline);

} // namespace lhc

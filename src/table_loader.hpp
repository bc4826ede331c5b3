// dict_ldap_open(): one table file read as Postfix reads it, its parameters in Postfix's order
// (so the first fatal error is the one Postfix reports), with the checks, warnings and
// consequences Postfix attaches to some of them.
#pragma once

#include "ldap_table.hpp"

#include <string>
#include <string_view>

namespace lhc {

// Reads and validates one table file. Throws ConfigError("file:line: what"): UnusableTable
// where Postfix cannot use the file either.
LdapTable load_ldap_table(const std::string &path);
// Same from text already in memory (tests, fuzzing). `mode` is the file's st_mode, to warn
// when a file holding bind_pw is readable by others; pass 0 to skip that check.
LdapTable parse_ldap_table(std::string_view text, const std::string &path, unsigned mode = 0);

} // namespace lhc

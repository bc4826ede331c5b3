// --canary TABLE=KEY: a lookup that must return a value every round.
#pragma once

#include <string>

namespace lhc {

struct Canary {
    std::string table; // a watched ldap_table(5) file, as --conffile or postconf names it
    std::string key;   // as given; Postfix folds it to lower case before the lookup
    bool operator==(const Canary &) const = default;
};

} // namespace lhc

#include "sasl_plugins.hpp"

#include <algorithm>
#include <sasl/sasl.h>

namespace lhc {

namespace {

// SASL asks this before it opens each plugin; anything but SASL_OK skips the file.
int refuse_plugins(void *, const char *, sasl_verify_type_t type) {
    return type == SASL_VRFY_PLUGIN ? SASL_CONTINUE : SASL_OK;
}

// sasl_callback_t holds every callback as int (*)(); through void (*)() the compiler knows
// the cast is meant.
auto *verifyfile = reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(&refuse_plugins));

// SASL keeps a pointer to this list for the life of the process.
const sasl_callback_t no_plugins[] = {
    {SASL_CB_VERIFYFILE, verifyfile, nullptr},
    {SASL_CB_LIST_END, nullptr, nullptr},
};

} // namespace

bool any_sasl_bind(const std::vector<LdapTable> &tables) {
    return std::any_of(tables.begin(), tables.end(),
                       [](const LdapTable &t) { return t.bind == BindMode::sasl; });
}

void start_sasl_without_plugins() {
    sasl_client_init(no_plugins);
}

} // namespace lhc

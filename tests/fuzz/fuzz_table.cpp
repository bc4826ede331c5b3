// libFuzzer target for the table reader: parse_ldap_table() on arbitrary bytes must return or
// throw ConfigError, nothing else; and no message it produces may carry the bind password.
#include "config_error.hpp"
#include "ldap_table.hpp"
#include "query_expand.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <sys/stat.h>

namespace {

// Letters only, so no message can assemble it from fixed text and pieces of the input.
constexpr std::string_view canary = "LhcFuzzCanaryPw";

void require(bool ok) {
    if (!ok)
        std::abort();
}

bool leaks(const std::string &text) {
    return text.find(canary) != std::string::npos;
}

// Everything a parsed table is used for before the probe talks to a server.
void use(const lhc::LdapTable &t) {
    t.urls();
    for (const auto &[name, value] : t.describe())
        require(name != "bind_pw" || value.empty() || value == lhc::Secret::mask);
    std::string key = lhc::default_probe_key(t);
    lhc::expand_query(t, key);
    lhc::has_dynamic_base(t);
}

// The same text with a bind_pw line of ours appended (the last one wins): warnings, errors
// and --debug's description must not show it.
void check_secret(std::string_view text) {
    if (text.find(canary) != std::string_view::npos)
        return;
    std::string with_pw(text);
    with_pw += "\nbind_pw = ";
    with_pw += canary;
    with_pw += '\n';
    try {
        lhc::LdapTable t = lhc::parse_ldap_table(with_pw, "fuzz.cf", S_IROTH);
        require(t.bind_pw.reveal() == canary);
        for (const std::string &w : t.warnings)
            require(!leaks(w));
        for (const auto &[name, value] : t.describe())
            require(!leaks(value));
    } catch (const lhc::ConfigError &e) {
        require(!leaks(e.what()));
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    try {
        use(lhc::parse_ldap_table(text, "fuzz.cf"));
    } catch (const lhc::ConfigError &) {
        // The one way to refuse a table; anything else escapes and aborts the run.
    }
    check_secret(text);
    return 0;
}

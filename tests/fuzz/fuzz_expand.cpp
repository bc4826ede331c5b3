// libFuzzer target for the % expander. The input is up to five NUL-separated fields:
//   template, key, search_base, result_format, domain
// A template is either refused with lhc::ConfigError by validate_template() or expands
// for any key; quoted values never carry a character that could change the LDAP filter or DN.
#include "config_error.hpp"
#include "ldap_table.hpp"
#include "query_expand.hpp"
#include "table_loader.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void require(bool ok) {
    if (!ok)
        std::abort();
}

std::vector<std::string_view> fields(std::string_view in, std::size_t max) {
    std::vector<std::string_view> out;
    while (out.size() + 1 < max) {
        std::size_t nul = in.find('\0');
        if (nul == std::string_view::npos)
            break;
        out.push_back(in.substr(0, nul));
        in.remove_prefix(nul + 1);
    }
    out.push_back(in);
    out.resize(max);
    return out;
}

bool valid(std::string_view tmpl) {
    try {
        lhc::validate_template(tmpl);
        return true;
    } catch (const lhc::ConfigError &) {
        return false;
    }
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// Every special character comes out as \XX, and nothing else gets a backslash.
void check_escape(std::string_view value, lhc::Escape escape, std::string_view special) {
    std::string out = lhc::escape_value(value, escape);
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] == '\\') {
            require(i + 2 < out.size() && is_hex(out[i + 1]) && is_hex(out[i + 2]));
            i += 2;
            continue;
        }
        require(special.find(out[i]) == std::string_view::npos);
    }
}

void check_template(std::string_view tmpl, std::string_view key) {
    if (!valid(tmpl)) {
        try {
            lhc::is_dynamic_template(tmpl);
        } catch (const lhc::ConfigError &) {
            return;
        }
        std::abort(); // validate_template() and is_dynamic_template() disagree
    }
    bool dynamic = lhc::is_dynamic_template(tmpl);
    for (lhc::Escape escape : {lhc::Escape::filter, lhc::Escape::dn}) {
        std::optional<std::string> out = lhc::expand_template(tmpl, key, escape);
        if (out && tmpl.find('%') == std::string_view::npos)
            require(*out == tmpl);
        if (!dynamic && !key.empty())
            require(out.has_value());
    }
}

void check_query(const std::vector<std::string_view> &f) {
    lhc::LdapTable t;
    t.query_filter = std::string(f[0]);
    t.search_base = std::string(f[2]);
    if (!f[3].empty())
        t.result_format = std::string(f[3]);
    t.domain = std::string(f[4]);
    if (!valid(t.query_filter) || !valid(t.search_base) || !valid(t.result_format))
        return; // parse_ldap_table() refuses such a table
    std::optional<lhc::LdapQuery> q = lhc::expand_query(t, f[1]);
    require(q.has_value() == lhc::would_query(t, f[1]));
    lhc::expand_query(t, lhc::default_probe_key(t));
    lhc::has_dynamic_base(t);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in(reinterpret_cast<const char *>(data), size);
    std::vector<std::string_view> f = fields(in, 5);
    check_template(f[0], f[1]);
    check_escape(f[1], lhc::Escape::filter, "*()");
    check_escape(f[1], lhc::Escape::dn, " \t\"#+,;<>");
    require(lhc::fold_key(f[1]).size() == f[1].size());
    check_query(f);
    return 0;
}

#include "table_reader.hpp"

#include "config_error.hpp"

#include <type_traits>
#include <variant>

namespace lhc {

int TableReader::line(std::string_view name) const {
    auto it = file_.entries.find(std::string(name));
    return it == file_.entries.end() ? 0 : it->second.line;
}

void TableReader::fail(std::string_view name, const std::string &what) const {
    throw ConfigError(file_.path, line(name), what);
}

void TableReader::warn(std::string_view name, const std::string &what) const {
    warnings_.push_back(ConfigError::format(file_.path, line(name), what));
}

void TableReader::value(LdapTable &t, const LdapParameter &p, std::string_view fallback) {
    if (!p.has_field())
        return; // another parameter's reading reads it
    const std::string *v = lookup(p.name);
    std::string text = v ? *v : std::string(fallback);
    std::visit(
        [&](auto member) {
            if constexpr (!std::is_same_v<decltype(member), std::monostate>)
                convert(p, text, t.*member);
        },
        p.field);
}

std::string TableReader::str(std::string_view name, std::string_view def, int min) {
    const std::string *v = lookup(name);
    std::string value = v ? *v : std::string(def);
    check_length(name, value, min);
    return value;
}

std::optional<std::string> TableReader::str_or_null(std::string_view name) {
    const std::string *v = lookup(name);
    if (!v || v->empty())
        return std::nullopt;
    return *v;
}

void TableReader::warn_unused(BindMode bind) const {
    for (const auto &[name, entry] : file_.entries) {
        if (used_.count(name))
            continue;
        std::string why = !find_parameter(name)     ? "unknown parameter, ignored"
                          : name == "result_filter" ? "ignored because result_format is set"
                          : bind != BindMode::sasl  ? "ignored unless bind = sasl"
                                                    : "ignored";
        warnings_.push_back(ConfigError::format(file_.path, entry.line, name + ": " + why));
    }
}

const std::string *TableReader::lookup(std::string_view name) {
    std::string key(name);
    used_.insert(key);
    auto it = file_.entries.find(key);
    return it == file_.entries.end() ? nullptr : &it->second.value;
}

std::string TableReader::shown(std::string_view name, const std::string &value) const {
    const LdapParameter *p = find_parameter(name);
    return std::string(name) + " = " + (p && p->secret() ? std::string(Secret::mask) : value);
}

void TableReader::check_length(std::string_view name, const std::string &value, int min) const {
    if (value.size() < static_cast<std::size_t>(min))
        fail(name, "bad string length " + std::to_string(value.size()) + " < " +
                       std::to_string(min) + ": " + shown(name, value));
}

void TableReader::convert(const LdapParameter &p, const std::string &text, std::string &out) const {
    check_length(p.name, text, p.min);
    out = text;
}

void TableReader::convert(const LdapParameter &p, const std::string &text, Secret &out) const {
    check_length(p.name, text, p.min);
    out = Secret(text);
}

// get_dict_int(): a zero min or max means none.
void TableReader::convert(const LdapParameter &p, const std::string &text, int &out) const {
    std::optional<int> value = int_value(text);
    if (!value)
        fail(p.name, "bad numerical configuration: " + shown(p.name, text));
    std::string name(p.name);
    if (p.min && *value < p.min)
        fail(name, "invalid " + name + " parameter value " + std::to_string(*value) + " < " +
                       std::to_string(p.min));
    if (p.max && *value > p.max)
        fail(name, "invalid " + name + " parameter value " + std::to_string(*value) + " > " +
                       std::to_string(p.max));
    out = *value;
}

// get_dict_bool().
void TableReader::convert(const LdapParameter &p, const std::string &text, bool &out) const {
    std::optional<bool> value = bool_value(text);
    if (!value)
        fail(p.name, "bad boolean configuration: " + shown(p.name, text));
    out = *value;
}

void TableReader::convert(const LdapParameter &p, const std::string &text, Scope &out) const {
    check_length(p.name, text, p.min);
    std::optional<Scope> value = scope_value(text);
    if (!value)
        warn(p.name, "Unrecognized value " + text + " specified for scope; using sub");
    out = value.value_or(Scope::sub);
}

// name_code().
void TableReader::convert(const LdapParameter &p, const std::string &text, BindMode &out) const {
    check_length(p.name, text, p.min);
    std::optional<BindMode> value = bind_value(text);
    if (!value)
        fail(p.name, "unsupported parameter value: bind = " + text);
    out = *value;
}

} // namespace lhc

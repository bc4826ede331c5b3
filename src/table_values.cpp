#include "table_values.hpp"

#include <cerrno>
#include <cstdlib>
#include <strings.h>

namespace lhc {

std::optional<int> int_value(const std::string &text) {
    errno = 0;
    char *end = nullptr;
    long value = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE || value != static_cast<int>(value))
        return std::nullopt;
    return static_cast<int>(value);
}

std::optional<bool> bool_value(const std::string &text) {
    if (strcasecmp(text.c_str(), "yes") == 0)
        return true;
    if (strcasecmp(text.c_str(), "no") == 0)
        return false;
    return std::nullopt;
}

std::optional<Scope> scope_value(const std::string &text) {
    for (Scope s : {Scope::base, Scope::one, Scope::sub})
        if (strcasecmp(text.c_str(), text_of(s).c_str()) == 0)
            return s;
    return std::nullopt;
}

std::optional<BindMode> bind_value(const std::string &text) {
    static const struct {
        const char *name;
        BindMode mode;
    } names[] = {{"no", BindMode::none},
                 {"none", BindMode::none},
                 {"yes", BindMode::simple},
                 {"simple", BindMode::simple},
                 {"sasl", BindMode::sasl}};
    for (const auto &n : names)
        if (strcasecmp(text.c_str(), n.name) == 0)
            return n.mode;
    return std::nullopt;
}

std::string text_of(const std::string &v) {
    return v;
}

std::string text_of(const Secret &v) {
    return v.reveal();
}

std::string text_of(int v) {
    return std::to_string(v);
}

std::string text_of(bool v) {
    return v ? "yes" : "no";
}

std::string text_of(Scope v) {
    return v == Scope::base ? "base" : v == Scope::one ? "one" : "sub";
}

std::string text_of(BindMode v) {
    return v == BindMode::none ? "no" : v == BindMode::simple ? "yes" : "sasl";
}

} // namespace lhc

// The types of ldap_table(5) values and how Postfix reads their text: get_dict_int(),
// get_dict_bool(), the scope and the bind names.
#pragma once

#include "secret.hpp"

#include <optional>
#include <string>

namespace lhc {

enum class BindMode { none, simple, sasl }; // bind = no | yes | sasl
enum class Scope { base, one, sub };

// strtol(), base 10, the whole text, within int.
std::optional<int> int_value(const std::string &text);
// Only yes and no, in any case.
std::optional<bool> bool_value(const std::string &text);
// base, one or sub in any case; nullopt for anything else (Postfix then takes sub).
std::optional<Scope> scope_value(const std::string &text);
// name_code(): no, none, yes, simple or sasl, in any case.
std::optional<BindMode> bind_value(const std::string &text);

// The value as Postfix spells it, the clear text of a secret included.
std::string text_of(const std::string &v);
std::string text_of(const Secret &v);
std::string text_of(int v);
std::string text_of(bool v);
std::string text_of(Scope v);
std::string text_of(BindMode v);

} // namespace lhc

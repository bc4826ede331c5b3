// Postfix's cfg_get_str(), cfg_get_int() and cfg_get_bool() over a parsed table file: each
// parameter's value from the file or its default, read as its type with Postfix's checks,
// every message with file:line.
#pragma once

#include "ldap_table.hpp"
#include "table_file.hpp"

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lhc {

class TableReader {
  public:
    // Warnings go to `warnings`; a value Postfix refuses throws ConfigError("file:line: what").
    TableReader(const TableFile &file, std::vector<std::string> &warnings)
        : file_(file), warnings_(warnings) {}

    // The line that sets `name`, or 0.
    int line(std::string_view name) const;
    [[noreturn]] void fail(std::string_view name, const std::string &what) const;
    void warn(std::string_view name, const std::string &what) const;

    // The parameter's value from the file, or `fallback` when the file does not set it.
    void value(LdapTable &t, const LdapParameter &p, std::string_view fallback);
    void value(LdapTable &t, const LdapParameter &p) { value(t, p, p.fallback); }

    // cfg_get_str(): `min` is the minimum length, checked on the default too.
    std::string str(std::string_view name, std::string_view def, int min);
    // cfg_get_str() with a null default: absent and empty are the same.
    std::optional<std::string> str_or_null(std::string_view name);

    // What Postfix ignores silently and an admin most likely did not mean.
    void warn_unused(BindMode bind) const;

  private:
    const std::string *lookup(std::string_view name);
    std::string shown(std::string_view name, const std::string &value) const;
    void check_length(std::string_view name, const std::string &value, int min) const;

    void convert(const LdapParameter &p, const std::string &text, std::string &out) const;
    void convert(const LdapParameter &p, const std::string &text, Secret &out) const;
    void convert(const LdapParameter &p, const std::string &text, int &out) const;
    void convert(const LdapParameter &p, const std::string &text, bool &out) const;
    void convert(const LdapParameter &p, const std::string &text, Scope &out) const;
    void convert(const LdapParameter &p, const std::string &text, BindMode &out) const;

    const TableFile &file_;
    std::vector<std::string> &warnings_;
    std::set<std::string> used_;
};

} // namespace lhc

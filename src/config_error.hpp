// Configuration and start-up errors: exceptions that carry file:line, mapped to EX_CONFIG by main.
#pragma once

#include <stdexcept>
#include <string>

namespace lhc {

class ConfigError : public std::runtime_error {
  public:
    // line 0 means "the file as a whole" (unreadable, missing, ...).
    ConfigError(const std::string &file, int line, const std::string &what)
        : std::runtime_error(format(file, line, what)), file_(file), line_(line) {}
    explicit ConfigError(const std::string &what) : std::runtime_error(what), line_(0) {}

    const std::string &file() const noexcept { return file_; }
    int line() const noexcept { return line_; }

    static std::string format(const std::string &file, int line, const std::string &what) {
        if (file.empty())
            return what;
        return line > 0 ? file + ":" + std::to_string(line) + ": " + what : file + ": " + what;
    }

  private:
    std::string file_;
    int line_;
};

// A table file that Postfix itself cannot open (missing, unreadable, a value dict_ldap_open()
// refuses): every lookup of a new Postfix process fails.
class UnusableTable : public ConfigError {
  public:
    explicit UnusableTable(const ConfigError &e) : ConfigError(e) {}
};

} // namespace lhc

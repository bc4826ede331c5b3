// libFuzzer target for the table reader: parse_ldap_table() on arbitrary bytes must return or
// throw ConfigError, nothing else; no message it produces may carry the bind password, nor any
// text of a line it cannot parse, nor (as logged) a control byte; and the lexer must read every
// input, NUL bytes included, exactly as a transliteration of Postfix's own C code does.
#include "config_error.hpp"
#include "ldap_table.hpp"
#include "log.hpp"
#include "query_expand.hpp"
#include "table_file.hpp"
#include "table_loader.hpp"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <utility>
#include <vector>

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

// Postfix 3.7's readllines(), dict_load_fp() and split_nameval(), statement by statement on a
// byte stream and on C strings, with messages shaped as ours (file:line: what, nothing quoted).
class PostfixReference {
  public:
    explicit PostfixReference(std::string_view text) : text_(text) {}

    // What parse_table_text() must produce: the table, or the one error message.
    std::pair<lhc::TableFile, std::optional<std::string>> load() {
        lhc::TableFile t;
        std::string buf;
        int first_line = 0;
        while (readllines(buf, first_line, t.warnings)) {
            std::string name, value;
            if (const char *err = split_nameval(buf.c_str(), name, value))
                return {t, lhc::ConfigError::format(path, first_line, err)};
            auto old = t.entries.find(name);
            if (old != t.entries.end() && old->second.value != value)
                t.warnings.push_back(lhc::ConfigError::format(path, first_line,
                                                              "overriding earlier entry: " + name));
            t.entries[name] = lhc::TableEntry{value, first_line};
        }
        return {t, std::nullopt};
    }

    static constexpr const char *path = "fuzz.cf";

  private:
    static bool is_space(int c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    }
    int getc() { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_++]) : -1; }

    bool readllines(std::string &buf, int &first_line, std::vector<std::string> &warnings) {
        for (;;) {
            buf.clear();
            int ch;
            for (;;) {
                std::size_t start = buf.size();
                while ((ch = getc()) != -1 && ch != '\n')
                    buf += static_cast<char>(ch);
                if (ch == '\n' || buf.size() > start)
                    ++lineno_;
                std::size_t cp = start;
                while (cp < buf.size() && is_space(buf[cp]))
                    ++cp;
                if (cp == buf.size() || buf[cp] == '#')
                    buf.resize(start);
                else if (start == 0)
                    first_line = lineno_;
                if (ch == -1)
                    break;
                if (!buf.empty()) {
                    int next = getc();
                    if (next != -1)
                        --pos_;
                    if (next != '#' && !is_space(next))
                        break;
                }
            }
            if (buf.empty() || !is_space(buf[0]))
                return !buf.empty();
            warnings.push_back(lhc::ConfigError::format(
                path, first_line, "logical line must not start with whitespace, ignored"));
        }
    }

    static const char *split_nameval(const char *buf, std::string &name, std::string &value) {
        const char *np = buf;
        while (*np && is_space(*np))
            ++np;
        if (*np == 0 || *np == '=')
            return "missing attribute name";
        const char *ep = np;
        while (*ep && !is_space(*ep) && *ep != '=')
            ++ep;
        const char *cp = ep;
        while (*cp && is_space(*cp))
            ++cp;
        if (*cp != '=')
            return "missing '=' after attribute name";
        const char *vp = cp + 1;
        while (*vp && is_space(*vp))
            ++vp;
        const char *ve = vp + std::string_view(vp).size();
        while (ve > vp && is_space(ve[-1]))
            --ve;
        name.assign(np, ep);
        value.assign(vp, ve);
        return nullptr;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    int lineno_ = 0;
};

bool same_entries(const lhc::TableFile &a, const lhc::TableFile &b) {
    if (a.entries.size() != b.entries.size())
        return false;
    for (const auto &[name, e] : a.entries) {
        auto it = b.entries.find(name);
        if (it == b.entries.end() || it->second.value != e.value || it->second.line != e.line)
            return false;
    }
    return true;
}

// Our lexer against Postfix's: same entries, warnings and error; an error is its file:line and
// one of split_nameval()'s fixed texts, so no byte of the broken line can be in it.
void check_lexer(std::string_view text) {
    auto [expected, expected_error] = PostfixReference(text).load();
    try {
        lhc::TableFile t = lhc::parse_table_text(text, PostfixReference::path);
        require(!expected_error);
        require(same_entries(t, expected));
        require(t.warnings == expected.warnings);
    } catch (const lhc::ConfigError &e) {
        require(expected_error && e.what() == *expected_error);
    }
}

// Every message as the Logger writes it: one line, no control byte but its final newline.
class CheckingLogger final : public lhc::Logger {
  protected:
    void write_line(std::string_view line) override {
        require(!line.empty() && line.back() == '\n');
        line.remove_suffix(1);
        for (char c : line)
            require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    }
};

void check_logged(std::string_view text) {
    CheckingLogger log;
    log.set_debug(true);
    try {
        lhc::LdapTable t = lhc::parse_ldap_table(text, "fuzz.cf");
        for (const std::string &w : t.warnings)
            log.warning(w);
        for (const auto &[name, value] : t.describe())
            log.debug(name + " = " + value);
    } catch (const lhc::ConfigError &e) {
        log.err(e.what());
    }
}

// A password that slipped onto a line of its own ("bind_pw = \" then the password): the error
// about that line must not show it.
void check_password_on_own_line(std::string_view text) {
    if (text.find(canary) != std::string_view::npos)
        return;
    std::string broken(text);
    broken += "\nbind_pw = \\\n";
    broken += canary;
    broken += '\n';
    try {
        lhc::parse_ldap_table(broken, "fuzz.cf", S_IROTH);
        require(false); // the canary line has no '=': the table cannot load
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
    check_password_on_own_line(text);
    check_lexer(text);
    check_logged(text);
    return 0;
}

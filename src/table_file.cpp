// Postfix's dict_load_fp() = readlline() + split_nameval(), minus Postfix's habit of quoting
// whole lines and old values in its messages: those may hold bind_pw.
#include "table_file.hpp"

#include "config_error.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lhc {
namespace {

// Postfix's ISSPACE() is isspace() in the C locale.
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// readlline() drops these even in the middle of a continued logical line.
bool is_blank_or_comment(std::string_view line) {
    std::size_t i = 0;
    while (i < line.size() && is_space(line[i]))
        ++i;
    return i == line.size() || line[i] == '#';
}

struct LogicalLine {
    std::string text;
    int line = 0;
};

// Joins continuation lines verbatim (no separator), exactly as readlline() does.
std::vector<LogicalLine> logical_lines(std::string_view text) {
    std::vector<LogicalLine> out;
    int lineno = 0;
    while (!text.empty()) {
        std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        ++lineno;
        if (is_blank_or_comment(line))
            continue;
        // At the top of the file this builds a block that starts with whitespace: Postfix
        // warns about it and drops it whole.
        if (is_space(line[0]) && !out.empty())
            out.back().text += line;
        else
            out.push_back({std::string(line), lineno});
    }
    return out;
}

// What may be echoed from a broken line: the leading parameter-name characters only, so a
// "bind_pw:secret" typo cannot leak the secret.
std::string safe_word(std::string_view s) {
    std::size_t n = 0;
    while (n < s.size() && (std::isalnum(static_cast<unsigned char>(s[n])) || s[n] == '_'))
        ++n;
    std::string word(s.substr(0, n));
    if (n < s.size() && !is_space(s[n]) && s[n] != '=')
        word += "...";
    return word;
}

struct NameValue {
    std::string name, value;
};

// split_nameval(): "name = value" or "name =", blanks around both trimmed.
NameValue split_nameval(const LogicalLine &ll, const std::string &path) {
    std::string_view s = ll.text;
    std::size_t np = 0;
    while (np < s.size() && is_space(s[np]))
        ++np;
    if (np == s.size() || s[np] == '=')
        throw ConfigError(path, ll.line, "missing attribute name");
    std::size_t ep = np;
    while (ep < s.size() && !is_space(s[ep]) && s[ep] != '=')
        ++ep;
    std::size_t cp = ep;
    while (cp < s.size() && is_space(s[cp]))
        ++cp;
    if (cp == s.size() || s[cp] != '=')
        throw ConfigError(path, ll.line,
                          "missing '=' after attribute name: \"" + safe_word(s.substr(np)) + "\"");
    std::size_t vp = cp + 1;
    while (vp < s.size() && is_space(s[vp]))
        ++vp;
    std::size_t ve = s.size();
    while (ve > vp && is_space(s[ve - 1]))
        --ve;
    return {std::string(s.substr(np, ep - np)), std::string(s.substr(vp, ve - vp))};
}

} // namespace

TableFile parse_table_text(std::string_view text, const std::string &path) {
    TableFile table;
    table.path = path;
    for (const LogicalLine &ll : logical_lines(text)) {
        if (is_space(ll.text[0])) {
            // Postfix warns and skips; it would also quote the text, which we do not.
            table.warnings.push_back(ConfigError::format(
                path, ll.line, "logical line must not start with whitespace, ignored"));
            continue;
        }
        NameValue nv = split_nameval(ll, path);
        auto it = table.entries.find(nv.name);
        if (it != table.entries.end() && it->second.value != nv.value)
            table.warnings.push_back(
                ConfigError::format(path, ll.line, "overriding earlier entry: " + nv.name));
        table.entries[nv.name] = TableEntry{std::move(nv.value), ll.line};
    }
    return table;
}

std::string read_whole_file(const std::string &path, unsigned *mode) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw ConfigError(path, 0, std::string("open: ") + std::strerror(errno));
    struct stat st {};
    std::string text;
    bool ok = ::fstat(fd, &st) == 0;
    char buf[4096];
    ssize_t n = 0;
    while (ok && (n = ::read(fd, buf, sizeof buf)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    int saved = ok ? (n < 0 ? errno : 0) : errno;
    ::close(fd);
    if (!ok || saved != 0)
        throw ConfigError(path, 0, std::string("read: ") + std::strerror(saved));
    if (mode)
        *mode = st.st_mode;
    return text;
}

TableFile read_table_file(const std::string &path) {
    return parse_table_text(read_whole_file(path, nullptr), path);
}

} // namespace lhc

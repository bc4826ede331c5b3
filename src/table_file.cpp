// Postfix's dict_load_fp() = readlline() + split_nameval(), minus Postfix's habit of quoting
// whole lines and old values in its messages: those may hold bind_pw.
#include "table_file.hpp"

#include "config_error.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
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

struct NameValue {
    std::string name, value;
};

// split_nameval(): "name = value" or "name =", blanks around both trimmed. Errors say what is
// wrong and never quote the line: a password that slipped onto a line of its own is the whole
// line.
NameValue split_nameval(const LogicalLine &ll, const std::string &path) {
    // readllines() joins the physical lines by length, but split_nameval() takes the result as a
    // C string: the logical line ends at its first NUL, continuations after it included.
    std::string_view s = ll.text;
    s = s.substr(0, s.find('\0'));
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
        throw ConfigError(path, ll.line, "missing '=' after attribute name");
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

namespace {

const char *file_kind(mode_t mode) {
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISFIFO(mode))
        return "FIFO";
    if (S_ISCHR(mode))
        return "character device";
    if (S_ISBLK(mode))
        return "block device";
    if (S_ISSOCK(mode))
        return "socket";
    return "unknown file type";
}

// A FIFO or a device can stall a reload for ever or fill memory (/dev/zero), and even opening
// some devices has side effects: check before opening and again, race-free, on the open file.
void require_regular(const std::string &path, const struct stat &st) {
    if (!S_ISREG(st.st_mode))
        throw ConfigError(path, 0,
                          std::string("not a regular file (") + file_kind(st.st_mode) + ")");
}

[[noreturn]] void refuse_size(const std::string &path) {
    throw ConfigError(path, 0,
                      "larger than " + std::to_string(max_table_size) + " bytes, not a table");
}

std::string read_capped(int fd, const std::string &path) {
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    // A file that grows while we read is held to the same cap as one that was large already.
    while ((n = ::read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw std::system_error(errno, std::generic_category(), path + ": read");
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_table_size)
            refuse_size(path);
    }
    return text;
}

// Why an open() can fail that is no fault of the file or its permissions.
bool out_of_resources(int error) {
    return error == EMFILE || error == ENFILE || error == ENOMEM;
}

// Closes the descriptor on every way out of read_whole_file().
struct FdGuard {
    int fd;
    ~FdGuard() { ::close(fd); }
};

} // namespace

std::string read_whole_file(const std::string &path, unsigned *mode) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0)
        require_regular(path, st);
    // O_NONBLOCK: opening a FIFO that replaced the table since the stat() must not block.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 && out_of_resources(errno))
        throw std::system_error(errno, std::generic_category(), path + ": open");
    if (fd < 0)
        throw ConfigError(path, 0, std::string("open: ") + std::strerror(errno));
    FdGuard guard{fd};
    if (::fstat(fd, &st) != 0)
        throw std::system_error(errno, std::generic_category(), path + ": fstat");
    require_regular(path, st);
    if (st.st_size > static_cast<off_t>(max_table_size))
        refuse_size(path);
    std::string text = read_capped(fd, path);
    if (mode)
        *mode = st.st_mode;
    return text;
}

} // namespace lhc

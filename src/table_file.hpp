// Postfix's "name = value" file format, read exactly as Postfix's dict_load_fp()/readllines() do.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lhc {

struct TableEntry {
    std::string value;
    int line = 0; // line where the logical line (with its continuations) started
};

struct TableFile {
    std::string path;
    std::map<std::string, TableEntry> entries; // a repeated name: the last one wins
    std::vector<std::string> warnings;         // "file:line: what", as Postfix warns
};

// Throws ConfigError("file:line: what") where Postfix would refuse the file.
// Error texts never quote a value: a broken bind_pw line must not leak the password.
TableFile parse_table_text(std::string_view text, const std::string &path);
// A table is a few KiB: anything larger is a mistake that would only cost memory and time.
inline constexpr std::size_t max_table_size = 1024 * 1024;

// The whole file and (when `mode` is not null) its st_mode, from one open(): what
// load_ldap_table() needs for the "readable by others" check. Throws ConfigError(path, 0, ...)
// when the file cannot be opened, is not a regular file (a FIFO or a device would stall a
// reload) or is larger than max_table_size; std::system_error when the OS fails us (out of
// descriptors or memory, an I/O error).
std::string read_whole_file(const std::string &path, unsigned *mode);

} // namespace lhc

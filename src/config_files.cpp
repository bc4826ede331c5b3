#include "config_files.hpp"

#include <algorithm>
#include <sys/stat.h>

namespace lhc {

namespace {

bool same(const timespec &a, const timespec &b) {
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Since the start of the second `t` falls in: Postfix compares whole seconds (load_file()).
Duration since_second_of(const timespec &t) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return std::chrono::seconds(now.tv_sec - t.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

} // namespace

bool FileStamp::operator==(const FileStamp &o) const {
    if (!exists || !o.exists)
        return exists == o.exists;
    return dev == o.dev && ino == o.ino && size == o.size && same(mtime, o.mtime) &&
           same(ctime, o.ctime);
}

// Through a symbolic link, as Postfix opens the file.
FileStamp stamp_of(const std::string &path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return {};
    return FileStamp{true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

void ConfigFiles::add(const std::string &path, Duration settle) {
    for (const auto &e : entries_)
        if (e.path == path)
            return;
    entries_.push_back({path, stamp_of(path), settle});
}

std::vector<std::string> ConfigFiles::changed() const {
    std::vector<std::string> out;
    for (const auto &e : entries_)
        if (stamp_of(e.path) != e.stamp)
            out.push_back(e.path);
    return out;
}

Duration ConfigFiles::settle_left() const {
    Duration left{};
    for (const auto &e : entries_) {
        if (e.settle <= Duration::zero())
            continue;
        FileStamp now = stamp_of(e.path);
        if (now != e.stamp && now.exists)
            left = std::max(left, e.settle - since_second_of(now.mtime));
    }
    return left;
}

std::vector<std::string> ConfigFiles::paths() const {
    std::vector<std::string> out;
    for (const auto &e : entries_)
        out.push_back(e.path);
    return out;
}

} // namespace lhc

#include "config_watch.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sys/inotify.h>
#include <system_error>
#include <unistd.h>

namespace lhc {

namespace {

// A write shows when the writer closes the file: no IN_MODIFY, so that a log file another
// program keeps open in the same directory (slapd's, say) does not wake the loop at every line.
constexpr std::uint32_t events_of_interest = IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE |
                                             IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF |
                                             IN_MOVE_SELF;

std::string directory_of(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos)
        return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string real_path(const std::string &path) {
    char buf[PATH_MAX];
    return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

} // namespace

ConfigWatch::ConfigWatch() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "inotify_init1");
}

ConfigWatch::~ConfigWatch() {
    ::close(fd_);
}

// A directory that cannot be watched (gone, not readable) is left out: the daemon still
// compares every file with its stamp before it counts a failed round.
void ConfigWatch::watch(const ConfigFiles &files) {
    for (const auto &[wd, dir] : dirs_)
        inotify_rm_watch(fd_, wd);
    dirs_.clear();
    names_.clear();
    std::set<std::string> dirs;
    for (const auto &path : files.paths())
        for (const auto &p : {path, real_path(path)}) {
            names_.insert(p);
            dirs.insert(directory_of(p));
        }
    for (const auto &dir : dirs)
        if (int wd = inotify_add_watch(fd_, dir.c_str(), events_of_interest | IN_ONLYDIR); wd >= 0)
            dirs_[wd] = dir;
}

bool ConfigWatch::take_events() {
    alignas(inotify_event) char buf[4096];
    bool concerns = false;
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof buf);
        if (n <= 0)
            return concerns;
        for (char *p = buf; p < buf + n;) {
            auto *e = reinterpret_cast<inotify_event *>(p);
            p += sizeof(inotify_event) + e->len;
            // A lost event or a directory that went away: anything may have changed.
            if (e->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
                concerns = true;
                continue;
            }
            auto dir = dirs_.find(e->wd);
            if (dir == dirs_.end() || e->len == 0)
                continue;
            std::string path = (dir->second == "/" ? "" : dir->second) + "/" + e->name;
            concerns = concerns || names_.count(path) > 0;
        }
    }
}

} // namespace lhc

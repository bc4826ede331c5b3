// The files a configuration was read from, each as it was when read. A Postfix process opens
// its tables afresh whenever it starts, so a file changed on disk since (edited in place,
// replaced by a rename, removed) means the daemon may be probing tables that a new Postfix
// process no longer uses.
#pragma once

#include "clock.hpp"

#include <ctime>
#include <string>
#include <sys/types.h>
#include <vector>

namespace lhc {

// What stat(2) says of a file, as far as a change of its content shows in it.
struct FileStamp {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};

    bool operator==(const FileStamp &o) const;
    bool operator!=(const FileStamp &o) const { return !(*this == o); }
};

FileStamp stamp_of(const std::string &path);

class ConfigFiles {
  public:
    // Stamps `path` as it is now: call it before the file is read, so that a change made while
    // it is read shows as one. A change is read again once `settle` has passed since the start
    // of the second of its modification time (Postfix reads main.cf again until that is two
    // seconds, load_file(), and Postfix 3.10's postconf forgets `-c DIR` when it does).
    void add(const std::string &path, Duration settle = {});
    // The files that differ from their stamps now.
    std::vector<std::string> changed() const;
    // How long until every changed file is old enough to be read again; zero when it is.
    Duration settle_left() const;
    std::vector<std::string> paths() const;
    bool empty() const { return entries_.empty(); }

  private:
    struct Entry {
        std::string path;
        FileStamp stamp;
        Duration settle;
    };
    std::vector<Entry> entries_;
};

} // namespace lhc

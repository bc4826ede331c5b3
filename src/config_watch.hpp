// Wakes the daemon's loop when a file of its configuration may have changed: inotify on the
// directories that hold the files (and, for a symbolic link, the file it points to). A watch
// on the directory sees an editor that writes a new file and renames it over the old one,
// which a watch on the old file's inode would miss.
#pragma once

#include "config_files.hpp"

#include <map>
#include <set>
#include <string>

namespace lhc {

class ConfigWatch {
  public:
    // Throws std::system_error when inotify cannot be set up.
    ConfigWatch();
    ~ConfigWatch();
    ConfigWatch(const ConfigWatch &) = delete;
    ConfigWatch &operator=(const ConfigWatch &) = delete;

    // Watches `files` from now on, and no others.
    void watch(const ConfigFiles &files);
    // Readable when something happened in a watched directory.
    int fd() const { return fd_; }
    // Reads what happened, without waiting; true when it may concern a watched file.
    bool take_events();

  private:
    int fd_ = -1;
    std::map<int, std::string> dirs_; // watch descriptor -> directory
    std::set<std::string> names_;     // every watched path, and the target of each link
};

} // namespace lhc

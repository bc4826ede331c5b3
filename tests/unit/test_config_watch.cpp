// ConfigFiles and ConfigWatch on real files in a directory of their own: the ways an
// administrator changes a table (in place, a new file renamed over it, removed), and what is
// not a change of a watched file.
#include "config_files.hpp"
#include "config_watch.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace lhc;
using namespace std::chrono_literals;

namespace {

class ConfigDir : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/lhc-config-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir = tmpl;
        table = dir + "/ldap-users.cf";
        write(table, "server_host = ldap://old/\n");
    }
    void TearDown() override {
        for (const char *name : {"/ldap-users.cf", "/.ldap-users.cf.swp", "/other.cf", "/link.cf"})
            std::remove((dir + name).c_str());
        rmdir(dir.c_str());
    }
    static void write(const std::string &path, const std::string &text) {
        std::ofstream(path) << text;
    }
    // The watch's descriptor is readable (it is non-blocking: no wait is needed after the
    // change, which inotify queues before the system call that made it returns).
    static bool readable(const ConfigWatch &w) {
        pollfd p{w.fd(), POLLIN, 0};
        return poll(&p, 1, 0) == 1;
    }

    std::string dir, table;
};

TEST_F(ConfigDir, AnUntouchedFileHasNotChanged) {
    ConfigFiles files;
    files.add(table);
    EXPECT_TRUE(files.changed().empty());
}

TEST_F(ConfigDir, EditedInPlaceIsAChange) {
    ConfigFiles files;
    files.add(table);
    write(table, "server_host = ldap://new.example/\n");
    EXPECT_EQ(files.changed(), std::vector<std::string>{table});
}

TEST_F(ConfigDir, ANewFileRenamedOverItIsAChange) {
    ConfigFiles files;
    files.add(table);
    // Same size, and within the same second: only the inode tells.
    write(dir + "/.ldap-users.cf.swp", "server_host = ldap://new/\n");
    ASSERT_EQ(rename((dir + "/.ldap-users.cf.swp").c_str(), table.c_str()), 0);
    EXPECT_EQ(files.changed(), std::vector<std::string>{table});
}

TEST_F(ConfigDir, RemovedOrCreatedIsAChange) {
    ConfigFiles files;
    files.add(table);
    files.add(dir + "/other.cf"); // missing when read
    std::remove(table.c_str());
    write(dir + "/other.cf", "server_host = ldap://b/\n");
    EXPECT_EQ(files.changed(), (std::vector<std::string>{table, dir + "/other.cf"}));
}

TEST_F(ConfigDir, AChangeSettlesBeforeItIsRead) {
    ConfigFiles files;
    files.add(table, 2s);
    EXPECT_EQ(files.settle_left(), Duration::zero()) << "nothing changed: nothing to wait for";
    write(table, "server_host = ldap://new.example/\n");
    // Two seconds from the start of the second of the change, as Postfix counts.
    Duration left = files.settle_left();
    EXPECT_GT(left, 1000ms);
    EXPECT_LE(left, 2000ms);
}

TEST_F(ConfigDir, TheWatchSeesAnEditAndARenameOfAWatchedFile) {
    ConfigFiles files;
    files.add(table);
    ConfigWatch watch;
    watch.watch(files);
    EXPECT_FALSE(watch.take_events());
    write(table, "server_host = ldap://new.example/\n");
    EXPECT_TRUE(readable(watch));
    EXPECT_TRUE(watch.take_events());
    EXPECT_FALSE(readable(watch)) << "every event was read";
    write(dir + "/.ldap-users.cf.swp", "server_host = ldap://newer/\n");
    ASSERT_EQ(rename((dir + "/.ldap-users.cf.swp").c_str(), table.c_str()), 0);
    EXPECT_TRUE(watch.take_events());
}

TEST_F(ConfigDir, OtherFilesOfTheDirectoryDoNotConcernIt) {
    ConfigFiles files;
    files.add(table);
    ConfigWatch watch;
    watch.watch(files);
    write(dir + "/other.cf", "server_host = ldap://b/\n");
    EXPECT_TRUE(readable(watch));
    EXPECT_FALSE(watch.take_events());
}

// slapd's log beside the table: lines appended to a file kept open wake nobody.
TEST_F(ConfigDir, ALogKeptOpenInTheDirectoryDoesNotWakeTheLoop) {
    ConfigFiles files;
    files.add(table);
    ConfigWatch watch;
    watch.watch(files);
    std::ofstream log(dir + "/other.cf");
    watch.take_events(); // its creation, which does not concern the table either
    for (int i = 0; i < 3; ++i)
        log << "conn=1000 op=" << i << " SRCH\n" << std::flush;
    EXPECT_FALSE(readable(watch));
}

TEST_F(ConfigDir, ASymbolicLinkIsFollowedToItsTarget) {
    write(dir + "/other.cf", "server_host = ldap://b/\n");
    ASSERT_EQ(symlink((dir + "/other.cf").c_str(), (dir + "/link.cf").c_str()), 0);
    ConfigFiles files;
    files.add(dir + "/link.cf");
    ConfigWatch watch;
    watch.watch(files);
    write(dir + "/other.cf", "server_host = ldap://c.example/\n");
    EXPECT_TRUE(watch.take_events());
    EXPECT_EQ(files.changed(), std::vector<std::string>{dir + "/link.cf"});
}

} // namespace

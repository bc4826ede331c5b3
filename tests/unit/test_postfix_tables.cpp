// discover_ldap_tables() against fake postconf scripts: what it passes, how it bounds a
// postconf that hangs or floods, and the signal state and stdin the child starts with.
#include "config_error.hpp"
#include "postfix_tables.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

using namespace lhc;
using namespace std::chrono_literals;

namespace {

class FakePostconf {
  public:
    FakePostconf() {
        char tmpl[] = "/tmp/lhc-postconf-XXXXXX";
        dir_ = mkdtemp(tmpl);
    }
    ~FakePostconf() {
        unlink(path().c_str());
        unlink(pid_file().c_str());
        rmdir(dir_.c_str());
    }
    // Writes the script; it records its PID in pid_file() first, then runs `body`.
    std::string write(const std::string &body, const std::string &shell = "/bin/sh") {
        std::ofstream(path()) << "#!" << shell << "\necho $$ > \"$0.pid\"\n" << body << "\n";
        chmod(path().c_str(), 0755);
        return path();
    }
    std::string path() const { return dir_ + "/postconf"; }
    std::string pid_file() const { return path() + ".pid"; }
    pid_t pid() const {
        pid_t pid = 0;
        std::ifstream(pid_file()) >> pid;
        return pid;
    }

  private:
    std::string dir_;
};

struct Outcome {
    DiscoveredTables found;
    std::string error; // ConfigError text, "" when discovery succeeded
    std::chrono::duration<double> elapsed{};
};

// Runs discovery on a thread of its own: when the code under test waits on a hung fake, the
// test kills the fake and fails instead of hanging until meson's timeout.
Outcome discover_bounded(const FakePostconf &fake, std::chrono::milliseconds deadline) {
    auto start = std::chrono::steady_clock::now();
    auto result = std::async(std::launch::async, [&] {
        Outcome o;
        try {
            o.found = discover_ldap_tables(fake.path(), "/some/dir", deadline);
        } catch (const ConfigError &e) {
            o.error = e.what();
        }
        return o;
    });
    if (result.wait_for(deadline + 5s) != std::future_status::ready) {
        ADD_FAILURE() << "discovery still waiting on postconf " << (deadline + 5s).count()
                      << " ms after start";
        kill(fake.pid(), SIGKILL);
    }
    Outcome o = result.get();
    o.elapsed = std::chrono::steady_clock::now() - start;
    return o;
}

bool gone(pid_t pid) {
    return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

} // namespace

TEST(PostfixTables, AsksPostconfForExpandedMainAndMasterValues) {
    FakePostconf fake;
    fake.write(R"(echo "virtual_alias_maps = ldap:/args/$(echo "$@" | tr ' /' '_+').cf")");
    auto o = discover_bounded(fake, postconf_deadline);
    ASSERT_EQ(o.error, "");
    EXPECT_EQ(o.found.files, (std::vector<std::string>{"/args/-x_-c_+some+dir.cf",
                                                       "/args/-P_-x_-c_+some+dir.cf"}));
}

TEST(PostfixTables, FindsTablesInExpandedOutput) {
    // As Postfix 3.7's postconf -x and postconf -P -x print them, trimmed.
    auto found = find_ldap_tables(
        "config_directory = /etc/postfix\n"
        "my_ldap_dir = /etc/postfix/ldap\n"
        "proxy_read_maps = proxy:unix:passwd.byname ldap:/etc/postfix/a.cf, "
        "proxy:ldap:/etc/postfix/b.cf ldap:/etc/postfix/ldap/d.cf, ldap:relative.cf\n"
        "virtual_alias_maps = ldap:/etc/postfix/a.cf, proxy:ldap:/etc/postfix/b.cf\n"
        "virtual_mailbox_maps = ldap:/etc/postfix/ldap/d.cf\n"
        "relay_domains = ldap:relative.cf\n"
        "\n"
        "2525/inet/smtpd_sender_login_maps = ldap:/etc/postfix/m.cf\n"
        "2525/inet/local_recipient_maps = proxy:ldap:/etc/postfix/ldap/n.cf\n");
    EXPECT_EQ(found.files, (std::vector<std::string>{"/etc/postfix/a.cf", "/etc/postfix/b.cf",
                                                     "/etc/postfix/ldap/d.cf", "/etc/postfix/m.cf",
                                                     "/etc/postfix/ldap/n.cf"}));
    EXPECT_EQ(found.skipped, (std::vector<std::string>{"relative.cf"}));
}

TEST(PostfixTables, HungPostconfIsKilledAtTheDeadline) {
    FakePostconf fake;
    fake.write("exec sleep 600");
    auto o = discover_bounded(fake, 500ms);
    EXPECT_NE(o.error.find(fake.path() + " -x -c /some/dir did not answer within 0.5 s"),
              std::string::npos)
        << o.error;
    EXPECT_GE(o.elapsed, 0.5s);
    EXPECT_LT(o.elapsed, 3s);
    EXPECT_TRUE(gone(fake.pid())) << "postconf " << fake.pid() << " still exists";
}

TEST(PostfixTables, PostconfThatClosesItsOutputAndHangsIsKilled) {
    FakePostconf fake;
    fake.write("exec >&-\nexec sleep 600");
    auto o = discover_bounded(fake, 500ms);
    EXPECT_NE(o.error.find("did not answer within 0.5 s"), std::string::npos) << o.error;
    EXPECT_TRUE(gone(fake.pid()));
}

TEST(PostfixTables, FloodOfOutputIsRefused) {
    FakePostconf fake;
    fake.write("head -c 2000000 /dev/zero | tr '\\0' x\necho 'virtual_alias_maps = ldap:/a.cf'");
    auto o = discover_bounded(fake, postconf_deadline);
    EXPECT_NE(o.error.find(fake.path() + " -x -c /some/dir printed more than 1048576 bytes"),
              std::string::npos)
        << o.error;
}

TEST(PostfixTables, FailingPostconfIsNamed) {
    FakePostconf fake;
    fake.write("exit 3");
    auto o = discover_bounded(fake, postconf_deadline);
    EXPECT_NE(o.error.find(fake.path() + " -x -c /some/dir exited with status 3"),
              std::string::npos)
        << o.error;
}

TEST(PostfixTables, MissingPostconfIsNamed) {
    try {
        discover_ldap_tables("/nonexistent/postconf", "");
        ADD_FAILURE() << "no error";
    } catch (const ConfigError &e) {
        EXPECT_NE(std::string(e.what()).find("cannot run /nonexistent/postconf"), std::string::npos)
            << e.what();
    }
}

// The daemon runs postconf with SIGTERM, SIGINT and SIGHUP blocked (its signalfd) and SIGPIPE
// ignored; the child must start with neither.
TEST(PostfixTables, PostconfStartsWithDefaultSignals) {
    FakePostconf fake;
    // bash, then awk reading its own status: dash clears the blocked mask and bash ignores
    // SIGQUIT for itself, but bash keeps the mask across exec and restores what it ignored.
    fake.write("exec awk '/^SigBlk/ { b = $2 } /^SigIgn/ { i = $2 } END { print "
               "\"virtual_alias_maps = ldap:/SigBlk-\" b \"/SigIgn-\" i \".cf\" }' "
               "/proc/self/status",
               "/bin/bash");
    sigset_t daemon_mask, saved_mask;
    sigemptyset(&daemon_mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP})
        sigaddset(&daemon_mask, s);
    pthread_sigmask(SIG_BLOCK, &daemon_mask, &saved_mask);
    auto saved_pipe = std::signal(SIGPIPE, SIG_IGN);
    DiscoveredTables found;
    EXPECT_NO_THROW(found = discover_ldap_tables(fake.path(), "", postconf_deadline));
    std::signal(SIGPIPE, saved_pipe);
    pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
    ASSERT_EQ(found.files.size(), 1u);
    const std::string &masks = found.files[0];
    EXPECT_EQ(masks.substr(0, 24), "/SigBlk-0000000000000000") << masks;
    // Signals 1-31 only: glibc's posix_spawn itself leaves its internal signals 32 and 33
    // ignored in every child.
    auto ignored = std::strtoull(masks.substr(masks.find("/SigIgn-") + 8, 16).c_str(), nullptr, 16);
    EXPECT_EQ(ignored & 0x7fffffffULL, 0u) << masks;
}

TEST(PostfixTables, PostconfReadsDevNullNotOurStdin) {
    FakePostconf fake;
    fake.write("echo \"virtual_alias_maps = ldap:/stdin/$(readlink /proc/$$/fd/0).cf\"");
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    int saved_stdin = dup(STDIN_FILENO);
    dup2(pipe_fds[0], STDIN_FILENO);
    DiscoveredTables found;
    EXPECT_NO_THROW(found = discover_ldap_tables(fake.path(), "", postconf_deadline));
    dup2(saved_stdin, STDIN_FILENO);
    for (int fd : {saved_stdin, pipe_fds[0], pipe_fds[1]})
        close(fd);
    EXPECT_EQ(found.files, (std::vector<std::string>{"/stdin//dev/null.cf"}));
}

// An OS fault is not the admin's configuration: it must not read as one (main() maps a
// ConfigError to 78 and anything else to 70). Out of descriptors, pipe2() fails.
TEST(PostfixTables, PipeFailureIsASystemErrorNotAConfigError) {
    FakePostconf fake;
    fake.write("echo 'virtual_alias_maps = ldap:/etc/postfix/a.cf'");
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    int lowest_free = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(lowest_free, 0);
    close(lowest_free);
    rlimit one_left = saved;
    one_left.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &one_left), 0);
    std::string caught;
    try {
        discover_ldap_tables(fake.path(), "");
    } catch (const ConfigError &e) {
        caught = std::string("ConfigError: ") + e.what();
    } catch (const std::system_error &) {
        // Only the type: UBSan's vptr check rejects member calls on a system_error that
        // libstdc++.so constructed (its type_info is not the one this binary sees).
        caught = "system_error";
    }
    setrlimit(RLIMIT_NOFILE, &saved);
    EXPECT_EQ(caught, "system_error");
}

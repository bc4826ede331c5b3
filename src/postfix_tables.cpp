#include "postfix_tables.hpp"

#include "config_error.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

extern char **environ;

namespace lhc {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view fallback_hint = " (name the tables with --conffile)";

bool is_separator(char c) {
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void add_unique(std::vector<std::string> &v, std::string s) {
    if (std::find(v.begin(), v.end(), s) == v.end())
        v.push_back(std::move(s));
}

std::string command_line(const std::vector<std::string> &args) {
    std::string line;
    for (const auto &a : args)
        line += (line.empty() ? "" : " ") + a;
    return line;
}

std::string seconds_text(std::chrono::milliseconds d) {
    char text[32];
    std::snprintf(text, sizeof text, "%g s", static_cast<double>(d.count()) / 1000);
    return text;
}

bool cannot_run(int error) {
    return error == ENOENT || error == EACCES || error == ENOEXEC || error == ENOTDIR ||
           error == EPERM;
}

// The daemon blocks SIGTERM, SIGINT and SIGHUP (for its signalfd) and ignores SIGPIPE; a
// postconf inheriting that would survive a plain kill and miss the end of a pipe. stdin is
// /dev/null so that a postconf wrapper cannot read the daemon's.
pid_t spawn(const std::vector<std::string> &args, int out) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char *> argv;
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0 && cannot_run(rc))
        throw ConfigError("cannot run " + args[0] + ": " + std::strerror(rc) +
                          std::string(fallback_hint));
    if (rc != 0)
        throw std::system_error(rc, std::generic_category(), args[0] + ": posix_spawn");
    return pid;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so C++ cannot link its pidfd_open().
int open_pidfd(pid_t pid) {
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0)
            close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

// However run() leaves, a postconf still running is killed and reaped: neither a hung postconf
// nor a zombie outlives the attempt.
class Child {
  public:
    explicit Child(pid_t pid) : pid_(pid) {}
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            wait();
        }
    }
    pid_t pid() const { return pid_; }
    int wait() {
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = 0;
        return status;
    }

  private:
    pid_t pid_;
};

// Reads until end of output and exit of the child, both bounded by `deadline`: a postconf
// that closes its output and then hangs must not hang the daemon either.
std::string read_output(const std::string &command, int out, int pidfd,
                        std::chrono::milliseconds deadline) {
    auto until = Clock::now() + deadline;
    pollfd fds[2] = {{out, POLLIN, 0}, {pidfd, POLLIN, 0}};
    std::string text;
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
        int n = left.count() > 0 ? poll(fds, 2, static_cast<int>(left.count())) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw std::system_error(errno, std::generic_category(), command + ": poll");
        if (n == 0)
            throw ConfigError(command + " did not answer within " + seconds_text(deadline) +
                              ", killed it" + std::string(fallback_hint));
        if (fds[1].revents != 0)
            fds[1].fd = -1;
        if (fds[0].revents == 0)
            continue;
        char buf[8192];
        ssize_t got = read(out, buf, sizeof buf);
        if (got < 0 && errno != EINTR)
            throw std::system_error(errno, std::generic_category(), command + ": read");
        if (got == 0)
            fds[0].fd = -1;
        if (got > 0)
            text.append(buf, static_cast<std::size_t>(got));
        if (text.size() > postconf_output_limit)
            throw ConfigError(command + " printed more than " +
                              std::to_string(postconf_output_limit) + " bytes, killed it");
    }
    return text;
}

std::string exit_text(int status) {
    if (WIFSIGNALED(status))
        return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "exited with status " + std::to_string(WEXITSTATUS(status));
}

std::string run(const std::vector<std::string> &args, std::chrono::milliseconds deadline) {
    std::string command = command_line(args);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), args[0] + ": pipe2");
    Fd out(fds[0]), write_end(fds[1]);
    Child child(spawn(args, write_end.get()));
    write_end.reset();
    Fd pidfd(open_pidfd(child.pid()));
    if (pidfd.get() < 0)
        throw std::system_error(errno, std::generic_category(), args[0] + ": pidfd_open");
    std::string text = read_output(command, out.get(), pidfd.get(), deadline);
    int status = child.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw ConfigError(command + " " + exit_text(status) + std::string(fallback_hint));
    return text;
}

} // namespace

DiscoveredTables find_ldap_tables(std::string_view text) {
    DiscoveredTables found;
    static constexpr std::string_view type = "ldap:";
    for (std::size_t pos = text.find(type); pos != std::string_view::npos;
         pos = text.find(type, pos + 1)) {
        // Only a whole table type: "ldap:" at a word start or after "proxy:".
        bool proxied = pos >= 6 && text.substr(pos - 6, 6) == "proxy:";
        std::size_t start = proxied ? pos - 6 : pos;
        if (start > 0 && !is_separator(text[start - 1]) && text[start - 1] != '=' &&
            text[start - 1] != '{')
            continue;
        std::size_t name_start = pos + type.size();
        std::size_t end = name_start;
        while (end < text.size() && !is_separator(text[end]) && text[end] != '}')
            ++end;
        std::string name(text.substr(name_start, end - name_start));
        if (name.empty())
            continue;
        add_unique(name.front() == '/' ? found.files : found.skipped, name);
    }
    return found;
}

// -x: Postfix expands $name, ${name} and $(name) itself, with its own defaults and the
// admin's parameters, so a table named through a variable is found exactly as Postfix finds it.
DiscoveredTables discover_ldap_tables(const std::string &postconf, const std::string &config_dir,
                                      std::chrono::milliseconds deadline) {
    std::vector<std::string> main_args{postconf, "-x"}, master_args{postconf, "-P", "-x"};
    if (!config_dir.empty()) {
        for (auto *a : {&main_args, &master_args}) {
            a->push_back("-c");
            a->push_back(config_dir);
        }
    }
    std::string text = run(main_args, deadline);
    return find_ldap_tables(text + "\n" + run(master_args, deadline));
}

std::string postconf_parameter(const std::string &postconf, const std::string &config_dir,
                               const std::string &name, std::chrono::milliseconds deadline) {
    std::vector<std::string> args{postconf, "-x", "-h"};
    if (!config_dir.empty()) {
        args.push_back("-c");
        args.push_back(config_dir);
    }
    args.push_back(name);
    return run(args, deadline);
}

} // namespace lhc

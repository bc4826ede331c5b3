#include "postfix_tables.hpp"

#include "config_error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

namespace lhc {

namespace {

bool is_separator(char c) {
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void add_unique(std::vector<std::string> &v, std::string s) {
    if (std::find(v.begin(), v.end(), s) == v.end())
        v.push_back(std::move(s));
}

std::string run(const std::vector<std::string> &args) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        throw ConfigError(std::string("postconf: pipe: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::vector<char *> argv;
    for (const auto &a : args)
        argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        throw ConfigError("cannot run " + args[0] + ": " + std::strerror(rc) +
                          " (name the tables with --conffile)");
    }
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            out.append(buf, static_cast<size_t>(n));
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw ConfigError(args[0] + " failed (name the tables with --conffile)");
    return out;
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

DiscoveredTables discover_ldap_tables(const std::string &postconf, const std::string &config_dir) {
    std::vector<std::string> main_args{postconf}, master_args{postconf, "-P"};
    if (!config_dir.empty()) {
        for (auto *a : {&main_args, &master_args}) {
            a->push_back("-c");
            a->push_back(config_dir);
        }
    }
    return find_ldap_tables(run(main_args) + "\n" + run(master_args));
}

} // namespace lhc

#include "nss_check.hpp"

#include "step_deadline.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <pwd.h>
#include <sstream>

namespace lhc {

namespace {

std::string seconds_text(Duration d) {
    std::ostringstream os;
    os << std::chrono::duration<double>(d).count() << " s";
    return os.str();
}

// "would reject": the 550 that senders see as a permanent bounce.
const char *const consequence =
    "; Postfix's unix:passwd.byname (the default local_recipient_maps) would answer "
    "550 5.1.1 User unknown";

ProbeResult nss_result(const std::string &user) {
    ProbeResult r;
    r.tables = "NSS user " + user;
    // No server: the NSS path is not one of the LDAP servers that STATUS= and metrics list.
    r.step = ProbeStep::search;
    return r;
}

ProbeResult judged(const std::string &user, const PasswdAnswer &a) {
    ProbeResult r = nss_result(user);
    r.healthy = a.error == 0 && a.found;
    r.entries = r.healthy ? 1 : 0;
    if (a.error != 0)
        r.explanation = "getpwnam(\"" + user + "\") failed through NSS: " + std::strerror(a.error) +
                        consequence;
    else if (!a.found)
        r.explanation = "getpwnam(\"" + user +
                        "\") finds no such user through NSS (nslcd or sssd cannot reach the "
                        "directory, or the directory lost the user)" +
                        consequence;
    return r;
}

ProbeResult no_answer(const std::string &user, const std::string &why) {
    ProbeResult r = nss_result(user);
    r.explanation = "getpwnam(\"" + user + "\") through NSS: " + why + consequence;
    return r;
}

} // namespace

PasswdAnswer system_passwd_lookup(const std::string &name) {
    std::vector<char> buffer(4096);
    for (;;) {
        passwd pw{};
        passwd *result = nullptr;
        int rc = getpwnam_r(name.c_str(), &pw, buffer.data(), buffer.size(), &result);
        if (rc == ERANGE && buffer.size() < (std::size_t{1} << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        return PasswdAnswer{rc, rc == 0 && result != nullptr};
    }
}

NssCheck::NssCheck(std::vector<std::string> users, Duration limit, PasswdLookup lookup)
    : users_(std::move(users)), limit_(limit), lookup_(std::move(lookup)) {}

std::vector<ProbeResult> NssCheck::run() const {
    std::vector<ProbeResult> out;
    if (users_.empty())
        return out;
    if (int n = stragglers(); n >= max_stragglers) {
        for (const auto &u : users_)
            out.push_back(no_answer(u, std::to_string(n) +
                                           " earlier lookups still wait for an answer; no new "
                                           "one until one of them ends"));
        return out;
    }
    // The worker may outlive this call (left behind on a hung nslcd): it owns what it uses.
    struct Shared {
        std::mutex mutex;
        std::vector<PasswdAnswer> answers;
    };
    auto shared = std::make_shared<Shared>();
    auto start = Clock::now();
    TimePoint deadline = start + limit_;
    // An overrun leaves the answers so far; the users after them count as not answered.
    run_with_step_deadlines(
        [shared, users = users_, lookup = lookup_, deadline](StepWatch &watch) {
            for (const auto &user : users) {
                watch.begin(ProbeStep::search, user,
                            std::max(Duration::zero(), deadline - Clock::now()));
                PasswdAnswer a = lookup(user);
                std::lock_guard lock(shared->mutex);
                shared->answers.push_back(a);
            }
            watch.finish();
        },
        Duration::zero());
    std::lock_guard lock(shared->mutex);
    for (std::size_t i = 0; i < users_.size(); ++i) {
        if (i < shared->answers.size())
            out.push_back(judged(users_[i], shared->answers[i]));
        else
            out.push_back(no_answer(users_[i], "no answer within " + seconds_text(limit_) +
                                                   " (nslcd or sssd waiting for the directory?)"));
        out.back().latency = Clock::now() - start;
    }
    return out;
}

std::vector<std::string> nss_passwd_sources(const std::string &text) {
    std::istringstream in(text);
    std::string line;
    std::vector<std::string> sources;
    while (std::getline(in, line)) {
        line = line.substr(0, line.find('#'));
        auto colon = line.find(':');
        if (colon == std::string::npos)
            continue;
        std::string db = line.substr(0, colon);
        db.erase(std::remove_if(db.begin(), db.end(), [](char c) { return c == ' ' || c == '\t'; }),
                 db.end());
        if (db != "passwd")
            continue;
        sources.clear(); // glibc takes the last line for a database
        std::string rest = line.substr(colon + 1);
        std::size_t i = 0;
        while (i < rest.size()) {
            if (rest[i] == ' ' || rest[i] == '\t') {
                ++i;
            } else if (rest[i] == '[') { // an action such as [NOTFOUND=return]
                auto end = rest.find(']', i);
                i = end == std::string::npos ? rest.size() : end + 1;
            } else {
                auto end = rest.find_first_of(" \t[", i);
                sources.push_back(rest.substr(i, end - i));
                i = end == std::string::npos ? rest.size() : end;
            }
        }
    }
    return sources;
}

std::vector<std::string> directory_sources(const std::vector<std::string> &sources) {
    std::vector<std::string> out;
    for (const auto &s : sources)
        if (s == "ldap" || s == "sss")
            out.push_back(s);
    return out;
}

std::string nss_path_unwatched(const std::string &local_recipient_maps,
                               const std::string &nsswitch_text) {
    auto remote = directory_sources(nss_passwd_sources(nsswitch_text));
    if (remote.empty() || !uses_passwd_byname(local_recipient_maps))
        return "";
    std::string via;
    for (const auto &s : remote)
        via += (via.empty() ? "" : " and ") + s + (s == "ldap" ? " (nslcd)" : " (sssd)");
    return "the NSS path is not watched: local_recipient_maps looks local users up with "
           "unix:passwd.byname and nsswitch.conf sends passwd to " +
           via +
           ": when the directory fails, Postfix answers 550 5.1.1 User unknown for every local "
           "user; add --nss-user NAME (a user that must always exist)";
}

bool uses_passwd_byname(const std::string &maps) {
    std::size_t i = 0;
    const char *separators = ", \t\r\n";
    while ((i = maps.find_first_not_of(separators, i)) != std::string::npos) {
        auto end = maps.find_first_of(separators, i);
        std::string word = maps.substr(i, end - i);
        const std::string table = "unix:passwd.byname";
        if (word == table || word == "proxy:" + table)
            return true;
        i = end;
    }
    return false;
}

} // namespace lhc

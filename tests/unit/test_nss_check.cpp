#include "nss_check.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <future>
#include <memory>

using namespace lhc;

namespace {

PasswdLookup only(std::string user) {
    return [user](const std::string &name) { return PasswdAnswer{0, name == user}; };
}

} // namespace

TEST(NssCheck, ResolvedUserIsHealthy) {
    auto results = NssCheck({"alice"}, std::chrono::seconds(5), only("alice")).run();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(results[0].healthy);
}

TEST(NssCheck, UnknownUserFailsNamingUserAndConsequence) {
    RoundResult round;
    round.probes = NssCheck({"alice", "bob"}, std::chrono::seconds(5), only("alice")).run();
    EXPECT_FALSE(round.healthy());
    auto text = round.first_failure();
    EXPECT_NE(text.find("NSS user bob"), std::string::npos) << text;
    EXPECT_NE(text.find("getpwnam(\"bob\")"), std::string::npos) << text;
    EXPECT_NE(text.find("550 5.1.1"), std::string::npos) << text;
}

TEST(NssCheck, ErrorFailsWithItsText) {
    auto results = NssCheck({"alice"}, std::chrono::seconds(5), [](const std::string &) {
                       return PasswdAnswer{EIO, false};
                   }).run();
    EXPECT_FALSE(results[0].healthy);
    EXPECT_NE(results[0].describe().find("Input/output error"), std::string::npos);
}

TEST(NssCheck, HungLookupEndsAtTheLimit) {
    // The lookup waits until the test lets it go, after the check has given up on it.
    auto release = std::make_shared<std::promise<void>>();
    std::shared_future<void> released = release->get_future().share();
    NssCheck check({"alice", "bob"}, std::chrono::milliseconds(20),
                   [released](const std::string &name) {
                       if (name == "bob")
                           released.wait();
                       return PasswdAnswer{0, true};
                   });
    auto results = check.run();
    release->set_value();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(results[0].healthy);
    EXPECT_FALSE(results[1].healthy);
    EXPECT_NE(results[1].describe().find("no answer within"), std::string::npos);
}

TEST(NssSwitch, PasswdSources) {
    EXPECT_EQ(nss_passwd_sources("# passwd: ldap\npasswd:  files systemd  ldap\ngroup: files\n"),
              (std::vector<std::string>{"files", "systemd", "ldap"}));
    EXPECT_EQ(nss_passwd_sources("passwd: files [NOTFOUND=return] sss # comment\n"),
              (std::vector<std::string>{"files", "sss"}));
    EXPECT_EQ(nss_passwd_sources("passwd: files\npasswd: ldap\n"),
              (std::vector<std::string>{"ldap"}));
    EXPECT_TRUE(nss_passwd_sources("group: ldap\n").empty());
    EXPECT_EQ(directory_sources({"files", "sss", "systemd", "ldap"}),
              (std::vector<std::string>{"sss", "ldap"}));
}

TEST(NssSwitch, PasswdByname) {
    EXPECT_TRUE(uses_passwd_byname("proxy:unix:passwd.byname hash:/etc/aliases"));
    EXPECT_TRUE(uses_passwd_byname("hash:/x, unix:passwd.byname"));
    EXPECT_FALSE(uses_passwd_byname("hash:/etc/postfix/unix:passwd.byname.db"));
    EXPECT_FALSE(uses_passwd_byname(""));
}

TEST(NssSwitch, UnwatchedPathWarning) {
    EXPECT_NE(nss_path_unwatched("proxy:unix:passwd.byname", "passwd: files ldap\n").find("nslcd"),
              std::string::npos);
    EXPECT_NE(nss_path_unwatched("unix:passwd.byname", "passwd: sss files\n").find("sssd"),
              std::string::npos);
    EXPECT_EQ(nss_path_unwatched("proxy:unix:passwd.byname", "passwd: files systemd\n"), "");
    EXPECT_EQ(nss_path_unwatched("ldap:/etc/postfix/users.cf", "passwd: files ldap\n"), "");
}

#include "cli.hpp"
#include "postfix_tables.hpp"

#include <gtest/gtest.h>

using namespace lhc;

namespace {
Options parse(std::vector<const char *> args) {
    args.insert(args.begin(), "ldap-health-check");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}
} // namespace

TEST(CommandLine, Defaults) {
    auto o = parse({});
    EXPECT_TRUE(o.conffiles.empty());
    EXPECT_DOUBLE_EQ(o.interval, 0.5);
    EXPECT_DOUBLE_EQ(o.retry_interval, 0.25);
    EXPECT_EQ(o.failures, 3);
    EXPECT_FALSE(o.once);
    EXPECT_FALSE(o.check_config);
}

TEST(CommandLine, RepeatedConffilesKeepTheirOrder) {
    auto o = parse({"--conffile", "/a.cf", "-c", "/b.cf", "--conffile=/c.cf"});
    EXPECT_EQ(o.conffiles, (std::vector<std::string>{"/a.cf", "/b.cf", "/c.cf"}));
}

TEST(CommandLine, FractionalIntervalForBenchmarks) {
    EXPECT_DOUBLE_EQ(parse({"--interval", "0.01"}).interval, 0.01);
}

TEST(CommandLine, RejectsBadValues) {
    EXPECT_THROW(parse({"--interval", "0"}), UsageError);
    EXPECT_THROW(parse({"--interval", "-1"}), UsageError);
    EXPECT_THROW(parse({"--interval", "nan"}), UsageError);
    EXPECT_THROW(parse({"--interval", "fast"}), UsageError);
    EXPECT_THROW(parse({"--failures", "0"}), UsageError);
    EXPECT_THROW(parse({"--failures", "2.5"}), UsageError);
    EXPECT_THROW(parse({"--retry-interval", "-0.1"}), UsageError);
    EXPECT_THROW(parse({"--no-such-option"}), UsageError);
    EXPECT_THROW(parse({"--once", "--check-config"}), UsageError);
    EXPECT_THROW(parse({"stray-argument"}), UsageError);
}

TEST(CommandLine, HelpListsEveryOptionAndExitCodes) {
    auto text = usage_text();
    for (const char *o : {"--conffile", "--interval", "--retry-interval", "--failures",
                          "--probe-key", "--once", "--check-config", "--debug", "--postconf",
                          "--postfix-config-dir", "--help", "--version", "69", "78", "64"})
        EXPECT_NE(text.find(o), std::string::npos) << o;
}

TEST(PostfixTables, FindsLdapAndProxyLdapTablesOnce) {
    auto found = find_ldap_tables(
        "alias_maps = hash:/etc/aliases\n"
        "virtual_mailbox_maps = proxy:ldap:/etc/postfix/ldap-users.cf\n"
        "virtual_alias_maps = ldap:/etc/postfix/ldap-aliases.cf,"
        " proxy:ldap:/etc/postfix/ldap-users.cf\n"
        "smtpd_sender_login_maps = pipemap:{ldap:/etc/postfix/a.cf, ldap:/etc/postfix/b.cf}\n"
        "submission/inet/smtpd_recipient_restrictions = check_recipient_access "
        "ldap:/etc/postfix/access.cf\n"
        "relay_domains = ldap:relaydomains\n"
        "myhostname = notldap:/etc/postfix/x.cf\n");
    EXPECT_EQ(found.files,
              (std::vector<std::string>{"/etc/postfix/ldap-users.cf",
                                        "/etc/postfix/ldap-aliases.cf", "/etc/postfix/a.cf",
                                        "/etc/postfix/b.cf", "/etc/postfix/access.cf"}));
    EXPECT_EQ(found.skipped, (std::vector<std::string>{"relaydomains"}));
}

TEST(PostfixTables, NothingFound) {
    auto found = find_ldap_tables("alias_maps = hash:/etc/aliases\n");
    EXPECT_TRUE(found.files.empty());
    EXPECT_TRUE(found.skipped.empty());
}

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
    EXPECT_DOUBLE_EQ(o.interval, 1.5);
    EXPECT_DOUBLE_EQ(o.retry_interval, 0.25);
    EXPECT_DOUBLE_EQ(o.full_probe_interval, 120);
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
    EXPECT_THROW(parse({"--retry-interval", "inf"}), UsageError);
    EXPECT_THROW(parse({"--no-such-option"}), UsageError);
    EXPECT_THROW(parse({"--once", "--check-config"}), UsageError);
    EXPECT_THROW(parse({"stray-argument"}), UsageError);
}

std::string usage_error(std::vector<const char *> args) {
    try {
        parse(std::move(args));
    } catch (const UsageError &e) {
        return e.what();
    }
    return "<no error>";
}

TEST(CommandLine, NegativeNumberIsTheOptionsValueNotAnOption) {
    // "-1" is also the short form of --once: it must not be read as that.
    const std::string interval = "--interval must be a number of seconds >= 0.001 and <= 86400";
    EXPECT_EQ(usage_error({"--interval", "-1"}), interval + " (got -1)");
    EXPECT_EQ(usage_error({"-i", "-1"}), interval + " (got -1)");
    EXPECT_EQ(usage_error({"--int", "-1"}), interval + " (got -1)");
    EXPECT_EQ(usage_error({"--interval=-1"}), interval + " (got -1)");
    EXPECT_EQ(usage_error({"--failures", "-5"}),
              "--failures must be a whole number >= 1 and <= 1000000 (got -5)");
    EXPECT_EQ(usage_error({"-f", "-5"}),
              "--failures must be a whole number >= 1 and <= 1000000 (got -5)");
    EXPECT_EQ(usage_error({"--retry-interval", "-0.5"}),
              "--retry-interval must be a number of seconds >= 0.001 and <= 86400 (got -0.5)");
    EXPECT_EQ(parse({"--probe-key", "-1"}).probe_key, "-1");
    EXPECT_FALSE(parse({"--probe-key", "-1"}).once);
    EXPECT_TRUE(parse({"-1"}).once);
    EXPECT_TRUE(parse({"--interval", "2", "-1"}).once);
}

TEST(CommandLine, EmptyConffileIsAUsageError) {
    EXPECT_EQ(usage_error({"-c", ""}), "--conffile must name a file, not the empty string");
    EXPECT_EQ(usage_error({"--conffile", "/a.cf", "-c", ""}),
              "--conffile must name a file, not the empty string");
}

TEST(CommandLine, IntervalsHaveAMinimum) {
    EXPECT_DOUBLE_EQ(parse({"--interval", "0.001"}).interval, min_interval);
    EXPECT_DOUBLE_EQ(parse({"--retry-interval", "0.001"}).retry_interval, min_interval);
    EXPECT_DOUBLE_EQ(parse({"--interval", "86400"}).interval, max_interval);
    EXPECT_EQ(usage_error({"--interval", "0.0009"}),
              "--interval must be a number of seconds >= 0.001 and <= 86400 (got 0.0009)");
    EXPECT_EQ(usage_error({"--retry-interval", "0"}),
              "--retry-interval must be a number of seconds >= 0.001 and <= 86400 (got 0)");
    EXPECT_EQ(usage_error({"--interval", "86401"}),
              "--interval must be a number of seconds >= 0.001 and <= 86400 (got 86401)");
}

TEST(CommandLine, HelpShowsTheRanges) {
    auto text = usage_text();
    EXPECT_NE(text.find("0.001 to 86400"), std::string::npos) << text;
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

TEST(CommandLine, FullProbeIntervalZeroToAnHour) {
    EXPECT_DOUBLE_EQ(parse({"--full-probe-interval", "0"}).full_probe_interval, 0);
    EXPECT_DOUBLE_EQ(parse({"--full-probe-interval", "3600"}).full_probe_interval, 3600);
    for (const char *bad : {"-1", "3601", "nan", "x"})
        EXPECT_THROW(parse({"--full-probe-interval", bad}), UsageError) << bad;
}

TEST(CommandLine, CanariesAndNssUsers) {
    auto o = parse({"--canary", "/a.cf=alice@example.com", "--canary=/b.cf=k=v", "--nss-user",
                    "alice", "--nss-user", "bob"});
    EXPECT_EQ(o.canaries, (std::vector<Canary>{{"/a.cf", "alice@example.com"}, {"/b.cf", "k=v"}}));
    EXPECT_EQ(o.nss_users, (std::vector<std::string>{"alice", "bob"}));
}

TEST(CommandLine, BadCanariesAndNssUsers) {
    EXPECT_NE(usage_error({"--canary", "/a.cf"}).find("expected TABLE=KEY"), std::string::npos);
    EXPECT_NE(usage_error({"--canary", "=k"}).find("table before '=' is empty"), std::string::npos);
    EXPECT_NE(usage_error({"--canary", "/a.cf="}).find("key after '=' is empty"),
              std::string::npos);
    EXPECT_NE(usage_error({"--nss-user", ""}).find("--nss-user must name a user"),
              std::string::npos);
}

TEST(CommandLine, WaitBelongsToOnceAndIsBounded) {
    EXPECT_DOUBLE_EQ(parse({"--once", "--wait", "60"}).wait, 60);
    EXPECT_DOUBLE_EQ(parse({"--once"}).wait, 0);
    EXPECT_THROW(parse({"--wait", "60"}), UsageError);
    EXPECT_THROW(parse({"--once", "--wait", "-1"}), UsageError);
    EXPECT_THROW(parse({"--once", "--wait", "3601"}), UsageError);
    EXPECT_THROW(parse({"--once", "--wait", "nan"}), UsageError);
}

// The unit's ExecStartPre= (--check-config) and the recover probe (--once) take the same
// LDAP_HEALTH_CHECK_OPTS as the daemon: they accept --metrics-file and leave it to the daemon.
TEST(CommandLine, MetricsFileNamesAFileAndTheOneShotsAcceptIt) {
    EXPECT_EQ(parse({"--metrics-file", "/var/lib/x/ldap.prom"}).metrics_file,
              "/var/lib/x/ldap.prom");
    EXPECT_THROW(parse({"--metrics-file", ""}), UsageError);
    EXPECT_NO_THROW(parse({"--metrics-file", "/x.prom", "--once"}));
    EXPECT_NO_THROW(parse({"--metrics-file", "/x.prom", "--check-config"}));
}

// Each expectation was checked against postmap -v -q of Debian 12's Postfix 3.7.11
// (see docs/postfix-semantics.md); messages differ only in not quoting secrets.
#include "config_error.hpp"
#include "ldap_table.hpp"
#include "log.hpp"
#include "probe_plan.hpp"
#include "table_loader.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

using lhc::BindMode;
using lhc::ConfigError;
using lhc::LdapTable;
using lhc::parse_ldap_table;
using lhc::Scope;

namespace {

const std::string F = "/etc/postfix/ldap.cf";

LdapTable parse(const std::string &text, unsigned mode = 0) {
    return parse_ldap_table(text, F, mode);
}

// The message of the ConfigError the text raises, without the "file:" prefix.
std::string error_of(const std::string &text) {
    try {
        parse(text);
    } catch (const ConfigError &e) {
        std::string what = e.what();
        return what.rfind(F + ":", 0) == 0 ? what.substr(F.size() + 1) : what;
    }
    return "<no error>";
}

std::vector<std::string> warnings_of(const std::string &text) {
    std::vector<std::string> out;
    for (const std::string &w : parse(text).warnings)
        out.push_back(w.rfind(F + ":", 0) == 0 ? w.substr(F.size() + 1) : w);
    return out;
}

using Warnings = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

} // namespace

TEST(LdapTable, DefaultsAreDebianPostfix37s) {
    LdapTable t = parse("");
    EXPECT_EQ(t.path, F);
    EXPECT_TRUE(t.warnings.empty());
    Pairs expected = {
        {"server_host", "localhost"},
        {"server_port", "389"},
        {"version", "3"},
        {"scope", "sub"},
        {"search_base", ""},
        {"timeout", "10"},
        {"query_filter", "(mailacceptinggeneralid=%s)"},
        {"result_format", "%s"},
        {"domain", ""},
        {"terminal_result_attribute", ""},
        {"leaf_result_attribute", ""},
        {"result_attribute", "maildrop"},
        {"special_result_attribute", ""},
        {"bind", "yes"},
        {"bind_dn", ""},
        {"bind_pw", ""},
        {"cache", "no"},
        {"cache_expiry", "-1"},
        {"cache_size", "-1"},
        {"recursion_limit", "1000"},
        {"expansion_limit", "0"},
        {"size_limit", "0"},
        {"dereference", "0"},
        {"chase_referrals", "no"},
        {"start_tls", "no"},
        {"tls_require_cert", "no"},
        {"tls_ca_cert_file", ""},
        {"tls_ca_cert_dir", ""},
        {"tls_cert", ""},
        {"tls_key", ""},
        {"tls_random_file", ""},
        {"tls_cipher_suite", ""},
        {"debuglevel", "0"},
    };
    EXPECT_EQ(t.describe(), expected);
    EXPECT_EQ(t.bind, BindMode::simple);
    EXPECT_EQ(t.scope, Scope::sub);
    EXPECT_EQ(t.urls(), std::vector<std::string>{"ldap://localhost:389"});
}

TEST(LdapTable, EveryStringParameterIsRead) {
    LdapTable t = parse("server_host = ldap.example.com\nsearch_base = dc=example,dc=com\n"
                        "query_filter = (mail=%s)\nresult_format = %u\ndomain = example.com\n"
                        "terminal_result_attribute = t\nleaf_result_attribute = l\n"
                        "result_attribute = mail, uid\nspecial_result_attribute = member\n"
                        "bind_dn = cn=admin\nbind_pw = pw\ntls_ca_cert_file = /ca.pem\n"
                        "tls_ca_cert_dir = /ca\ntls_cert = /c.pem\ntls_key = /k.pem\n"
                        "tls_random_file = /dev/urandom\ntls_cipher_suite = HIGH\n");
    EXPECT_TRUE(t.warnings.empty());
    EXPECT_EQ(t.server_host, "ldap.example.com");
    EXPECT_EQ(t.search_base, "dc=example,dc=com");
    EXPECT_EQ(t.query_filter, "(mail=%s)");
    EXPECT_EQ(t.result_format, "%u");
    EXPECT_EQ(t.domain, "example.com");
    EXPECT_EQ(t.terminal_result_attribute, "t");
    EXPECT_EQ(t.leaf_result_attribute, "l");
    EXPECT_EQ(t.result_attribute, "mail, uid");
    EXPECT_EQ(t.special_result_attribute, "member");
    EXPECT_EQ(t.bind_dn, "cn=admin");
    EXPECT_EQ(t.bind_pw.reveal(), "pw");
    EXPECT_EQ(t.tls_ca_cert_file, "/ca.pem");
    EXPECT_EQ(t.tls_ca_cert_dir, "/ca");
    EXPECT_EQ(t.tls_cert, "/c.pem");
    EXPECT_EQ(t.tls_key, "/k.pem");
    EXPECT_EQ(t.tls_random_file, "/dev/urandom");
    EXPECT_EQ(t.tls_cipher_suite, "HIGH");
}

TEST(LdapTable, EveryIntegerParameterIsRead) {
    LdapTable t = parse("server_port = 636\nversion = 2\ntimeout = 3\nrecursion_limit = 7\n"
                        "expansion_limit = 9\nsize_limit = 11\ndereference = 3\ndebuglevel = 1\n");
    EXPECT_EQ(t.server_port, 636);
    EXPECT_EQ(t.version, 2);
    EXPECT_EQ(t.timeout, 3);
    EXPECT_EQ(t.recursion_limit, 7);
    EXPECT_EQ(t.expansion_limit, 9);
    EXPECT_EQ(t.size_limit, 11);
    EXPECT_EQ(t.dereference, 3);
    EXPECT_EQ(t.debuglevel, 1);
}

TEST(LdapTable, EveryBooleanParameterIsRead) {
    LdapTable t = parse("start_tls = YES\ntls_require_cert = Yes\nchase_referrals = yes\n");
    EXPECT_TRUE(t.start_tls);
    EXPECT_TRUE(t.tls_require_cert);
    EXPECT_TRUE(t.chase_referrals);
    LdapTable n = parse("start_tls = NO\ntls_require_cert = no\nchase_referrals = No\n");
    EXPECT_FALSE(n.start_tls);
    EXPECT_FALSE(n.tls_require_cert);
    EXPECT_FALSE(n.chase_referrals);
}

TEST(LdapTable, BooleansAcceptOnlyYesAndNo) {
    EXPECT_EQ(error_of("\nstart_tls = true\n"), "2: bad boolean configuration: start_tls = true");
    EXPECT_EQ(error_of("chase_referrals = On\n"),
              "1: bad boolean configuration: chase_referrals = On");
    EXPECT_EQ(error_of("tls_require_cert = 1\n"),
              "1: bad boolean configuration: tls_require_cert = 1");
    EXPECT_EQ(error_of("cache = \n"), "1: bad boolean configuration: cache = ");
}

TEST(LdapTable, IntegersAreStrtolBase10WholeValue) {
    EXPECT_EQ(parse("timeout = +5").timeout, 5);
    EXPECT_EQ(parse("timeout = 05").timeout, 5);
    EXPECT_EQ(parse("timeout = -5").timeout, -5); // min 0 means "no minimum"
    EXPECT_EQ(parse("server_port = -1").server_port, -1);
    EXPECT_EQ(parse("timeout = 2147483647").timeout, 2147483647);
    EXPECT_EQ(error_of("timeout = 5x"), "1: bad numerical configuration: timeout = 5x");
    EXPECT_EQ(error_of("timeout ="), "1: bad numerical configuration: timeout = ");
    EXPECT_EQ(error_of("timeout = \" 5\""), "1: bad numerical configuration: timeout = \" 5\"");
    EXPECT_EQ(error_of("timeout = 0x3"), "1: bad numerical configuration: timeout = 0x3");
    EXPECT_EQ(error_of("timeout = - 3"), "1: bad numerical configuration: timeout = - 3");
    EXPECT_EQ(error_of("timeout = 2147483648"),
              "1: bad numerical configuration: timeout = 2147483648");
    EXPECT_EQ(error_of("timeout = 99999999999999999999"),
              "1: bad numerical configuration: timeout = 99999999999999999999");
}

TEST(LdapTable, IntegerErrorsForEveryIntegerKey) {
    for (std::string key :
         {"server_port", "version", "timeout", "cache_expiry", "cache_size", "recursion_limit",
          "expansion_limit", "size_limit", "dereference", "debuglevel"})
        EXPECT_EQ(error_of("# x\n" + key + " = 1.5\n"),
                  "2: bad numerical configuration: " + key + " = 1.5");
    EXPECT_EQ(error_of("bind = sasl\nsasl_minssf = z\n"),
              "2: bad numerical configuration: sasl_minssf = z");
}

TEST(LdapTable, VersionRange) {
    EXPECT_EQ(error_of("\n\nversion = 1\n"), "3: invalid version parameter value 1 < 2");
    EXPECT_EQ(error_of("version = 0"), "1: invalid version parameter value 0 < 2");
    EXPECT_EQ(error_of("version = -1"), "1: invalid version parameter value -1 < 2");
    LdapTable t = parse("version = 4");
    EXPECT_EQ(t.version, 3);
    EXPECT_EQ(t.warnings, Warnings{F + ":1: Unknown version 4, using 3"});
}

TEST(LdapTable, RecursionLimitMinimumIsOne) {
    EXPECT_EQ(error_of("recursion_limit = 0"), "1: invalid recursion_limit parameter value 0 < 1");
    EXPECT_EQ(parse("recursion_limit = 1").recursion_limit, 1);
}

TEST(LdapTable, SizeLimitDefaultsToExpansionLimit) {
    EXPECT_EQ(parse("expansion_limit = 7").size_limit, 7);
    EXPECT_EQ(parse("expansion_limit = 7\nsize_limit = 2").size_limit, 2);
    EXPECT_EQ(parse("size_limit = -3").size_limit, -3);
}

TEST(LdapTable, DereferenceOutOfRangeWarnsAndUsesZero) {
    EXPECT_EQ(warnings_of("dereference = 4"),
              Warnings{"1: Unrecognized value 4 specified for dereference; using 0"});
    EXPECT_EQ(parse("dereference = -1").dereference, 0);
    EXPECT_EQ(parse("dereference = 4").dereference, 0);
}

TEST(LdapTable, CacheParametersAreIgnoredWithWarnings) {
    LdapTable t = parse("cache = yes\ncache_expiry = 0\ncache_size = 5\n");
    EXPECT_EQ(
        warnings_of("cache = yes\ncache_expiry = 0\ncache_size = 5\n"),
        (Warnings{"1: ignoring cache", "2: ignoring cache_expiry", "3: ignoring cache_size"}));
    EXPECT_TRUE(t.cache);
    EXPECT_EQ(t.cache_expiry, 0);
    EXPECT_EQ(t.cache_size, 5);
    EXPECT_TRUE(warnings_of("cache = no\ncache_expiry = -1\n").empty());
}

TEST(LdapTable, BindSpellingsAreCaseInsensitive) {
    EXPECT_EQ(parse("bind = no").bind, BindMode::none);
    EXPECT_EQ(parse("bind = NONE").bind, BindMode::none);
    EXPECT_EQ(parse("bind = yes").bind, BindMode::simple);
    EXPECT_EQ(parse("bind = Simple").bind, BindMode::simple);
    EXPECT_EQ(parse("bind = SASL").bind, BindMode::sasl);
    EXPECT_EQ(error_of("\nbind = true"), "2: unsupported parameter value: bind = true");
    EXPECT_EQ(error_of("bind ="), "1: bad string length 0 < 1: bind = ");
}

TEST(LdapTable, ScopeValues) {
    EXPECT_EQ(parse("scope = ONE").scope, Scope::one);
    EXPECT_EQ(parse("scope = base").scope, Scope::base);
    EXPECT_EQ(parse("scope = Sub").scope, Scope::sub);
    LdapTable t = parse("scope = subtree");
    EXPECT_EQ(t.scope, Scope::sub);
    EXPECT_EQ(t.warnings,
              Warnings{F + ":1: Unrecognized value subtree specified for scope; using sub"});
    EXPECT_EQ(error_of("scope ="), "1: bad string length 0 < 1: scope = ");
}

TEST(LdapTable, EmptyServerHostIsFatalButSeparatorsOnlyAreNot) {
    EXPECT_EQ(error_of("server_host =\n"), "1: bad string length 0 < 1: server_host = ");
    LdapTable t = parse("server_host = ,");
    EXPECT_TRUE(t.urls().empty());
    EXPECT_TRUE(t.warnings.empty());
}

TEST(LdapTable, UrlsAsPostfixBuildsThem) {
    LdapTable t = parse("server_host = h1 h2:636,ldaps://x:1\tLDAP://Y:2, ldapi://%2frun%2fs\n"
                        "  [::1] <ldap://h> URL:ldaps://u <URL:ldap://v>\n");
    EXPECT_EQ(t.url_list(), "ldap://h1:389 ldap://h2:636 ldaps://x:1 LDAP://Y:2 "
                            "ldapi://%2frun%2fs ldap://[::1] <ldap://h> URL:ldaps://u "
                            "<URL:ldap://v>");
    // Normalised once, so that TLS is read off the scheme whatever the spelling.
    EXPECT_EQ(t.urls(),
              (std::vector<std::string>{"ldap://h1:389", "ldap://h2:636", "ldaps://x:1",
                                        "LDAP://Y:2", "ldapi://%2frun%2fs", "ldap://[::1]",
                                        "ldap://h", "ldaps://u", "ldap://v"}));
    EXPECT_EQ(t.url_list_error(), "");
    EXPECT_TRUE(t.warnings.empty()); // version 3 already: no scheme warning
}

// Postfix hands libldap the whole list in one call: one entry it cannot parse fails every
// lookup ("Unable to init LDAP server"), although the good entries would answer.
TEST(LdapTable, OneMalformedServerEntryFailsTheWholeList) {
    for (const char *bad : {"::1", "host:abc", "http://h/", "cldap://h", "h:1:2"}) {
        LdapTable t = parse(std::string("server_host = ldap://good/ ") + bad);
        EXPECT_NE(t.url_list_error(), "") << bad;
        ASSERT_EQ(t.warnings.size(), 1u) << bad;
        EXPECT_NE(t.warnings[0].find(F + ":1: Postfix accepts this server_host, but libldap "
                                         "refuses the URL list"),
                  std::string::npos)
            << t.warnings[0];
    }
    // An ldap:// URL that libldap cannot parse is skipped by Postfix itself, with a warning.
    LdapTable skipped = parse("server_host = ldap://good/ ldap://h/??nosuchscope");
    EXPECT_EQ(skipped.url_list_error(), "");
    EXPECT_EQ(skipped.urls(), std::vector<std::string>{"ldap://good/"});
}

TEST(LdapTable, TimeoutsPostfixAcceptsButCannotUseAreExplained) {
    auto only_warning = [](const std::string &text) {
        LdapTable t = parse(text);
        return t.warnings.size() == 1 ? t.warnings[0]
                                      : "warnings: " + std::to_string(t.warnings.size());
    };
    EXPECT_NE(only_warning("timeout = 0")
                  .find(":1: timeout = 0: libldap refuses a zero search "
                        "time limit: every lookup fails"),
              std::string::npos);
    EXPECT_NE(only_warning("timeout = -2")
                  .find(":1: timeout = -2: libldap gives up on every answer after its "
                        "first message: every lookup that finds an entry fails"),
              std::string::npos);
    EXPECT_NE(only_warning("timeout = -1").find(":1: timeout = -1: Postfix waits without end"),
              std::string::npos);
    EXPECT_EQ(parse("timeout = 2147483647").warnings, Warnings{});
}

TEST(LdapTable, AnswersWithEntriesTimeOutBelowMinusOne) {
    EXPECT_TRUE(parse("timeout = -2").finds_time_out());
    EXPECT_TRUE(parse("timeout = -11").finds_time_out());
    EXPECT_FALSE(parse("timeout = -1").finds_time_out());
    EXPECT_FALSE(parse("timeout = 0").finds_time_out());
    EXPECT_FALSE(parse("timeout = 1").finds_time_out());
}

TEST(LdapTable, EveryWaitHasAPositiveBound) {
    EXPECT_EQ(parse("timeout = 3").wait_seconds(), 3);
    for (const char *t : {"timeout = 0", "timeout = -1", "timeout = -2", "timeout = -2147483648"})
        EXPECT_EQ(parse(t).wait_seconds(), LdapTable::unbounded_wait_seconds) << t;
    EXPECT_EQ(parse("timeout = 2147483647").wait_seconds(), 2147483647);
}

TEST(LdapTable, NegativeSizeLimitIsExplainedWhereverItComesFrom) {
    LdapTable own = parse("size_limit = -1");
    ASSERT_EQ(own.warnings.size(), 1u);
    EXPECT_NE(own.warnings[0].find(F + ":1: size_limit = -1: Postfix sends this negative limit"),
              std::string::npos);
    LdapTable inherited = parse("query_filter = (mail=%s)\nexpansion_limit = -3");
    ASSERT_EQ(inherited.warnings.size(), 1u);
    EXPECT_NE(inherited.warnings[0].find(F + ":2: size_limit = -3 (from expansion_limit)"),
              std::string::npos);
    EXPECT_EQ(parse("expansion_limit = -3\nsize_limit = 0").warnings, Warnings{});
}

TEST(LdapTable, ServerPortAppliesToBareHostsOnly) {
    EXPECT_EQ(parse("server_host = h\nserver_port = 0").urls(),
              std::vector<std::string>{"ldap://h:0"});
    EXPECT_EQ(parse("server_port = 636\nserver_host = a b:1 ldap://c").urls(),
              (std::vector<std::string>{"ldap://a:636", "ldap://b:1", "ldap://c"}));
}

TEST(LdapTable, BadUrlIsSkippedWithWarning) {
    LdapTable t = parse("\nserver_host = ldap://[::1 ldap://ok\n");
    EXPECT_EQ(t.urls(), std::vector<std::string>{"ldap://ok"});
    ASSERT_EQ(t.warnings.size(), 1u);
    EXPECT_EQ(t.warnings[0].rfind(F + ":2: error parsing URL ldap://[::1: ", 0), 0u)
        << t.warnings[0];
    EXPECT_NE(t.warnings[0].find("; skipping"), std::string::npos);
}

TEST(LdapTable, NonLdapSchemeRaisesVersion2Once) {
    LdapTable t = parse("version = 2\nserver_host = ldaps://a ldapi://b\n");
    EXPECT_EQ(t.version, 3);
    EXPECT_EQ(t.warnings, Warnings{F + ":2: URL scheme ldaps requires protocol version 3"});
    EXPECT_EQ(parse("version = 2\nserver_host = ldap://a").version, 2);
}

TEST(LdapTable, StartTlsRaisesVersion2) {
    LdapTable t = parse("version = 2\nstart_tls = yes\n");
    EXPECT_EQ(t.version, 3);
    EXPECT_EQ(t.warnings, Warnings{F + ":2: start_tls requires protocol version 3"});
}

TEST(LdapTable, ResultFilterIsTheOldNameOfResultFormat) {
    EXPECT_EQ(parse("result_filter = %d").result_format, "%d");
    EXPECT_EQ(parse("result_format = \nresult_filter = %u").result_format, "%u");
    EXPECT_EQ(error_of("result_filter ="), "1: bad string length 0 < 1: result_filter = ");
    LdapTable t = parse("result_format = %u\nresult_filter = %q\n");
    EXPECT_EQ(t.result_format, "%u"); // result_filter is never read: no template error
    EXPECT_EQ(t.warnings, Warnings{F + ":2: result_filter: ignored because result_format is set"});
}

TEST(LdapTable, BadTemplatesAreFatal) {
    EXPECT_EQ(error_of("search_base = ou=%x"), "1: Invalid query template: ou=%x");
    EXPECT_EQ(error_of("\nsearch_base = ou=%"), "2: Invalid query template: ou=%");
    EXPECT_EQ(error_of("query_filter = (a=%x)"), "1: Invalid query template: (a=%x)");
    EXPECT_EQ(error_of("result_format = %q"), "1: Invalid result template: %q");
    EXPECT_EQ(error_of("result_filter = %0"), "1: Invalid result template: %0");
    // search_base is checked first, as Postfix does.
    EXPECT_EQ(error_of("query_filter = %x\nsearch_base = %y\n"), "2: Invalid query template: %y");
}

TEST(LdapTable, FixedQueryFilterWarns) {
    EXPECT_EQ(warnings_of("query_filter = (a=%%)"),
              Warnings{"1: Fixed query_filter (a=%%) is probably useless"});
    EXPECT_EQ(warnings_of("query_filter ="),
              Warnings{"1: Fixed query_filter  is probably useless"});
    EXPECT_TRUE(warnings_of("query_filter = (a=%1)").empty());
}

TEST(LdapTable, SaslParametersOnlyWithBindSasl) {
    LdapTable t = parse("bind = sasl\nsasl_mechs = EXTERNAL\nsasl_realm = R\n"
                        "sasl_authz_id = dn:x\nsasl_minssf = 4096\n");
    EXPECT_EQ(t.sasl_mechs, "EXTERNAL");
    EXPECT_EQ(t.sasl_realm, "R");
    EXPECT_EQ(t.sasl_authz_id, "dn:x");
    EXPECT_EQ(t.sasl_minssf, 4096);
    EXPECT_EQ(parse("bind = sasl\nsasl_minssf = -1").sasl_minssf, -1);
    EXPECT_EQ(error_of("bind = sasl\nsasl_minssf = 5000"),
              "2: invalid sasl_minssf parameter value 5000 > 4096");
    LdapTable ignored = parse("sasl_minssf = 5000\nsasl_mechs = X\n");
    EXPECT_EQ(ignored.sasl_minssf, 0);
    EXPECT_EQ(ignored.sasl_mechs, "");
    EXPECT_EQ(ignored.warnings, (Warnings{F + ":2: sasl_mechs: ignored unless bind = sasl",
                                          F + ":1: sasl_minssf: ignored unless bind = sasl"}));
}

TEST(LdapTable, UnknownParameterWarns) {
    EXPECT_EQ(warnings_of("serverhost = x\n"),
              Warnings{"1: serverhost: unknown parameter, ignored"});
}

TEST(LdapTable, FirstErrorInPostfixOrderWins) {
    EXPECT_EQ(error_of("debuglevel = x\nserver_port = y\n"),
              "2: bad numerical configuration: server_port = y");
}

TEST(LdapTable, DescribeUsesPostfixSpellingsAndMasksThePassword) {
    LdapTable t = parse("bind = simple\nbind_pw = Secr3tPw\nscope = ONE\nversion = 2\n"
                        "start_tls = YES\ndereference = 7\n");
    Pairs d = t.describe();
    auto get = [&](const std::string &k) {
        for (auto &[n, v] : d)
            if (n == k)
                return v;
        return std::string("<absent>");
    };
    EXPECT_EQ(get("bind"), "yes");
    EXPECT_EQ(get("bind_pw"), "***");
    EXPECT_EQ(get("scope"), "one");
    EXPECT_EQ(get("version"), "3");
    EXPECT_EQ(get("start_tls"), "yes");
    EXPECT_EQ(get("dereference"), "0");
    EXPECT_EQ(get("sasl_mechs"), "<absent>");
    for (auto &[n, v] : d)
        EXPECT_EQ(v.find("Secr3tPw"), std::string::npos) << n;
    EXPECT_EQ(parse("bind = none").describe()[13],
              (std::pair<std::string, std::string>{"bind", "no"}));
}

TEST(LdapTable, DescribeListsSaslParametersForBindSasl) {
    Pairs d = parse("bind = sasl\nsasl_mechs = GSSAPI\n").describe();
    Pairs sasl(d.begin() + 24, d.begin() + 28);
    EXPECT_EQ(sasl, (Pairs{{"sasl_mechs", "GSSAPI"},
                           {"sasl_realm", ""},
                           {"sasl_authz_id", ""},
                           {"sasl_minssf", "0"}}));
    EXPECT_EQ(d[13].second, "sasl");
}

TEST(LdapTable, PasswordReadableByOthersWarns) {
    EXPECT_EQ(parse("bind_pw = x\n", 0100644).warnings,
              Warnings{F + ": contains bind_pw and is readable by others"});
    EXPECT_TRUE(parse("bind_pw = x\n", 0100640).warnings.empty());
    EXPECT_TRUE(parse("bind_pw =\n", 0100644).warnings.empty());
    EXPECT_TRUE(parse("bind_dn = x\n", 0100644).warnings.empty());
}

TEST(LdapTable, NoMessageEverContainsThePassword) {
    const std::string pw = "Secr3tPw";
    std::vector<std::string> texts = {"bind_pw = " + pw + "\nbind_pw = other\n",
                                      "bind_pw " + pw + "\n", "bind_pw = " + pw + "\nversion = x\n",
                                      "bind_pw = " + pw + "\n  " + pw + "\nbind = q\n"};
    for (const std::string &text : texts) {
        try {
            for (const std::string &w : parse_ldap_table(text, F, 0100644).warnings)
                EXPECT_EQ(w.find(pw), std::string::npos) << w;
        } catch (const ConfigError &e) {
            EXPECT_EQ(std::string(e.what()).find(pw), std::string::npos) << e.what();
        }
    }
}

TEST(LdapTable, LoadFromFileChecksItsMode) {
    char path[] = "/tmp/lhc-ldap-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << "bind_pw = x\nserver_host = h\n";
    chmod(path, 0644);
    LdapTable open = lhc::load_ldap_table(path);
    chmod(path, 0600);
    LdapTable closed = lhc::load_ldap_table(path);
    std::remove(path);
    EXPECT_EQ(open.server_host, "h");
    EXPECT_EQ(open.warnings,
              Warnings{std::string(path) + ": contains bind_pw and is readable by others"});
    EXPECT_TRUE(closed.warnings.empty());
    EXPECT_THROW(lhc::load_ldap_table(path), ConfigError);
}

// What Postfix cannot open either (after an edit the daemon then fails its rounds), and what
// only this process cannot read: Postfix opens its tables as root.
TEST(LdapTable, MissingOrRefusedTablesAreUnusableToPostfixToo) {
    char path[] = "/tmp/lhc-ldap-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << "server_host = h\nbind = maybe\n";
    EXPECT_THROW(lhc::load_ldap_table(path), lhc::UnusableTable);
    std::remove(path);
    EXPECT_THROW(lhc::load_ldap_table(path), lhc::UnusableTable);
    ASSERT_EQ(mkdir(path, 0700), 0);
    EXPECT_THROW(lhc::load_ldap_table(path), lhc::UnusableTable) << "not a regular file";
    rmdir(path);
}

namespace {

using Connection = lhc::LdapParameter::Connection;

std::string described(const LdapTable &t, std::string_view name) {
    for (const auto &[n, v] : t.describe())
        if (n == name)
            return v;
    return "<absent>";
}

// A file that sets `name` to `value`, on top of `base` (name = value lines).
std::string with(const std::map<std::string, std::string> &base, const std::string &name,
                 const std::string &value) {
    std::map<std::string, std::string> lines = base;
    lines[name] = value;
    std::string text;
    for (const auto &[n, v] : lines)
        text += n + " = " + v + "\n";
    return text;
}

// A value Postfix accepts for the parameter, on top of `base`, that --debug does not show as
// the default.
std::optional<std::string> other_value(const std::map<std::string, std::string> &base,
                                       const lhc::LdapParameter &p) {
    std::string name(p.name);
    std::string fallback = described(parse(with(base, name, std::string(p.fallback))), name);
    for (const char *value : {"2", "yes", "no", "one", "x"}) {
        try {
            if (described(parse(with(base, name, value)), name) != fallback)
                return value;
        } catch (const ConfigError &) {
        }
    }
    return std::nullopt;
}

std::vector<std::string> key_with(const std::map<std::string, std::string> &base,
                                  const lhc::LdapParameter &p, const std::string &value) {
    return parse(with(base, std::string(p.name), value)).connection_key();
}

// What makes the parameter count for the connection.
std::map<std::string, std::string> in_use(Connection c) {
    if (c == Connection::if_sasl)
        return {{"bind", "sasl"}};
    if (c == Connection::if_tls)
        return {{"start_tls", "yes"}};
    return {};
}

} // namespace

TEST(LdapParameters, EachDefaultReachesDescribe) {
    LdapTable plain = parse(""), sasl = parse("bind = sasl");
    for (const auto &p : lhc::ldap_parameters()) {
        if (!p.has_field())
            continue;
        const LdapTable &t = p.connection == Connection::if_sasl ? sasl : plain;
        EXPECT_EQ(described(t, p.name), p.fallback) << p.name;
    }
    EXPECT_EQ(LdapTable().describe(), plain.describe());
}

TEST(LdapParameters, DescribeFollowsTheDeclarationOrder) {
    std::vector<std::string> declared, shown;
    for (const auto &p : lhc::ldap_parameters())
        if (p.has_field())
            declared.emplace_back(p.name);
    for (const auto &[name, value] : parse("bind = sasl").describe())
        shown.push_back(name);
    EXPECT_EQ(shown, declared);
}

TEST(LdapParameters, OnlyConnectionParametersSplitTheConnection) {
    for (const auto &p : lhc::ldap_parameters()) {
        if (!p.has_field())
            continue;
        auto base = in_use(p.connection);
        std::optional<std::string> other = other_value(base, p);
        ASSERT_TRUE(other) << "no value found that changes " << p.name;
        std::vector<std::string> key = key_with(base, p, std::string(p.fallback));
        if (p.connection == Connection::no)
            EXPECT_EQ(key_with(base, p, *other), key) << p.name;
        else
            EXPECT_NE(key_with(base, p, *other), key) << p.name;
    }
}

TEST(LdapParameters, ConditionalConnectionParametersCountOnlyWhenInUse) {
    const std::map<Connection, std::map<std::string, std::string>> not_in_use = {
        {Connection::if_bound, {{"bind", "no"}}},
        {Connection::if_sasl, {{"bind", "yes"}}},
        {Connection::if_tls, {{"start_tls", "no"}}},
    };
    for (const auto &p : lhc::ldap_parameters()) {
        auto off = not_in_use.find(p.connection);
        if (off == not_in_use.end())
            continue;
        std::optional<std::string> other = other_value(in_use(p.connection), p);
        ASSERT_TRUE(other) << "no value found that changes " << p.name;
        EXPECT_EQ(key_with(off->second, p, *other),
                  key_with(off->second, p, std::string(p.fallback)))
            << p.name;
    }
}

TEST(LdapParameters, TablesWithOneConnectionKeyShareOnePlan) {
    std::vector<LdapTable> tables = {
        parse("search_base = o=a\nserver_host = ldap://h/\ndebuglevel = 1\n"),
        parse("search_base = o=b\nserver_host = ldap://h/\n"),
        parse("server_host = ldap://h/\nbind = no\n"),
        parse("server_host = ldap://h/\ntls_cert = /ignored/without/tls\n"),
    };
    lhc::Logger log(-1);
    auto plans = lhc::plan_probes(tables, "", log);
    ASSERT_EQ(plans.size(), 2U);
    EXPECT_EQ(plans[0].searches.size(), 3U);
    EXPECT_EQ(plans[1].searches.size(), 1U);
}

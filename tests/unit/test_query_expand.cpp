// db_common_expand() behaviour, checked with postmap -vv -q (see docs/postfix-semantics.md).
#include "config_error.hpp"
#include "ldap_table.hpp"
#include "query_expand.hpp"
#include "table_loader.hpp"

#include <gtest/gtest.h>

using lhc::Escape;
using lhc::expand_template;
using lhc::LdapTable;

namespace {

std::string ex(const std::string &tmpl, const std::string &key, Escape e = Escape::filter) {
    return expand_template(tmpl, key, e).value_or("<skipped>");
}

LdapTable table(const std::string &text) {
    return lhc::parse_ldap_table(text, "t.cf");
}

} // namespace

TEST(QueryExpand, AllExpansions) {
    EXPECT_EQ(ex("%s|%u|%d|%S|%U|%D|%%", "user@mail.example.com"),
              "user@mail.example.com|user|mail.example.com|user@mail.example.com|user|"
              "mail.example.com|%");
    EXPECT_EQ(ex("%1,%2,%3", "u@mail.example.com"), "com,example,mail");
    EXPECT_EQ(ex("(a=b)", "u@x"), "(a=b)");
}

TEST(QueryExpand, LocalPartIsBeforeTheLastAt) {
    EXPECT_EQ(ex("%u/%d/%1", "u@a@b.c"), "u@a/b.c/c");
}

TEST(QueryExpand, UserWithoutDomainIsTheWholeKey) {
    EXPECT_EQ(ex("%u", "user"), "user");
    EXPECT_EQ(ex("%U", "user"), "user");
    EXPECT_EQ(ex("%s", "@x"), "@x");
}

TEST(QueryExpand, SkipRules) {
    EXPECT_EQ(ex("%d", "user"), "<skipped>");
    EXPECT_EQ(ex("%D", "user"), "<skipped>");
    EXPECT_EQ(ex("%d", "user@"), "<skipped>");
    EXPECT_EQ(ex("%d", "@example.com"), "example.com");
    EXPECT_EQ(ex("%u", "@example.com"), "<skipped>");
    EXPECT_EQ(ex("%U", "@x"), "<skipped>");
    EXPECT_EQ(ex("%1", "user"), "<skipped>");
    EXPECT_EQ(ex("%s", ""), "<skipped>");
    EXPECT_EQ(ex("(a=b)", ""), "<skipped>");
}

TEST(QueryExpand, LabelCountIgnoresEmptyLabels) {
    EXPECT_EQ(ex("%3", "u@a.b"), "<skipped>");
    EXPECT_EQ(ex("%2", "u@a.b"), "a");
    EXPECT_EQ(ex("%2", "u@a..b"), "a");
    EXPECT_EQ(ex("%2", "u@a.b."), "a");
    EXPECT_EQ(ex("%1", "u@.a.b"), "b");
    EXPECT_EQ(ex("%3", "u@.a.b"), "<skipped>");
    EXPECT_EQ(ex("%9", "u@1.2.3.4.5.6.7.8.9"), "1");
}

TEST(QueryExpand, FilterEscapingIsRfc2254) {
    EXPECT_EQ(ex("(mail=%s)", "a*b(c)\\d b,c+#;<>\"=\xc3\xa9@x.y"),
              "(mail=a\\2Ab\\28c\\29\\5Cd b,c+#;<>\"=\xc3\xa9@x.y)");
}

TEST(QueryExpand, DnEscapingIsRfc2253) {
    // Exactly the bytes postmap sent as search base for this key.
    EXPECT_EQ(ex("ou=%s", "a*b(c)\\d b,c+#;<>\"=\xc3\xa9@x.y", Escape::dn),
              "ou=a*b(c)\\5Cd\\20b\\2Cc\\2B\\23\\3B\\3C\\3E\\22=\xc3\xa9@x.y");
    EXPECT_EQ(lhc::escape_value("a\tb", Escape::dn), "a\\09b");
}

TEST(QueryExpand, LiteralTemplateTextIsNotEscaped) {
    EXPECT_EQ(ex("(&(a=*)(b=%u))", "x*@y"), "(&(a=*)(b=x\\2A))");
}

TEST(QueryExpand, ValidateTemplate) {
    EXPECT_NO_THROW(lhc::validate_template("%s%u%d%S%U%D%1%9%%"));
    EXPECT_NO_THROW(lhc::validate_template(""));
    EXPECT_THROW(lhc::validate_template("%x"), lhc::ConfigError);
    EXPECT_THROW(lhc::validate_template("%0"), lhc::ConfigError);
    EXPECT_THROW(lhc::validate_template("ou=%"), lhc::ConfigError);
    EXPECT_THROW(lhc::validate_template("%%%"), lhc::ConfigError);
}

TEST(QueryExpand, DynamicTemplates) {
    EXPECT_FALSE(lhc::is_dynamic_template("(a=%%)"));
    EXPECT_FALSE(lhc::is_dynamic_template(""));
    EXPECT_TRUE(lhc::is_dynamic_template("%S"));
    EXPECT_TRUE(lhc::is_dynamic_template("%7"));
    EXPECT_FALSE(lhc::has_dynamic_base(table("search_base = dc=example,dc=com")));
    EXPECT_TRUE(lhc::has_dynamic_base(table("search_base = ou=%d")));
}

TEST(QueryExpand, FoldKeyIsAsciiLowercase) {
    EXPECT_EQ(lhc::fold_key("Foo@Example.COM"), "foo@example.com");
    EXPECT_EQ(lhc::fold_key("\xc3\x89"), "\xc3\x89");
}

TEST(ExpandQuery, FoldsTheKeyAndExpandsBothTemplates) {
    // postmap: "Searching with filter (mail=foo@example.com)(u=foo)(d=example.com)"
    LdapTable t = table("query_filter = (mail=%s)(u=%u)(d=%d)\nsearch_base = ou=%s,o=%d\n");
    auto q = lhc::expand_query(t, "Foo@Example.COM");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->filter, "(mail=foo@example.com)(u=foo)(d=example.com)");
    EXPECT_EQ(q->base, "ou=foo@example.com,o=example.com");
}

TEST(ExpandQuery, SkipRulesAreSharedAcrossTemplates) {
    EXPECT_FALSE(lhc::would_query(table("search_base = o=%d"), "user"));
    EXPECT_TRUE(lhc::would_query(table("result_format = %d"), "user"));
    EXPECT_FALSE(lhc::would_query(table("result_format = %D"), "user"));
    EXPECT_FALSE(lhc::would_query(table("result_format = %U"), "@x"));
    EXPECT_TRUE(lhc::would_query(table("result_format = %u"), "@x"));
    EXPECT_FALSE(lhc::would_query(table("result_format = %3"), "u@a.b"));
    EXPECT_FALSE(lhc::would_query(table("search_base = %2"), "u@b"));
    EXPECT_TRUE(lhc::would_query(table(""), "user"));
    EXPECT_FALSE(lhc::would_query(table(""), ""));
}

TEST(ExpandQuery, NonUtf8KeysAreNotLookedUp) {
    EXPECT_FALSE(lhc::would_query(table(""), "\xff@x"));
    EXPECT_FALSE(lhc::would_query(table(""), "\xc3"));
    EXPECT_FALSE(lhc::would_query(table(""), "\xc0\xaf"));
    EXPECT_TRUE(lhc::would_query(table(""), "\xc3\xa9@x"));
}

TEST(ExpandQuery, EmptyQueryFilterStillQueries) {
    auto q = lhc::expand_query(table("query_filter ="), "u@x");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->filter, "");
}

TEST(DomainRestriction, LiteralExactCaseInsensitive) {
    LdapTable t = table("domain = example.com");
    EXPECT_TRUE(lhc::would_query(t, "u@example.com"));
    EXPECT_TRUE(lhc::would_query(t, "u@EXAMPLE.com"));
    EXPECT_FALSE(lhc::would_query(t, "u@sub.example.com"));
    EXPECT_FALSE(lhc::would_query(t, "@example.com"));
    EXPECT_FALSE(lhc::would_query(t, "example.com"));
    EXPECT_FALSE(lhc::would_query(t, "u@"));
    EXPECT_FALSE(lhc::would_query(table("domain = .example.com"), "u@sub.example.com"));
    EXPECT_FALSE(lhc::would_query(table("domain = *.example.com"), "u@sub.example.com"));
}

TEST(DomainRestriction, FirstMatchWinsAndBangNegates) {
    EXPECT_FALSE(lhc::would_query(table("domain = !example.com, example.com"), "u@example.com"));
    EXPECT_TRUE(lhc::would_query(table("domain = !foo.com, example.com"), "u@EXAMPLE.com"));
    EXPECT_FALSE(lhc::would_query(table("domain = !foo.com, example.com"), "u@foo.com"));
    EXPECT_TRUE(lhc::would_query(table("domain = !!example.com"), "u@example.com"));
    EXPECT_TRUE(lhc::would_query(table("domain = a.org\tb.org\n  c.org"), "u@c.org"));
}

TEST(DomainRestriction, TablesAndFilesCannotBeEvaluated) {
    EXPECT_FALSE(lhc::would_query(table("domain = hash:/etc/postfix/d"), "u@example.com"));
    EXPECT_FALSE(lhc::would_query(table("domain = /etc/postfix/d"), "u@example.com"));
}

TEST(DefaultProbeKey, WithoutRestrictions) {
    EXPECT_EQ(lhc::default_probe_key(table("")), "ldap-health-check@example.com");
    EXPECT_EQ(lhc::default_probe_key(table("query_filter = (d=%d)(u=%u)")),
              "ldap-health-check@example.com");
}

TEST(DefaultProbeKey, EnoughLabelsForTheHighestIndex) {
    LdapTable t = table("search_base = dc=%4,dc=%3\nquery_filter = (a=%1)");
    std::string key = lhc::default_probe_key(t);
    EXPECT_EQ(key, "ldap-health-check@l4.l3.example.com");
    EXPECT_TRUE(lhc::would_query(t, key));
    EXPECT_EQ(lhc::default_probe_key(table("result_format = %9")),
              "ldap-health-check@l9.l8.l7.l6.l5.l4.l3.example.com");
}

TEST(DefaultProbeKey, FirstUsableLiteralDomain) {
    LdapTable t = table("domain = hash:/etc/postfix/d, /etc/d, !neg.org, Example.ORG, b.net");
    EXPECT_EQ(lhc::default_probe_key(t), "ldap-health-check@example.org");
    EXPECT_EQ(lhc::default_probe_key(table("domain = !a.org, a.org, b.net")),
              "ldap-health-check@b.net");
    LdapTable labels = table("domain = short.org, a.b.c.org\nquery_filter = (x=%3)");
    EXPECT_EQ(lhc::default_probe_key(labels), "ldap-health-check@a.b.c.org");
}

TEST(DefaultProbeKey, NoUsableDomainFallsBackAndWouldNotQuery) {
    LdapTable tables = table("domain = hash:/etc/postfix/d");
    EXPECT_EQ(lhc::default_probe_key(tables), "ldap-health-check@example.com");
    EXPECT_FALSE(lhc::would_query(tables, lhc::default_probe_key(tables)));
    LdapTable few = table("domain = example.org\nquery_filter = (x=%3)");
    EXPECT_EQ(lhc::default_probe_key(few), "ldap-health-check@l3.example.org");
    EXPECT_FALSE(lhc::would_query(few, lhc::default_probe_key(few)));
}

// dict_ldap_get_values(), as the canary judges a lookup: each case is one that postmap -q
// decides (tests/integration/test_canary.py holds the same shapes against a real slapd).
#include "ldap_table.hpp"
#include "query_expand.hpp"
#include "result_values.hpp"
#include "table_loader.hpp"

#include <gtest/gtest.h>
#include <ldap.h>
#include <map>

using namespace lhc;

namespace {

LdapTable table(const std::string &extra) {
    return parse_ldap_table("server_host = ldap://127.0.0.1/\nsearch_base = dc=example,dc=com\n"
                            "query_filter = (mail=%s)\n" +
                                extra,
                            "t.cf");
}

ResultEntry entry(std::string dn,
                  std::vector<std::pair<std::string, std::vector<std::string>>> attributes) {
    return ResultEntry{std::move(dn), std::move(attributes)};
}

SearchAnswer found(std::vector<ResultEntry> entries) {
    return SearchAnswer{LDAP_SUCCESS, "", std::move(entries)};
}

// The directory behind the follow-up searches: a base search finds the entry of that DN.
class FakeDirectory final : public FollowUpSearches {
  public:
    std::map<std::string, SearchAnswer> answers; // by base
    struct Search {
        std::string base;
        int scope;
        std::string filter;
        std::vector<std::string> attributes;
    };
    std::vector<Search> searches;

    SearchAnswer search(const std::string &base, int scope, const std::string &filter,
                        const std::vector<std::string> &attributes) override {
        searches.push_back({base, scope, filter, attributes});
        auto it = answers.find(base);
        return it == answers.end() ? SearchAnswer{LDAP_NO_SUCH_OBJECT, "", {}} : it->second;
    }
};

const std::string key = "staff@example.com";

} // namespace

TEST(ResultValues, OrdinaryAttributeIsTheValue) {
    FakeDirectory dir;
    auto t = table("result_attribute = description\n");
    auto v = lookup_value(t, key, found({entry("uid=a", {{"description", {"box/a/"}}})}), dir);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.value, "box/a/");
}

TEST(ResultValues, EntryWithoutTheResultAttributeIsNotFound) {
    FakeDirectory dir;
    auto t = table("result_attribute = description\n");
    auto v = lookup_value(t, key, found({entry("uid=a", {{"mail", {"a@example.com"}}})}), dir);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.value, "");
    EXPECT_EQ(lookup_value(t, key, found({}), dir).value, "");
}

TEST(ResultValues, ValuesJoinedWithCommasAndAttributeSubtypesMatch) {
    FakeDirectory dir;
    auto t = table("result_attribute = mail, description\n");
    auto v = lookup_value(
        t, key,
        found({entry("uid=a", {{"MAIL;lang-en", {"a@x", "b@x"}}, {"description", {"d"}}}),
               entry("uid=b", {{"mail", {"c@x"}}})}),
        dir);
    EXPECT_EQ(v.value, "a@x,b@x,d,c@x");
}

TEST(ResultValues, ResultFormatSkipsValuesWithoutTheNeededParts) {
    FakeDirectory dir;
    auto t = table("result_attribute = description\nresult_format = %d\n");
    EXPECT_EQ(
        lookup_value(t, key, found({entry("uid=a", {{"description", {"box/a/"}}})}), dir).value,
        "");
    auto u = table("result_attribute = mail\nresult_format = smtp:[%d]/%u/%S/%U/%D/%1\n");
    EXPECT_EQ(lookup_value(u, key, found({entry("uid=a", {{"mail", {"a@x.org"}}})}), dir).value,
              "smtp:[x.org]/a/staff@example.com/staff/example.com/com");
}

TEST(ResultValues, SpecialAttributeFollowsDnsWithBaseSearches) {
    FakeDirectory dir;
    dir.answers["uid=alice"] = found({entry("uid=alice", {{"mail", {"alice@x"}}})});
    auto t = table("result_attribute = mail\nspecial_result_attribute = member\n");
    auto v = lookup_value(
        t, key,
        found({entry("cn=staff", {{"mail", {"list@x"}}, {"member", {"uid=alice", "uid=gone"}}})}),
        dir);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.value, "list@x,alice@x"); // a missing DN is skipped, as Postfix does
    ASSERT_EQ(dir.searches.size(), 2u);
    EXPECT_EQ(dir.searches[0].scope, LDAP_SCOPE_BASE);
    EXPECT_EQ(dir.searches[0].filter, "objectclass=*");
    EXPECT_EQ(dir.searches[0].attributes, (std::vector<std::string>{"mail", "member"}));
    EXPECT_EQ(v.searches, 2);
}

TEST(ResultValues, GroupWhoseMembersAreGoneIsNotFound) {
    FakeDirectory dir;
    auto t = table("result_attribute = mail\nspecial_result_attribute = member\n");
    auto v = lookup_value(t, key, found({entry("cn=g", {{"member", {"uid=gone"}}})}), dir);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.value, "");
}

TEST(ResultValues, FailedFollowUpSearchIsATemporaryFailure) {
    FakeDirectory dir;
    dir.answers["uid=alice"] = SearchAnswer{LDAP_BUSY, "try later", {}};
    auto t = table("result_attribute = mail\nspecial_result_attribute = member\n");
    auto v = lookup_value(t, key, found({entry("cn=g", {{"member", {"uid=alice"}}})}), dir);
    EXPECT_TRUE(v.failed);
    EXPECT_EQ(v.rc, LDAP_BUSY);
    EXPECT_EQ(v.value, "");
}

TEST(ResultValues, LeafAttributesOnlyFromEntriesWithoutSpecialValues) {
    FakeDirectory dir;
    dir.answers["uid=alice"] = found({entry("uid=alice", {{"mail", {"alice@x"}}})});
    auto t = table("result_attribute = uid\nleaf_result_attribute = mail\n"
                   "special_result_attribute = member\n");
    auto v = lookup_value(
        t, key, found({entry("cn=g", {{"mail", {"list@x"}}, {"member", {"uid=alice"}}})}), dir);
    EXPECT_EQ(v.value, "alice@x");
    FakeDirectory none;
    auto only_leaf = lookup_value(
        t, key, found({entry("cn=g", {{"mail", {"list@x"}}, {"member", {"uid=gone"}}})}), none);
    EXPECT_EQ(only_leaf.value, "");
}

TEST(ResultValues, TerminalEntryGivesOnlyItsTerminalValues) {
    FakeDirectory dir;
    auto t = table("result_attribute = mail\nterminal_result_attribute = departmentNumber\n"
                   "special_result_attribute = member\n");
    auto v = lookup_value(t, key,
                          found({entry("cn=t", {{"mail", {"list@x"}},
                                                {"departmentNumber", {"terminal"}},
                                                {"member", {"uid=alice"}}})}),
                          dir);
    EXPECT_EQ(v.value, "terminal");
    EXPECT_TRUE(dir.searches.empty());
}

TEST(ResultValues, TerminalFlagCarriesOverToTheNextEntryAsInPostfix) {
    // dict_ldap_get_values() sets is_terminal once per search result, not per entry: an
    // entry without any terminal attribute after a terminal one stays terminal.
    FakeDirectory dir;
    auto t = table("result_attribute = mail\nterminal_result_attribute = departmentNumber\n");
    auto v = lookup_value(
        t, key,
        found({entry("cn=t", {{"departmentNumber", {"T"}}}), entry("uid=b", {{"mail", {"b@x"}}})}),
        dir);
    EXPECT_EQ(v.value, "T");
}

TEST(ResultValues, UrlsSearchWithTheirOwnScopeFilterAndPertinentAttributes) {
    FakeDirectory dir;
    dir.answers["ou=people,dc=example,dc=com"] = found({entry("uid=bob", {{"mail", {"bob@x"}}})});
    auto t = table("result_attribute = mail\nspecial_result_attribute = labeledURI\n");
    auto v = lookup_value(
        t, key,
        found({entry("cn=d",
                     {{"labeledURI",
                       {"ldap:///ou=people,dc=example,dc=com?mail;lang-en,cn?sub?(mail=bob@x)",
                        "ldap:///ou=people,dc=example,dc=com?cn?sub?(x=y)"}}})}),
        dir);
    EXPECT_EQ(v.value, "bob@x");
    ASSERT_EQ(dir.searches.size(), 1u); // the second URL names no result attribute
    EXPECT_EQ(dir.searches[0].scope, LDAP_SCOPE_SUBTREE);
    EXPECT_EQ(dir.searches[0].filter, "(mail=bob@x)");
    EXPECT_EQ(dir.searches[0].attributes, (std::vector<std::string>{"mail;lang-en"}));
}

TEST(ResultValues, LimitsAreTemporaryFailures) {
    FakeDirectory dir;
    dir.answers["uid=a"] = found({entry("uid=a", {{"mail", {"a@x"}}})});
    dir.answers["uid=b"] = found({entry("uid=b", {{"mail", {"b@x"}}})});
    auto group = found({entry("cn=g", {{"member", {"uid=a", "uid=b"}}})});
    auto expansion = table("result_attribute = mail\nspecial_result_attribute = member\n"
                           "expansion_limit = 1\n");
    EXPECT_TRUE(lookup_value(expansion, key, group, dir).failed);
    auto recursion = table("result_attribute = mail\nspecial_result_attribute = member\n"
                           "recursion_limit = 1\n");
    auto r = lookup_value(recursion, key, group, dir);
    EXPECT_TRUE(r.failed);
    EXPECT_NE(r.why.find("recursion_limit"), std::string::npos);
    auto size = table("result_attribute = mail\nsize_limit = 1\n");
    auto two = found({entry("uid=a", {{"mail", {"a@x"}}}), entry("uid=b", {{"mail", {"b@x"}}})});
    EXPECT_TRUE(lookup_value(size, key, two, dir).failed);
    auto enough = table("result_attribute = mail\nsize_limit = 2\nexpansion_limit = 2\n");
    EXPECT_EQ(lookup_value(enough, key, two, dir).value, "a@x,b@x");
}

TEST(ResultValues, PostfixAttributeOrder) {
    auto t = table("result_attribute = mail\nterminal_result_attribute = t1\n"
                   "leaf_result_attribute = l1 l2\nspecial_result_attribute = member\n");
    EXPECT_EQ(postfix_result_attributes(t),
              (std::vector<std::string>{"t1", "l1", "l2", "mail", "member"}));
}

TEST(ExpandResult, EmptyValueIsIgnored) {
    EXPECT_FALSE(expand_result(table(""), "", key).has_value());
    EXPECT_EQ(expand_result(table(""), "v", key).value_or("<skipped>"), "v");
    EXPECT_EQ(expand_result(table("result_format = %u\n"), "@x", key).value_or("<skipped>"),
              "<skipped>");
    EXPECT_EQ(expand_result(table("result_format = %u%%\n"), "plain", key).value_or("<skipped>"),
              "plain%");
}

// Where a canary's search goes: on its table's connection, once.
#include "ldap_table.hpp"
#include "log.hpp"
#include "probe_plan.hpp"
#include "table_loader.hpp"

#include <gtest/gtest.h>

using namespace lhc;

namespace {

LdapTable users(const std::string &path, const std::string &extra = "") {
    return parse_ldap_table("server_host = ldap://127.0.0.1/\nsearch_base = dc=example,dc=com\n"
                            "query_filter = (mail=%s)\nresult_attribute = description\n" +
                                extra,
                            path);
}

class NullLogger final : public Logger {
  protected:
    void write_line(std::string_view) override {}
};

} // namespace

TEST(CanaryPlan, AddsOneSearchOnItsTablesConnection) {
    NullLogger log;
    std::vector<LdapTable> tables{users("/a.cf"), users("/b.cf", "search_base = ou=b\n")};
    auto plans = plan_probes(tables, "alice@example.com", log, {{"/b.cf", "Canary@Example.com"}});
    ASSERT_EQ(plans.size(), 1u); // same connection settings: one connection
    ASSERT_EQ(plans[0].searches.size(), 3u);
    const SearchPlan &c = plans[0].searches[2];
    ASSERT_TRUE(c.canary_table);
    EXPECT_EQ(c.canary_table->path, "/b.cf");
    EXPECT_EQ(c.canary_key, "canary@example.com"); // folded, as Postfix looks it up
    EXPECT_EQ(c.base, "ou=b");
    EXPECT_EQ(c.filter, "(mail=canary@example.com)");
    EXPECT_FALSE(c.needs_follow_ups());
}

TEST(CanaryPlan, CanaryOnTheProbeKeyIsTheProbeSearch) {
    NullLogger log;
    std::vector<LdapTable> tables{users("/a.cf")};
    auto plans = plan_probes(tables, "alice@example.com", log,
                             {{"/a.cf", "alice@example.com"}, {"/a.cf", "alice@example.com"}});
    ASSERT_EQ(plans[0].searches.size(), 1u);
    EXPECT_TRUE(plans[0].searches[0].canary_table);
}

TEST(CanaryPlan, SharedProbeSearchIsNotTakenOver) {
    // The probe search stands for two tables: a failure must name the canary's alone.
    NullLogger log;
    std::vector<LdapTable> tables{users("/a.cf"), users("/b.cf")};
    auto plans = plan_probes(tables, "alice@example.com", log, {{"/a.cf", "alice@example.com"}});
    ASSERT_EQ(plans[0].searches.size(), 2u);
    EXPECT_EQ(plans[0].searches[0].tables, "/a.cf, /b.cf");
    EXPECT_FALSE(plans[0].searches[0].canary_table);
    EXPECT_EQ(plans[0].searches[1].tables, "/a.cf");
}

TEST(CanaryPlan, GroupCanaryNeedsFollowUps) {
    NullLogger log;
    std::vector<LdapTable> tables{users("/g.cf", "special_result_attribute = member\n")};
    auto plans = plan_probes(tables, "", log, {{"/g.cf", "staff@example.com"}});
    EXPECT_TRUE(plans[0].needs_follow_ups());
    auto plain = plan_probes(tables, "", log);
    EXPECT_FALSE(plain[0].needs_follow_ups()); // the probe itself never follows DNs
}

TEST(CanaryPlan, Problems) {
    std::vector<LdapTable> tables{users("/a.cf", "domain = example.com\n")};
    EXPECT_EQ(canary_problem(tables, {"/a.cf", "alice@example.com"}), "");
    auto unknown = canary_problem(tables, {"/x.cf", "alice@example.com"});
    EXPECT_NE(unknown.find("/x.cf is not a watched table (watched: /a.cf)"), std::string::npos)
        << unknown;
    auto skipped = canary_problem(tables, {"/a.cf", "alice@example.org"});
    EXPECT_NE(skipped.find("never sends a query"), std::string::npos) << skipped;
}

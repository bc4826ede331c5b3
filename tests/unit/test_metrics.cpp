// The Prometheus text that --metrics-file writes, and the daemon's use of it.
#include "metrics.hpp"

#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace lhc;
using namespace std::chrono_literals;

namespace {

ProbeResult probe(const std::string &server, bool healthy, Duration latency) {
    ProbeResult p;
    p.server = server;
    p.healthy = healthy;
    p.tables = "/etc/postfix/users.cf";
    p.latency = latency;
    return p;
}

RoundResult round_of(std::vector<ProbeResult> probes, Duration latency = 2ms) {
    RoundResult r;
    r.probes = std::move(probes);
    r.latency = latency;
    return r;
}

bool has_line(const std::string &text, const std::string &line) {
    return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

} // namespace

TEST(Metrics, EveryFamilyHasHelpAndTypeBeforeItsSamples) {
    Metrics m;
    m.on_round(round_of({probe("ldap://a/", true, 1ms)}), 0);
    std::string text = m.text();
    for (const char *name :
         {"ldap_health_check_up", "ldap_health_check_round_duration_seconds",
          "ldap_health_check_consecutive_failures", "ldap_health_check_rounds_total",
          "ldap_health_check_round_failures_total", "ldap_health_check_server_up",
          "ldap_health_check_server_latency_seconds"}) {
        auto help = text.find(std::string("# HELP ") + name + " ");
        auto type = text.find(std::string("# TYPE ") + name + " ");
        auto sample = text.find(std::string("\n") + name + " ");
        if (sample == std::string::npos)
            sample = text.find(std::string("\n") + name + "{");
        ASSERT_NE(help, std::string::npos) << name;
        ASSERT_NE(type, std::string::npos) << name;
        ASSERT_NE(sample, std::string::npos) << name;
        EXPECT_LT(help, type) << name;
        EXPECT_LT(type, sample) << name;
    }
    EXPECT_EQ(text.back(), '\n');
}

TEST(Metrics, UpCountersAndFailuresFollowTheRounds) {
    Metrics m;
    m.on_round(round_of({probe("ldap://a/", true, 1ms)}, 3ms), 0);
    m.on_round(round_of({probe("ldap://a/", false, 1ms)}), 1);
    m.on_round(round_of({probe("ldap://a/", false, 1ms)}), 2);
    std::string text = m.text();
    EXPECT_TRUE(has_line(text, "ldap_health_check_up 0")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_consecutive_failures 2")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_rounds_total 3")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_round_failures_total 2")) << text;
    m.on_round(round_of({probe("ldap://a/", true, 1ms)}, 3ms), 0);
    text = m.text();
    EXPECT_TRUE(has_line(text, "ldap_health_check_up 1")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_round_duration_seconds 0.003")) << text;
}

TEST(Metrics, APerServerLineForEveryServerSeenWithItsLastState) {
    Metrics m;
    m.on_round(round_of({probe("ldap://a/", true, 1ms), probe("ldap://a/", false, 4ms),
                         probe("ldap://b/", true, 2ms)}),
               1);
    m.on_round(round_of({probe("ldap://b/", true, 5ms)}), 0);
    std::string text = m.text();
    // One failed search of two makes the server down; the slower search is its latency.
    EXPECT_TRUE(has_line(text, "ldap_health_check_server_up{server=\"ldap://a/\"} 0")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_server_latency_seconds{server=\"ldap://a/\"} "
                               "0.004"))
        << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_server_up{server=\"ldap://b/\"} 1")) << text;
    EXPECT_TRUE(has_line(text, "ldap_health_check_server_latency_seconds{server=\"ldap://b/\"} "
                               "0.005"))
        << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
    Metrics m;
    m.on_round(round_of({probe("ldapi://%2Frun%2F\"x\\y\nz", true, 1ms)}), 0);
    EXPECT_TRUE(has_line(m.text(), "ldap_health_check_server_up{server=\"ldapi://%2Frun%2F\\\"x"
                                   "\\\\y\\nz\"} 1"))
        << m.text();
}

TEST(MetricsFile, WritesTheWholeTextReadableByOthersAndLeavesNoTemporaryFile) {
    char dir[] = "/tmp/lhc-metrics-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string path = std::string(dir) + "/ldap.prom";
    Logger log(-1);
    MetricsFile file(path, log);
    Metrics m;
    m.on_round(round_of({probe("ldap://a/", true, 1ms)}), 0);
    mode_t old = umask(077);
    file.write(m);
    umask(old);
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, m.text());
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u) << "node_exporter runs as another user";
    EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);
    unlink(path.c_str());
    rmdir(dir);
}

TEST(MetricsFile, AnUnwritablePlaceIsOneWarningNotAStop) {
    class Lines final : public Logger {
      public:
        Lines() : Logger(-1) {}
        std::string text;

      protected:
        void write_line(std::string_view line) override { text += line; }
    } log;
    MetricsFile file("/nonexistent-lhc-dir/ldap.prom", log);
    Metrics m;
    file.write(m);
    file.write(m);
    EXPECT_NE(log.text.find("<4>--metrics-file: open /nonexistent-lhc-dir/ldap.prom.tmp"),
              std::string::npos)
        << log.text;
    EXPECT_EQ(log.text.find("--metrics-file", log.text.find('\n')), std::string::npos)
        << "the same error twice: " << log.text;
}

// Issue 19, item 6: after a reload that removed ldap2, its series must go, not stay at its last
// value for ever.
TEST(Metrics, AServerThatAReloadRemovedIsNoLongerReported) {
    Metrics m;
    std::vector<ServerState> both{{"ldap://ldap1/", true, "", 1ms},
                                  {"ldap://ldap2/", true, "", 1ms}};
    m.on_round(round_of({probe("ldap://ldap1/", true, 1ms)}), 0, both);
    ASSERT_NE(m.text().find("ldap://ldap2/"), std::string::npos);
    std::vector<ServerState> one{{"ldap://ldap1/", true, "", 1ms}};
    m.on_round(round_of({probe("ldap://ldap1/", true, 1ms)}), 0, one);
    EXPECT_EQ(m.text().find("ldap://ldap2/"), std::string::npos) << m.text();
    // A round of the old tables still in flight at the reload does not bring it back.
    m.on_round(round_of({probe("ldap://ldap2/", true, 1ms)}), 0, one);
    EXPECT_EQ(m.text().find("ldap://ldap2/"), std::string::npos) << m.text();
    EXPECT_NE(m.text().find("ldap://ldap1/"), std::string::npos) << m.text();
}

// The Prometheus text that --metrics-file writes, and the daemon's use of it.
#include "metrics.hpp"

#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
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

std::string contents(const std::string &path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class Lines final : public Logger {
  public:
    Lines() : Logger(-1) {}
    std::string text() const {
        std::lock_guard lock(mutex_);
        return text_;
    }

  protected:
    void write_line(std::string_view line) override {
        std::lock_guard lock(mutex_);
        text_ += line;
    }

  private:
    mutable std::mutex mutex_;
    std::string text_;
};

// A metrics directory that a hostile member of its group has prepared: whatever is put at
// PATH.tmp or PATH must neither stall a write (a blocked write is a round that never ends,
// and no READY=1) nor make it write anywhere but PATH.
class HostileMetricsDir : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_NE(mkdtemp(dir_), nullptr);
        path_ = std::string(dir_) + "/ldap.prom";
        tmp_ = path_ + ".tmp";
        log_ = std::make_shared<Lines>();
        file_ = std::make_shared<MetricsFile>(path_, *log_);
        metrics_.on_round(round_of({probe("ldap://a/", true, 1ms)}), 0);
    }
    void TearDown() override {
        if (!hung_)
            std::filesystem::remove_all(dir_);
    }

    // Writes on a thread of its own, so that a write that blocks fails the test instead of
    // hanging it; such a thread is left behind, owning what it uses.
    bool writes_in_time() {
        auto done = std::make_shared<std::promise<void>>();
        auto ended = done->get_future();
        std::thread([file = file_, log = log_, m = metrics_, done] {
            file->write(m);
            done->set_value();
        }).detach();
        hung_ = ended.wait_for(2s) != std::future_status::ready;
        return !hung_;
    }

    // PATH holds the whole text, in a regular file.
    void expect_written() {
        struct stat st {};
        ASSERT_EQ(lstat(path_.c_str(), &st), 0) << log_->text();
        ASSERT_TRUE(S_ISREG(st.st_mode))
            << "PATH must be a regular file: " << std::oct << st.st_mode;
        EXPECT_EQ(contents(path_), metrics_.text());
    }

    char dir_[32] = "/tmp/lhc-metrics-XXXXXX";
    std::string path_, tmp_;
    std::shared_ptr<Lines> log_;
    std::shared_ptr<MetricsFile> file_;
    Metrics metrics_;
    bool hung_ = false;
};

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
    Lines log;
    MetricsFile file("/nonexistent-lhc-dir/ldap.prom", log);
    Metrics m;
    file.write(m);
    file.write(m);
    std::string text = log.text();
    EXPECT_NE(text.find("<4>--metrics-file: "), std::string::npos) << text;
    EXPECT_NE(text.find("/nonexistent-lhc-dir/"), std::string::npos) << text;
    EXPECT_EQ(text.find("--metrics-file", text.find('\n')), std::string::npos)
        << "the same error twice: " << text;
}

TEST_F(HostileMetricsDir, AFifoWithoutAReaderAtTheTemporaryNameDoesNotBlock) {
    ASSERT_EQ(mkfifo(tmp_.c_str(), 0666), 0);
    ASSERT_TRUE(writes_in_time()) << "the write blocks on the FIFO";
    expect_written();
}

TEST_F(HostileMetricsDir, AFifoWithAReaderAtTheTemporaryNameIsNotWrittenNorRenamed) {
    ASSERT_EQ(mkfifo(tmp_.c_str(), 0666), 0);
    int reader = open(tmp_.c_str(), O_RDONLY | O_NONBLOCK);
    ASSERT_GE(reader, 0);
    ASSERT_TRUE(writes_in_time()) << "the write blocks on the FIFO";
    char buf[64];
    EXPECT_LE(read(reader, buf, sizeof buf), 0) << "the metrics went to the reader of the FIFO";
    close(reader);
    expect_written();
}

TEST_F(HostileMetricsDir, ASymlinkAtTheTemporaryNameLeavesItsTargetAlone) {
    std::string outside = std::string(dir_) + "-outside";
    { std::ofstream(outside) << "precious\n"; }
    ASSERT_EQ(symlink(outside.c_str(), tmp_.c_str()), 0);
    EXPECT_TRUE(writes_in_time());
    EXPECT_EQ(contents(outside), "precious\n");
    unlink(outside.c_str());
    expect_written();
}

TEST_F(HostileMetricsDir, ASymlinkAtThePathIsReplacedNotFollowed) {
    std::string outside = std::string(dir_) + "-outside";
    { std::ofstream(outside) << "precious\n"; }
    ASSERT_EQ(symlink(outside.c_str(), path_.c_str()), 0);
    EXPECT_TRUE(writes_in_time());
    EXPECT_EQ(contents(outside), "precious\n");
    unlink(outside.c_str());
    expect_written();
}

TEST_F(HostileMetricsDir, ADirectoryAtTheTemporaryNameIsNoObstacle) {
    ASSERT_EQ(mkdir(tmp_.c_str(), 0777), 0);
    ASSERT_EQ(mkdir((tmp_ + "/full").c_str(), 0777), 0); // cannot be removed by rmdir()
    ASSERT_TRUE(writes_in_time());
    expect_written();
}

TEST_F(HostileMetricsDir, ASocketAtTheTemporaryNameIsNoObstacle) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    ASSERT_LT(tmp_.size(), sizeof a.sun_path);
    tmp_.copy(a.sun_path, tmp_.size());
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    ASSERT_TRUE(writes_in_time());
    close(s);
    expect_written();
}

TEST_F(HostileMetricsDir, ADirectoryAtThePathIsOneWarningAndNoLeftovers) {
    ASSERT_EQ(mkdir(path_.c_str(), 0777), 0);
    ASSERT_EQ(mkdir((path_ + "/full").c_str(), 0777), 0);
    ASSERT_TRUE(writes_in_time());
    ASSERT_TRUE(writes_in_time());
    std::string text = log_->text();
    EXPECT_NE(text.find("<4>--metrics-file: "), std::string::npos) << text;
    EXPECT_EQ(text.find("--metrics-file", text.find('\n')), std::string::npos)
        << "the same error twice: " << text;
    for (const auto &entry : std::filesystem::directory_iterator(dir_))
        EXPECT_EQ(entry.path(), path_) << "left behind";
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

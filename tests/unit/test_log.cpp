#include "log.hpp"

#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using lhc::Logger;
using lhc::Priority;

namespace {

// What the Logger writes to its file descriptor for one message.
std::string logged(std::string_view text) {
    int fds[2];
    if (pipe(fds) != 0)
        return "<no pipe>";
    Logger log(fds[1]);
    log.log(Priority::warning, text);
    close(fds[1]);
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    return out;
}

} // namespace

TEST(Logger, OneLineWithPriorityPrefix) {
    EXPECT_EQ(logged("ldap://h/: Can't contact LDAP server"),
              "<4>ldap://h/: Can't contact LDAP server\n");
}

TEST(Logger, LineBreaksAndTabsBecomeSpaces) {
    EXPECT_EQ(logged("a\nb\r\nc\td"), "<4>a b  c d\n");
}

TEST(Logger, OtherControlBytesAreEscaped) {
    using namespace std::string_literals;
    EXPECT_EQ(logged("nul\0 esc\x1b[31m bell\x07 del\x7f us\x1f"s),
              "<4>nul\\x00 esc\\x1b[31m bell\\x07 del\\x7f us\\x1f\n");
}

TEST(Logger, NoControlByteEverReachesTheOutput) {
    std::string every;
    for (int c = 0; c < 256; ++c)
        every += static_cast<char>(c);
    std::string out = logged(every);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.back(), '\n');
    out.pop_back();
    for (char c : out) {
        auto u = static_cast<unsigned char>(c);
        EXPECT_TRUE(u >= 0x20 && u != 0x7f) << "byte " << int(u);
    }
    // Bytes of UTF-8 text pass through untouched.
    EXPECT_EQ(logged("\xc3\xa4"), "<4>\xc3\xa4\n");
}

// The --once verdict line goes to stdout, not through a Logger, and may carry a server's
// diagnostic message: it is made printable the same way.
TEST(Logger, PrintableIsWhatALogLineCarries) {
    using namespace std::string_literals;
    EXPECT_EQ(lhc::printable("search: Other\x1b[2J: a\nb\0c"s), "search: Other\\x1b[2J: a b\\x00c");
}

namespace {

// Records what would go to the journal; the file descriptor sees the lines.
class JournalLogger final : public Logger {
  public:
    using Logger::Logger;
    struct Entry {
        lhc::Event event;
        Priority priority;
        std::string text;
        lhc::EventFields fields;
    };
    std::vector<Entry> entries;
    bool journal_up = true;
    std::string lines;

  protected:
    void write_line(std::string_view line) override { lines += line; }
    bool write_event(lhc::Event e, Priority p, std::string_view text,
                     const lhc::EventFields &f) override {
        if (journal_up)
            entries.push_back({e, p, std::string(text), f});
        return journal_up;
    }
};

// Makes `fd` the stream JOURNAL_STREAM names, as systemd does for a service's stderr.
void name_as_journal_stream(int fd) {
    struct stat st {};
    ASSERT_EQ(fstat(fd, &st), 0);
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)).c_str(),
           1);
}

} // namespace

TEST(LoggerEvents, GoToTheJournalWithTheirIdAndFieldsWhenStderrIsTheJournal) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    name_as_journal_stream(fds[1]);
    JournalLogger log(fds[1]);
    unsetenv("JOURNAL_STREAM");
    log.event(lhc::Event::down, Priority::crit, "LDAP unusable",
              {"ldap://127.0.0.1:389/", "/etc/postfix/users.cf", "connect", "Can't contact"});
    ASSERT_EQ(log.entries.size(), 1u);
    EXPECT_EQ(log.entries[0].event, lhc::Event::down);
    EXPECT_EQ(log.entries[0].priority, Priority::crit);
    EXPECT_EQ(log.entries[0].fields.server, "ldap://127.0.0.1:389/");
    EXPECT_EQ(log.entries[0].fields.step, "connect");
    EXPECT_EQ(log.lines, "") << "an event is one journal entry, not also a line";
    close(fds[0]);
    close(fds[1]);
}

TEST(LoggerEvents, AreLinesWhenStderrIsNotTheJournal) {
    int journal[2], other[2];
    ASSERT_EQ(pipe(journal), 0);
    ASSERT_EQ(pipe(other), 0);
    name_as_journal_stream(journal[1]);
    JournalLogger log(other[1]); // stderr was redirected away from the journal's stream
    unsetenv("JOURNAL_STREAM");
    log.event(lhc::Event::ready, Priority::notice, "LDAP healthy, ready");
    EXPECT_TRUE(log.entries.empty());
    EXPECT_EQ(log.lines, "<5>LDAP healthy, ready\n");
    for (int fd : {journal[0], journal[1], other[0], other[1]})
        close(fd);
}

TEST(LoggerEvents, FallBackToALineWhenTheJournalRefuses) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    name_as_journal_stream(fds[1]);
    JournalLogger log(fds[1]);
    unsetenv("JOURNAL_STREAM");
    log.journal_up = false;
    log.event(lhc::Event::round_failed, Priority::warning, "probe failed (1 of 3)");
    EXPECT_EQ(log.lines, "<4>probe failed (1 of 3)\n");
    close(fds[0]);
    close(fds[1]);
}

// Every event has an id of its own, and the catalog that ships with the package explains it.
TEST(LoggerEvents, EachHasItsOwnIdAndACatalogEntry) {
    const char *path = std::getenv("LHC_CATALOG");
    ASSERT_NE(path, nullptr) << "LHC_CATALOG: the journal catalog in the source tree";
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    std::string catalog((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::set<std::string> ids;
    for (auto e : lhc::all_events) {
        std::string id = lhc::message_id(e);
        EXPECT_EQ(id.size(), 32u);
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
        EXPECT_TRUE(ids.insert(id).second) << "id used twice: " << id;
        EXPECT_NE(catalog.find("-- " + id + "\n"), std::string::npos) << "no catalog entry " << id;
    }
}

// Issue 19: systemd drops a STATUS= that is not UTF-8 clean (and logs that every round), and a
// journal reader shows garbage: what is not well-formed UTF-8 becomes \xHH, the rest stays.
TEST(Printable, BytesThatAreNotUtf8AreEscapedAndUtf8IsKept) {
    EXPECT_EQ(lhc::printable("caf\xc3\xa9 \xff\xfe ok"), "caf\xc3\xa9 \\xff\\xfe ok");
    EXPECT_EQ(lhc::printable("cut \xe2\x82"), "cut \\xe2\\x82") << "a sequence cut short";
    EXPECT_EQ(lhc::printable("\xc0\xaf"), "\\xc0\\xaf") << "an overlong '/'";
    EXPECT_EQ(lhc::printable("\xe2\x82\xac \xf0\x9f\x93\xab"), "\xe2\x82\xac \xf0\x9f\x93\xab");
}

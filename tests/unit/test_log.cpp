#include "log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

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

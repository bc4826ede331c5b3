// The lexer against what postmap -v showed for the same input (see docs/postfix-semantics.md).
#include "config_error.hpp"
#include "table_file.hpp"

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

using lhc::ConfigError;
using lhc::parse_table_text;
using lhc::TableFile;

namespace {

std::string value_of(const TableFile &t, const std::string &name) {
    auto it = t.entries.find(name);
    return it == t.entries.end() ? "<absent>" : it->second.value;
}

int line_of(const TableFile &t, const std::string &name) {
    return t.entries.at(name).line;
}

std::string error_of(const std::string &text) {
    try {
        parse_table_text(text, "/etc/postfix/t.cf");
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "<no error>";
}

} // namespace

TEST(TableFile, NameValueWithBlanksTrimmed) {
    TableFile t = parse_table_text("search_base   =   dc=example, dc=com  \t\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "dc=example, dc=com");
    EXPECT_EQ(line_of(t, "search_base"), 1);
    EXPECT_TRUE(t.warnings.empty());
    EXPECT_EQ(t.path, "f");
}

TEST(TableFile, NoBlanksAndEqualsInValue) {
    TableFile t = parse_table_text("search_base=a=b\nquery_filter =(x=%s)", "f");
    EXPECT_EQ(value_of(t, "search_base"), "a=b");
    EXPECT_EQ(value_of(t, "query_filter"), "(x=%s)");
}

TEST(TableFile, EmptyValue) {
    TableFile t = parse_table_text("bind_dn =\nbind_pw =   \n", "f");
    EXPECT_EQ(value_of(t, "bind_dn"), "");
    EXPECT_EQ(value_of(t, "bind_pw"), "");
}

TEST(TableFile, CommentsAndBlankLinesSkipped) {
    TableFile t = parse_table_text("# comment\n\n   \n  # indented comment\nversion = 3\n", "f");
    EXPECT_EQ(t.entries.size(), 1u);
    EXPECT_EQ(line_of(t, "version"), 5);
}

TEST(TableFile, HashAfterValueIsPartOfValue) {
    TableFile t = parse_table_text("search_base = a # b\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "a # b");
}

TEST(TableFile, QuotesAreKept) {
    TableFile t = parse_table_text("search_base = \"a b\"\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "\"a b\"");
}

TEST(TableFile, NamesAreCaseSensitiveAndNotExpanded) {
    TableFile t = parse_table_text("Server_Host = a\nsearch_base = $foo ${x} $$\n", "f");
    EXPECT_EQ(value_of(t, "server_host"), "<absent>");
    EXPECT_EQ(value_of(t, "Server_Host"), "a");
    EXPECT_EQ(value_of(t, "search_base"), "$foo ${x} $$");
}

TEST(TableFile, ContinuationJoinedVerbatimWithoutSeparator) {
    // postmap: "search_base = x\n  ,dc=y" resolves to "x  ,dc=y".
    TableFile t = parse_table_text("search_base = x\n  ,dc=y\n\tz\ntimeout = 1\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "x  ,dc=y\tz");
    EXPECT_EQ(line_of(t, "search_base"), 1);
    EXPECT_EQ(line_of(t, "timeout"), 4);
}

TEST(TableFile, CommentAndBlankLinesInsideContinuationAreDropped) {
    TableFile t = parse_table_text("search_base = x\n#c\n\n   \n  dc=y\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "x  dc=y");
}

TEST(TableFile, ValueOnContinuationLine) {
    TableFile t = parse_table_text("timeout =\n   5\n", "f");
    EXPECT_EQ(value_of(t, "timeout"), "5");
}

TEST(TableFile, LeadingWhitespaceAtTopIsWarnedAndDropped) {
    TableFile t = parse_table_text("\n  search_base = top\n  more\nversion = 3\n", "f.cf");
    EXPECT_EQ(value_of(t, "search_base"), "<absent>");
    EXPECT_EQ(value_of(t, "version"), "3");
    ASSERT_EQ(t.warnings.size(), 1u);
    EXPECT_EQ(t.warnings[0], "f.cf:2: logical line must not start with whitespace, ignored");
}

TEST(TableFile, CarriageReturnsAreBlanks) {
    TableFile t = parse_table_text("search_base = a\r\n\r\nversion\t=\t3\r\n", "f");
    EXPECT_EQ(value_of(t, "search_base"), "a");
    EXPECT_EQ(value_of(t, "version"), "3");
}

TEST(TableFile, LastLineWithoutNewline) {
    EXPECT_EQ(value_of(parse_table_text("bind = no", "f"), "bind"), "no");
}

TEST(TableFile, EmptyText) {
    TableFile t = parse_table_text("", "f");
    EXPECT_TRUE(t.entries.empty());
    EXPECT_TRUE(t.warnings.empty());
}

TEST(TableFile, DuplicateWithOtherValueWarnsAndLastWins) {
    TableFile t = parse_table_text("timeout = 1\nversion = 3\ntimeout = 5\n", "f.cf");
    EXPECT_EQ(value_of(t, "timeout"), "5");
    EXPECT_EQ(line_of(t, "timeout"), 3);
    ASSERT_EQ(t.warnings.size(), 1u);
    EXPECT_EQ(t.warnings[0], "f.cf:3: overriding earlier entry: timeout");
}

TEST(TableFile, DuplicateWithSameValueIsSilent) {
    TableFile t = parse_table_text("search_base = a\nsearch_base = a\n", "f");
    EXPECT_TRUE(t.warnings.empty());
    EXPECT_EQ(line_of(t, "search_base"), 2);
}

TEST(TableFile, DuplicatePasswordWarningDoesNotQuoteIt) {
    TableFile t = parse_table_text("bind_pw = s3cretA\nbind_pw = s3cretB\n", "f");
    ASSERT_EQ(t.warnings.size(), 1u);
    EXPECT_EQ(t.warnings[0].find("s3cret"), std::string::npos);
}

TEST(TableFile, MissingEqualsIsFatalWithLine) {
    EXPECT_EQ(error_of("# c\nversion = 3\nbind_dn cn=admin\n"),
              "/etc/postfix/t.cf:3: missing '=' after attribute name");
    EXPECT_EQ(error_of("bind_dn"), "/etc/postfix/t.cf:1: missing '=' after attribute name");
    EXPECT_EQ(error_of("search base = a"), "/etc/postfix/t.cf:1: missing '=' after attribute name");
}

TEST(TableFile, MissingNameIsFatalWithLine) {
    EXPECT_EQ(error_of("version = 3\n= foo\n"), "/etc/postfix/t.cf:2: missing attribute name");
}

TEST(TableFile, ErrorLineIsWhereTheLogicalLineStarts) {
    EXPECT_EQ(error_of("version = 3\nbroken\n  continued\n"),
              "/etc/postfix/t.cf:2: missing '=' after attribute name");
}

TEST(TableFile, BrokenPasswordLineDoesNotLeakThePassword) {
    for (const char *text : {"bind_pw Secr3tPw\n", "bind_pw:Secr3tPw\n", "bind_pw\n  Secr3tPw\n",
                             "= Secr3tPw\n", "bind_pw\"Secr3tPw\" x\n"}) {
        std::string err = error_of(text);
        EXPECT_NE(err, "<no error>") << text;
        EXPECT_EQ(err.find("Secr3tPw"), std::string::npos) << err;
    }
    EXPECT_EQ(error_of("bind_pw:Secr3tPw\n"),
              "/etc/postfix/t.cf:1: missing '=' after attribute name");
}

TEST(TableFile, PasswordOnItsOwnLineNeverAppearsInTheError) {
    // "bind_pw = \" does not continue a line in Postfix: the password is a logical line of its
    // own, and all of that line is the secret, whatever characters it is made of.
    for (const char *pw : {"Secr3tPw", "Secr3t_Pw", "Secr3t:Pw", "Secr3t Pw", "Secr3t\"Pw"}) {
        std::string err = error_of(std::string("version = 3\nbind_pw = \\\n") + pw + "\n");
        EXPECT_EQ(err, "/etc/postfix/t.cf:3: missing '=' after attribute name") << pw;
        EXPECT_EQ(err.find("Secr3t"), std::string::npos) << err;
    }
}

TEST(TableFile, NulEndsTheLogicalLineAsInPostfix) {
    using namespace std::string_literals;
    // postmap: "bind_dn\0 = x" is fatal "missing '='", as the C string is "bind_dn".
    EXPECT_EQ(error_of("version = 3\nbind_dn\0 = x\n"s),
              "/etc/postfix/t.cf:2: missing '=' after attribute name");
    // A logical line that begins with NUL is not blank but empty: no name.
    EXPECT_EQ(error_of("version = 3\n\0search_base = x\n"s),
              "/etc/postfix/t.cf:2: missing attribute name");
    EXPECT_EQ(error_of("\0\n"s), "/etc/postfix/t.cf:1: missing attribute name");
    // In the value: the value is cut there, trailing blanks before the NUL trimmed.
    TableFile t = parse_table_text("search_base = dc=a \0,dc=b\nversion = 3\n"s, "f");
    EXPECT_EQ(value_of(t, "search_base"), "dc=a");
    EXPECT_EQ(value_of(t, "version"), "3");
    // Continuations after the NUL are joined first and then lost with it.
    t = parse_table_text("search_base = dc=a\0x\n  ,dc=b\nversion = 3\n"s, "f");
    EXPECT_EQ(value_of(t, "search_base"), "dc=a");
    EXPECT_EQ(line_of(t, "version"), 3);
    // A continuation line that is blanks and a NUL is not blank: it ends the value too.
    t = parse_table_text("search_base = dc=a\n  \0\n  ,dc=b\n"s, "f");
    EXPECT_EQ(value_of(t, "search_base"), "dc=a");
}

TEST(TableFile, ErrorCarriesFileAndLine) {
    try {
        parse_table_text("a = 1\nb\n", "x.cf");
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.file(), "x.cf");
        EXPECT_EQ(e.line(), 2);
    }
}

TEST(TableFile, ReadsFileAndReportsMissingOne) {
    char path[] = "/tmp/lhc-table-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << "server_host = h\n";
    unsigned mode = 0;
    std::string text = lhc::read_whole_file(path, &mode);
    lhc::TableFile t = lhc::parse_table_text(text, path);
    std::remove(path);
    EXPECT_EQ(value_of(t, "server_host"), "h");
    EXPECT_EQ(t.path, path);
    EXPECT_EQ(text, "server_host = h\n");
    EXPECT_NE(mode, 0u);
    try {
        lhc::read_whole_file(path, nullptr);
        FAIL();
    } catch (const ConfigError &e) {
        EXPECT_EQ(e.line(), 0);
        EXPECT_EQ(std::string(e.what()), std::string(path) + ": open: No such file or directory");
    }
}

namespace {

// A private directory, removed with everything in it.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/lhc-table-dir-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

std::string read_error(const std::string &path) {
    try {
        lhc::read_whole_file(path, nullptr);
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "<no error>";
}

} // namespace

TEST(TableFile, FifoIsRefusedAtOnceWithItsName) {
    TempDir dir;
    std::string fifo = dir.path + "/ldap.cf";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
    // A blocked open() or read() of a FIFO with no writer waits for ever: read on a thread and,
    // if it hangs, free it by playing the writer so that the test fails instead of hanging.
    auto result = std::async(std::launch::async, [&] { return read_error(fifo); });
    if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
        close(open(fifo.c_str(), O_WRONLY | O_NONBLOCK));
        ADD_FAILURE() << "reading a FIFO hangs";
    }
    EXPECT_EQ(result.get(), fifo + ": not a regular file (FIFO)");
}

TEST(TableFile, DevicesAndDirectoriesAreRefused) {
    EXPECT_EQ(read_error("/dev/zero"), "/dev/zero: not a regular file (character device)");
    EXPECT_EQ(read_error("/dev/null"), "/dev/null: not a regular file (character device)");
    EXPECT_EQ(read_error("/tmp"), "/tmp: not a regular file (directory)");
}

TEST(TableFile, TableLargerThanTheCapIsRefused) {
    TempDir dir;
    std::string path = dir.path + "/big.cf";
    std::string text = "search_base = x\n" + std::string(lhc::max_table_size - 16, '#');
    std::ofstream(path, std::ios::binary) << text;
    EXPECT_EQ(lhc::read_whole_file(path, nullptr).size(), lhc::max_table_size);
    std::ofstream(path, std::ios::binary | std::ios::app) << '#';
    EXPECT_EQ(read_error(path), path + ": larger than 1048576 bytes, not a table");
}

TEST(TableFile, SymlinkToRegularFileIsRead) {
    TempDir dir;
    std::string target = dir.path + "/real.cf", link = dir.path + "/link.cf";
    std::ofstream(target) << "server_host = h\n";
    ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
    EXPECT_EQ(lhc::read_whole_file(link, nullptr), "server_host = h\n");
}

// A connection kept idle after a good round outlives the round's Connection, and libldap
// calls back into the connect callback and I/O layer state registered for it when it is
// finally freed: that state must not live in the Connection. Were it a dangling pointer, the
// test could still pass while the dead Connection's stack memory happened to be intact, which
// scribble_stack() prevents.
#include "ldap_prober.hpp"
#include "ldap_table.hpp"
#include "log.hpp"
#include "probe_plan.hpp"
#include "table_loader.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace lhc;

namespace {

// Answers every search with an empty SearchResultDone (success, "not found": healthy), one
// thread per connection, until the client unbinds or closes.
class TinyLdapServer {
  public:
    TinyLdapServer() {
        listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&a), len) != 0 ||
            listen(listen_fd_, 8) != 0 ||
            getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&a), &len) != 0)
            throw std::runtime_error("cannot listen on loopback");
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~TinyLdapServer() {
        stop_ = true;
        acceptor_.join();
        for (auto &t : sessions_)
            t.join();
        close(listen_fd_);
    }
    int port() const { return port_; }

  private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (poll(&p, 1, 50) > 0) {
                int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0)
                    sessions_.emplace_back([this, fd] { serve(fd); });
            }
        }
    }

    bool read_exact(int fd, unsigned char *buf, std::size_t n) {
        while (n > 0) {
            pollfd p{fd, POLLIN, 0};
            if (stop_ || poll(&p, 1, 50) < 0)
                return false;
            if (!(p.revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t got = read(fd, buf, n);
            if (got <= 0)
                return false;
            buf += got;
            n -= static_cast<std::size_t>(got);
        }
        return true;
    }

    // One BER LDAPMessage: SEQUENCE { messageID INTEGER, protocolOp [APPLICATION n] ... }.
    void serve(int fd) {
        unsigned char head[2];
        while (read_exact(fd, head, 2) && head[0] == 0x30) {
            std::size_t len = head[1];
            if (len & 0x80) {
                unsigned char ext[4];
                std::size_t n = len & 0x7f;
                if (n > 4 || !read_exact(fd, ext, n))
                    break;
                len = 0;
                for (std::size_t i = 0; i < n; ++i)
                    len = (len << 8) | ext[i];
            }
            std::vector<unsigned char> body(len);
            if (len < 3 || !read_exact(fd, body.data(), len) || body[0] != 0x02)
                break;
            std::size_t id_len = body[1];
            if (2 + id_len >= len)
                break;
            unsigned char op = body[2 + id_len];
            if (op == 0x42) // UnbindRequest
                break;
            if (op != 0x63) // SearchRequest
                continue;
            std::vector<unsigned char> reply = {0x30, 0};
            reply.insert(reply.end(), body.begin(), body.begin() + 2 + id_len);
            reply.insert(reply.end(), {0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00});
            reply[1] = static_cast<unsigned char>(reply.size() - 2);
            if (write(fd, reply.data(), reply.size()) != static_cast<ssize_t>(reply.size()))
                break;
        }
        close(fd);
    }

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread acceptor_;
    std::vector<std::thread> sessions_;
};

// Overwrites the stack below the caller, where the last round's Connection lived, so that
// anything still pointing there reads garbage instead of a stale copy that happens to work.
[[gnu::noinline]] void scribble_stack() {
    volatile unsigned char junk[256 * 1024];
    for (std::size_t i = 0; i < sizeof junk; ++i)
        junk[i] = 0xA5;
}

} // namespace

TEST(ProbeIdleConnection, OutlivesItsRoundSafely) {
    TinyLdapServer server;
    std::string text = "server_host = ldap://127.0.0.1:" + std::to_string(server.port()) +
                       "/\nbind = no\nsearch_base = dc=example,dc=com\n"
                       "query_filter = (mail=%s)\ntimeout = 5\n";
    Logger log;
    std::vector<LdapTable> tables{parse_ldap_table(text, "idle.cf")};
    {
        LdapProber prober(plan_probes(tables, "alice@example.com", log), log, true);
        // Each round keeps its connection and frees the previous round's one.
        for (int round = 0; round < 3; ++round)
            EXPECT_TRUE(prober.probe_round(ProbeMode::full).healthy()) << round;
        EXPECT_EQ(prober.watch_fds().size(), 1u);
        scribble_stack();
    } // the last idle connection is freed here, long after its round ended
}

#include "tls_guard.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <poll.h>
#include <sys/socket.h>

namespace lhc {

void HandshakeGuard::arm() {
    timed_out = false;
    deadline = Clock::now() + std::chrono::seconds(timeout.tv_sec) +
               std::chrono::microseconds(timeout.tv_usec);
}

bool HandshakeGuard::wait(short events) {
    if (!deadline || fd < 0)
        return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now());
    pollfd p{fd, events, 0};
    auto ms = std::min<long long>(left.count(), INT_MAX);
    int n = ms > 0 ? poll(&p, 1, static_cast<int>(ms)) : 0;
    if (n == 0) {
        timed_out = true;
        errno = ETIMEDOUT;
    }
    return n > 0 || (n < 0 && errno == EINTR);
}

namespace {

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

int guard_setup(Sockbuf_IO_Desc *d, void *arg) {
    d->sbiod_pvt = arg;
    return 0;
}
int guard_remove(Sockbuf_IO_Desc *) {
    return 0;
}
int guard_ctrl(Sockbuf_IO_Desc *d, int opt, void *arg) {
    return LBER_SBIOD_CTRL_NEXT(d, opt, arg);
}
int guard_close(Sockbuf_IO_Desc *) {
    return 0;
}

// The guard waits only for the connection it was armed for: a chased referral's connect arms
// it for the referral's socket, and a read slice that runs out on the first connection must
// go back to libldap as "no message yet", not wait on the other socket.
bool guards(Sockbuf_IO_Desc *d, const HandshakeGuard &g) {
    int fd = -1;
    return g.deadline && ber_sockbuf_ctrl(d->sbiod_sb, LBER_SB_OPT_GET_FD, &fd) == 1 && fd == g.fd;
}

ber_slen_t guard_read(Sockbuf_IO_Desc *d, void *buf, ber_len_t len) {
    auto *g = static_cast<HandshakeGuard *>(d->sbiod_pvt);
    for (;;) {
        ber_slen_t n = LBER_SBIOD_READ_NEXT(d, buf, len);
        if (n >= 0 || !would_block() || !guards(d, *g))
            return n;
        if (!g->wait(POLLIN))
            return -1;
    }
}

ber_slen_t guard_write(Sockbuf_IO_Desc *d, void *buf, ber_len_t len) {
    auto *g = static_cast<HandshakeGuard *>(d->sbiod_pvt);
    for (;;) {
        ber_slen_t n = LBER_SBIOD_WRITE_NEXT(d, buf, len);
        if (n >= 0 || !would_block() || !guards(d, *g))
            return n;
        if (!g->wait(POLLOUT))
            return -1;
    }
}

Sockbuf_IO guard_io = {guard_setup, guard_remove, guard_ctrl, guard_read, guard_write, guard_close};

// Every read on a connection is bounded, wherever the round runs and whichever connection
// libldap opened (a server_host URL, a chased referral). The server's answer is waited for in
// ldap_result() under the timeout, but once data arrives libldap reads the rest of the
// message in a blocking read: a server that sends the first bytes of a message (on a plain
// connection: its BER header) and stops would hold that read, and the round or the bind of a
// full path, for good, and its thread with it. With a read slice libldap takes the timeout as
// "no message yet", polls again and gives up at the timeout; the guard above waits out the
// slices of a handshake. (TLS connections are left non-blocking by libldap 2.5; the slice does
// not rely on it.)
void set_read_slice(int fd) {
    timeval slice{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
}

// Called by libldap for every connection it opens, before any TLS layer is pushed.
int on_connect(LDAP *, Sockbuf *sb, LDAPURLDesc *, sockaddr *, ldap_conncb *cb) {
    auto *g = static_cast<HandshakeGuard *>(cb->lc_arg);
    if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &g->fd) != 1)
        g->fd = -1;
    else
        set_read_slice(g->fd);
    ber_sockbuf_add_io(sb, &guard_io, LBER_SBIOD_LEVEL_PROVIDER + 1, g);
    g->arm();
    return 0;
}
void on_disconnect(LDAP *, Sockbuf *, ldap_conncb *) {}

} // namespace

bool LdapHandle::install_guard(timeval timeout) {
    guard.timeout = timeout;
    cb.lc_add = on_connect;
    cb.lc_del = on_disconnect;
    cb.lc_arg = &guard;
    return ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &cb) == LDAP_OPT_SUCCESS;
}

} // namespace lhc

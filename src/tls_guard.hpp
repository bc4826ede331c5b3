// The TLS handshake bounded by a deadline, and the libldap handle that carries it.
#pragma once

#include "clock.hpp"

#include <ldap.h>
#include <optional>
#include <string>
#include <sys/time.h>

namespace lhc {

// Bounds the TLS handshakes (ldaps:// at connect, StartTLS in ldap_install_tls()). libldap
// switches the socket to non-blocking for them and gnutls then retries EAGAIN in a tight loop
// with no deadline: against a server that accepts TCP and never answers it spins forever
// (that is where Postfix's own lookups hang). This I/O layer sits under TLS and turns EAGAIN
// into a poll() bounded by the deadline, then ETIMEDOUT.
struct HandshakeGuard {
    int fd = -1;
    timeval timeout{};
    std::optional<TimePoint> deadline; // armed only while a handshake may run
    bool timed_out = false;

    void arm();
    void disarm() { deadline.reset(); }

    // After EAGAIN: true when the socket became ready in time, false (errno set) when not.
    bool wait(short events);
};

struct LdapHandle {
    LDAP *ld = nullptr;
    // libldap keeps pointers to both for as long as `ld` lives (the connect callback runs
    // again when the connection is freed, the I/O layer on the unbind): a handle kept idle
    // after its round must carry them along.
    HandshakeGuard guard;
    ldap_conncb cb{};
    std::string url; // the server_host URL it is connected to
    LdapHandle() = default;
    // Makes libldap push the guard under TLS on every connection `ld` opens.
    bool install_guard(timeval timeout);
    LdapHandle(const LdapHandle &) = delete;
    LdapHandle &operator=(const LdapHandle &) = delete;
    ~LdapHandle() {
        if (ld)
            ldap_unbind_ext(ld, nullptr, nullptr);
    }
};

} // namespace lhc

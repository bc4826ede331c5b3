// What the libldap installed on this host does differently from one release to the next,
// where Postfix's lookups inherit the difference. Decided at run time from the library the
// process loaded (the one Postfix's dict_ldap loads too), never from the build host.
#pragma once

#include <string>

namespace lhc {

struct LibldapRelease {
    int vendor_version = 0; // LDAP_VENDOR_VERSION of the loaded library: 20513 for 2.5.13

    // "2.6.10"
    std::string name() const;

    // libldap 2.6 (Debian 13) bounds an ldaps:// handshake by LDAP_OPT_NETWORK_TIMEOUT (the
    // table's timeout) where that is 0 or more, and goes on to the next server_host URL;
    // 2.5 (Debian 12) waits for the handshake without end, so Postfix's lookups hang on the
    // first server that does not answer it and never reach the next.
    bool bounds_tls_handshake() const { return vendor_version >= 20600; }
};

// The loaded library's, read once.
const LibldapRelease &installed_libldap();

} // namespace lhc

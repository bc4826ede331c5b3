#include "libldap_release.hpp"

#include <gtest/gtest.h>
#include <ldap.h>

using lhc::LibldapRelease;

// Debian 12's libldap waits for an unanswered ldaps:// handshake for good; Debian 13's ends it
// at the network timeout (postmap found a key through the second URL there, conformance
// `two-ldaps` in the hung state).
TEST(LibldapRelease, OnlyTwoSixAndLaterBoundTheTlsHandshake) {
    EXPECT_FALSE((LibldapRelease{20513}).bounds_tls_handshake()); // bookworm: 2.5.13
    EXPECT_FALSE((LibldapRelease{20599}).bounds_tls_handshake());
    EXPECT_TRUE((LibldapRelease{20600}).bounds_tls_handshake());
    EXPECT_TRUE((LibldapRelease{20610}).bounds_tls_handshake()); // trixie: 2.6.10
}

TEST(LibldapRelease, NamedAsOpenLdapNamesItsReleases) {
    EXPECT_EQ((LibldapRelease{20610}).name(), "2.6.10");
    EXPECT_EQ((LibldapRelease{20513}).name(), "2.5.13");
}

// Read from the library the process loaded, which on a Debian host is the one the headers of
// the same release describe.
TEST(LibldapRelease, InstalledIsTheLoadedLibrary) {
    EXPECT_EQ(lhc::installed_libldap().vendor_version, LDAP_VENDOR_VERSION);
}

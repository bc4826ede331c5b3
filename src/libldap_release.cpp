#include "libldap_release.hpp"

#include <ldap.h>

namespace lhc {

std::string LibldapRelease::name() const {
    return std::to_string(vendor_version / 10000) + "." +
           std::to_string(vendor_version / 100 % 100) + "." + std::to_string(vendor_version % 100);
}

namespace {

LibldapRelease read_installed() {
    LibldapRelease r;
    LDAPAPIInfo info{};
    info.ldapai_info_version = LDAP_API_INFO_VERSION;
    if (ldap_get_option(nullptr, LDAP_OPT_API_INFO, &info) != LDAP_OPT_SUCCESS) {
        r.vendor_version = LDAP_VENDOR_VERSION; // the headers built against: the best guess left
        return r;
    }
    r.vendor_version = info.ldapai_vendor_version;
    if (info.ldapai_extensions) {
        for (char **e = info.ldapai_extensions; *e; ++e)
            ldap_memfree(*e);
        ldap_memfree(info.ldapai_extensions);
    }
    ldap_memfree(info.ldapai_vendor_name);
    return r;
}

} // namespace

const LibldapRelease &installed_libldap() {
    static const LibldapRelease r = read_installed();
    return r;
}

} // namespace lhc

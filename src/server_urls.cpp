#include "server_urls.hpp"

#include <ldap.h>
#include <strings.h>

namespace lhc {

namespace {

// What libldap's URL parser skips around a URL: an enclosing "<...>" and a "URL:" prefix.
std::string normalise_url(std::string url) {
    if (url.size() >= 2 && url.front() == '<' && url.back() == '>')
        url = url.substr(1, url.size() - 2);
    if (url.size() >= 4 && strncasecmp(url.c_str(), "URL:", 4) == 0)
        url.erase(0, 4);
    return url;
}

} // namespace

ServerList build_urls(const std::string &hosts, int port, const UrlWarn &warn) {
    ServerList list;
    const std::string seps = ", \t\r\n";
    std::size_t i = 0;
    while ((i = hosts.find_first_not_of(seps, i)) != std::string::npos) {
        std::size_t end = hosts.find_first_of(seps, i);
        std::string h = hosts.substr(i, end - i);
        i = end;
        if (!ldap_is_ldap_url(h.c_str())) {
            // Not checked here: libldap refuses a malformed one with the whole list.
            h = h.find(':') != std::string::npos ? "ldap://" + h
                                                 : "ldap://" + h + ":" + std::to_string(port);
            list.literal.push_back(h);
            list.normalised.push_back(h);
            continue;
        }
        LDAPURLDesc *desc = nullptr;
        if (int rc = ldap_url_parse(h.c_str(), &desc); rc != 0) {
            if (warn)
                warn("error parsing URL " + h + ": ldap_url_parse error " + std::to_string(rc) +
                     "; skipping");
            continue;
        }
        if (strcasecmp(desc->lud_scheme, "ldap") != 0 && warn)
            warn(std::string("URL scheme ") + desc->lud_scheme + " requires protocol version 3");
        ldap_free_urldesc(desc);
        list.literal.push_back(h);
        list.normalised.push_back(normalise_url(h));
    }
    return list;
}

std::string join_urls(const std::vector<std::string> &urls) {
    std::string out;
    for (const auto &s : urls)
        out += (out.empty() ? "" : " ") + s;
    return out;
}

// ldap_initialize() parses the list entry by entry, with the checks of ldap_url_parse(); it is
// not called here because creating a handle initialises libldap and SASL (loads every plugin),
// which a --check-config or a --once without SASL must not pay for.
std::string url_list_error(const std::vector<std::string> &literal) {
    for (const auto &url : literal) {
        LDAPURLDesc *desc = nullptr;
        int rc = ldap_url_parse(url.c_str(), &desc);
        if (desc)
            ldap_free_urldesc(desc);
        if (rc != LDAP_URL_SUCCESS)
            return url + ": ldap_url_parse error " + std::to_string(rc);
    }
    return "";
}

bool is_ldaps(const std::string &url) {
    return url.size() >= 8 && strncasecmp(url.c_str(), "ldaps://", 8) == 0;
}

} // namespace lhc

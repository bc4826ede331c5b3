#include "ldap_call.hpp"

#include "ldap_table.hpp"

namespace lhc {

namespace {

timeval seconds(int s) {
    return timeval{static_cast<time_t>(s), 0};
}

} // namespace

Waits::Waits(const LdapTable &t)
    : timeout(seconds(t.timeout)), bound(seconds(t.wait_seconds())),
      result(t.timeout < 0 ? bound : timeout) {}

timeval shorter(timeval tv, Duration d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us >= static_cast<long long>(tv.tv_sec) * 1000000 + tv.tv_usec)
        return tv;
    return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

int descriptor_of(LDAP *ld) {
    int fd = -1;
    if (!ld || ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
        return -1;
    return fd;
}

int error_of(LDAP *ld) {
    int rc = LDAP_OTHER;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
    return rc;
}

std::string diagnostic_of(LDAP *ld) {
    char *text = nullptr;
    std::string out;
    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) == LDAP_OPT_SUCCESS && text) {
        out = text;
        ldap_memfree(text);
    }
    return out;
}

Step await_result(LDAP *ld, int msgid, timeval timeout, LDAPMessage **res) {
    *res = nullptr;
    int got = ldap_result(ld, msgid, LDAP_MSG_ALL, &timeout, res);
    if (got == 0) {
        ldap_abandon_ext(ld, msgid, nullptr, nullptr);
        return {LDAP_TIMEOUT, "no answer within timeout"};
    }
    if (got < 0)
        return {error_of(ld), diagnostic_of(ld)};
    return {};
}

Step parse_result(LDAP *ld, LDAPMessage *res) {
    int err = LDAP_SUCCESS;
    char *text = nullptr;
    int rc = ldap_parse_result(ld, res, &err, nullptr, &text, nullptr, nullptr, 1);
    Step s{rc != LDAP_SUCCESS ? rc : err, text ? text : ""};
    if (text)
        ldap_memfree(text);
    return s;
}

} // namespace lhc

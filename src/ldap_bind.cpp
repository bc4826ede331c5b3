#include "ldap_bind.hpp"

#include "ldap_table.hpp"

#include <sasl/sasl.h>

namespace lhc {

namespace {

// Answers Cyrus SASL's prompts as Postfix does: bind_dn is the authentication id, bind_pw the
// password, sasl_realm and sasl_authz_id as given.
int interact(LDAP *, unsigned, void *defaults, void *in) {
    auto *t = static_cast<const LdapTable *>(defaults);
    for (auto *i = static_cast<sasl_interact_t *>(in); i->id != SASL_CB_LIST_END; ++i) {
        const std::string *v = nullptr;
        switch (i->id) {
        case SASL_CB_AUTHNAME:
            v = &t->bind_dn;
            break;
        case SASL_CB_PASS:
            v = &t->bind_pw.reveal();
            break;
        case SASL_CB_GETREALM:
            v = &t->sasl_realm;
            break;
        case SASL_CB_USER:
            v = &t->sasl_authz_id;
            break;
        default:
            break;
        }
        i->result = v ? v->c_str() : "";
        i->len = v ? static_cast<unsigned>(v->size()) : 0;
    }
    return LDAP_SUCCESS;
}

} // namespace

Step bind_simple(LDAP *ld, const LdapTable &t, const Waits &waits) {
    const std::string &pw = t.bind_pw.reveal();
    berval cred{static_cast<ber_len_t>(pw.size()), const_cast<char *>(pw.data())};
    int msgid = 0;
    int rc =
        ldap_sasl_bind(ld, t.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS)
        return {rc, diagnostic_of(ld)};
    LDAPMessage *res = nullptr;
    Step s = await_result(ld, msgid, waits.result, &res);
    return s.ok() ? parse_result(ld, res) : s;
}

Step bind_sasl(LDAP *ld, const LdapTable &t, const Waits &waits) {
    std::string secprops = "minssf=" + std::to_string(t.sasl_minssf);
    if (ldap_set_option(ld, LDAP_OPT_X_SASL_SECPROPS, secprops.c_str()) != LDAP_OPT_SUCCESS)
        return {LDAP_PARAM_ERROR, "cannot set sasl_minssf"};
    LDAPMessage *res = nullptr;
    const char *mech = nullptr;
    int msgid = 0;
    for (;;) {
        int rc = ldap_sasl_interactive_bind(ld, nullptr, t.sasl_mechs.c_str(), nullptr, nullptr,
                                            LDAP_SASL_QUIET, interact, const_cast<LdapTable *>(&t),
                                            res, &mech, &msgid);
        if (res)
            ldap_msgfree(res);
        res = nullptr;
        if (rc != LDAP_SASL_BIND_IN_PROGRESS)
            return rc == LDAP_SUCCESS ? Step{} : Step{rc, diagnostic_of(ld)};
        // Postfix's synchronous SASL bind has no timeout at all.
        Step s = await_result(ld, msgid, waits.bound, &res);
        if (!s.ok())
            return s;
    }
}

} // namespace lhc

#include "session.hpp"

#include "ldap_bind.hpp"
#include "libldap_release.hpp"

namespace lhc {

namespace {

Step handshake_failure(int rc, const LdapHandle &h) {
    if (h.guard.timed_out)
        return {LDAP_TIMEOUT, "no answer to the TLS handshake within timeout"};
    return {rc, diagnostic_of(h.ld)};
}

} // namespace

Session::Session(const ConnectionPlan &plan, Logger &log, StepWatch *watch)
    : plan_(plan), t_(plan.settings), log_(log), watch_(watch), waits_(plan.settings) {}

Step Session::open() {
    Step s = connect();
    if (s.ok() && t_.start_tls)
        s = step(ProbeStep::starttls, [&] { return start_tls(); });
    if (s.ok() && t_.bind != BindMode::none)
        s = step(ProbeStep::bind, [&] {
            return t_.bind == BindMode::sasl ? bind_sasl(ld(), t_, waits_)
                                             : bind_simple(ld(), t_, waits_);
        });
    return s;
}

void Session::resume(std::unique_ptr<LdapHandle> handle) {
    handle_ = std::move(handle);
    server_ = handle_->url;
}

void Session::begin(ProbeStep step) {
    begin(step, std::chrono::seconds(waits_.bound.tv_sec));
}

void Session::begin(ProbeStep step, Duration limit) {
    step_ = step;
    if (watch_)
        watch_->begin(step, server_, limit);
}

template <typename F> Step Session::step(ProbeStep name, F run) {
    begin(name);
    Step s = run();
    // Formatting costs more than the step itself on a kept connection: only when shown.
    if (s.ok() && log_.debug_enabled())
        log_.debug(msg() << server_ << ": " << step_name(name) << " ok");
    return s;
}

// Tries the URLs in order, as libldap does with Postfix's URL list: the next one only when the
// connection (including the ldaps:// handshake) cannot be made.
Step Session::connect() {
    step_ = ProbeStep::connect;
    Step last{LDAP_SERVER_DOWN, "no server_host"};
    for (const auto &url : plan_.urls) {
        server_ = url;
        begin(ProbeStep::connect);
        auto h = std::make_unique<LdapHandle>();
        int rc = ldap_initialize(&h->ld, url.c_str());
        if (rc != LDAP_SUCCESS) {
            last = {rc, "bad URL " + url};
            continue;
        }
        last = set_options(*h);
        if (last.ok()) {
            rc = ldap_connect(h->ld);
            h->guard.disarm();
            last = rc == LDAP_SUCCESS ? Step{} : handshake_failure(rc, *h);
        }
        if (last.ok()) {
            h->url = url;
            handle_ = std::move(h);
            log_.debug(msg() << url << ": connect ok");
            return last;
        }
        log_.debug(msg() << url << ": connect: " << ldap_err2string(last.rc)
                         << (last.diagnostic.empty() ? "" : ": ") << last.diagnostic);
        // Where Postfix's client never gets past an ldaps:// handshake the server does not
        // answer (it waits there for good), it never reaches the next URL either.
        if (h->guard.timed_out && !handshake_ends_at_timeout())
            return last;
    }
    return last;
}

// libldap 2.6 ends an unanswered ldaps:// handshake at LDAP_OPT_NETWORK_TIMEOUT and goes on to
// the next URL, but only when that timeout is not negative: Postfix sets it to `timeout`, and
// below 0 the handshake blocks, as under libldap 2.5 whatever the timeout.
bool Session::handshake_ends_at_timeout() const {
    return installed_libldap().bounds_tls_handshake() && t_.timeout >= 0;
}

// The table loader already raised version to 3 where Postfix does (ldaps://, ldapi://).
Step Session::set_options(LdapHandle &h) {
    LDAP *ld = h.ld;
    int version = t_.version;
    int deref = t_.dereference;
    // Postfix's value where libldap bounds the connect with it (0 fails at once, as for
    // Postfix); where libldap would wait without end (< 0), ours. LDAP_OPT_TIMEOUT, which
    // Postfix leaves unset, bounds the synchronous calls libldap makes on its own.
    timeval net = t_.timeout >= 0 ? waits_.timeout : waits_.bound;
    bool ok =
        ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) == LDAP_OPT_SUCCESS &&
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &waits_.bound) == LDAP_OPT_SUCCESS &&
        ldap_set_option(ld, LDAP_OPT_DEREF, &deref) == LDAP_OPT_SUCCESS &&
        ldap_set_option(ld, LDAP_OPT_REFERRALS, t_.chase_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF) ==
            LDAP_OPT_SUCCESS &&
        h.install_guard(waits_.bound);
    if (!ok)
        return {LDAP_PARAM_ERROR, "cannot set connection options"};
    return plan_.uses_tls() ? set_tls_options(ld) : Step{};
}

Step Session::set_tls_options(LDAP *ld) {
    auto set_str = [&](int option, const std::string &value, const char *name) -> Step {
        if (value.empty())
            return {};
        int rc = ldap_set_option(ld, option, value.c_str());
        if (rc != LDAP_OPT_SUCCESS)
            return {rc, std::string("cannot set ") + name + " to " + value};
        return {};
    };
    for (Step s : {set_str(LDAP_OPT_X_TLS_RANDOM_FILE, t_.tls_random_file, "tls_random_file"),
                   set_str(LDAP_OPT_X_TLS_CACERTFILE, t_.tls_ca_cert_file, "tls_ca_cert_file"),
                   set_str(LDAP_OPT_X_TLS_CACERTDIR, t_.tls_ca_cert_dir, "tls_ca_cert_dir"),
                   set_str(LDAP_OPT_X_TLS_CERTFILE, t_.tls_cert, "tls_cert"),
                   set_str(LDAP_OPT_X_TLS_KEYFILE, t_.tls_key, "tls_key"),
                   set_str(LDAP_OPT_X_TLS_CIPHER_SUITE, t_.tls_cipher_suite, "tls_cipher_suite")})
        if (!s.ok())
            return s;
    // Postfix maps its boolean onto HARD (yes) or NEVER (no: no certificate check at all).
    int require = t_.tls_require_cert ? LDAP_OPT_X_TLS_HARD : LDAP_OPT_X_TLS_NEVER;
    int am_server = 0;
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require) != LDAP_OPT_SUCCESS ||
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &am_server) != LDAP_OPT_SUCCESS)
        return {LDAP_LOCAL_ERROR, "cannot set up the TLS context (tls_* parameters)"};
    return {};
}

Step Session::start_tls() {
    LDAP *ld = handle_->ld;
    if (ldap_tls_inplace(ld))
        return {LDAP_LOCAL_ERROR, "TLS already started"};
    int msgid = 0;
    int rc = ldap_start_tls(ld, nullptr, nullptr, &msgid);
    if (rc != LDAP_SUCCESS)
        return {rc, diagnostic_of(ld)};
    // Postfix's ldap_start_tls_s() runs under alarm(timeout), which 0 or less disables.
    LDAPMessage *res = nullptr;
    Step s = await_result(ld, msgid, waits_.bound, &res);
    if (!s.ok())
        return s;
    s = parse_result(ld, res);
    if (!s.ok())
        return s;
    handle_->guard.arm();
    rc = ldap_install_tls(ld);
    handle_->guard.disarm();
    return rc == LDAP_SUCCESS ? Step{} : handshake_failure(rc, *handle_);
}

} // namespace lhc

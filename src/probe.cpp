#include "probe.hpp"

#include "config_error.hpp"
#include "query_expand.hpp"
#include "step_deadline.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <future>
#include <ldap.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sasl/sasl.h>
#include <sys/socket.h>
#include <tuple>

namespace lhc {

namespace {

constexpr const char *whitespace_or_comma = ", \t\r\n";

std::vector<std::string> split(const std::string &s, const char *separators) {
    std::vector<std::string> out;
    std::string::size_type pos = 0;
    while ((pos = s.find_first_not_of(separators, pos)) != std::string::npos) {
        auto end = s.find_first_of(separators, pos);
        out.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

bool is_ldaps(const std::string &url) {
    return url.size() >= 8 && strncasecmp(url.c_str(), "ldaps://", 8) == 0;
}

bool uses_tls(const ConnectionPlan &plan) {
    return plan.settings.start_tls || std::any_of(plan.urls.begin(), plan.urls.end(), is_ldaps);
}

// The fields of Postfix's own connection-sharing key (dict_ldap_conn_find), plus the timeout
// that bounds our probe. TLS settings count only when TLS is used, bind ones only when bound.
auto connection_key(const LdapTable &t, const std::vector<std::string> &urls) {
    bool tls = t.start_tls || std::any_of(urls.begin(), urls.end(), is_ldaps);
    bool bound = t.bind != BindMode::none;
    bool sasl = t.bind == BindMode::sasl;
    auto s = [](bool on, const std::string &v) { return on ? v : std::string(); };
    return std::make_tuple(urls, t.url_list(), t.version, t.timeout, static_cast<int>(t.bind),
                           s(bound, t.bind_dn), s(bound, t.bind_pw.reveal()), t.dereference,
                           t.chase_referrals, s(sasl, t.sasl_mechs), s(sasl, t.sasl_realm),
                           s(sasl, t.sasl_authz_id), sasl ? t.sasl_minssf : 0, t.start_tls,
                           tls && t.tls_require_cert, s(tls, t.tls_ca_cert_file),
                           s(tls, t.tls_ca_cert_dir), s(tls, t.tls_cert), s(tls, t.tls_key),
                           s(tls, t.tls_random_file), s(tls, t.tls_cipher_suite));
}

std::vector<std::string> result_attributes(const LdapTable &t) {
    std::vector<std::string> attrs;
    for (const auto *list : {&t.terminal_result_attribute, &t.leaf_result_attribute,
                             &t.result_attribute, &t.special_result_attribute})
        for (auto &a : split(*list, whitespace_or_comma))
            attrs.push_back(a);
    return attrs;
}

// The search Postfix would send for the probe key. The probe must always reach the server,
// so when Postfix would skip the query (a `domain` list without a usable literal domain, or
// an explicit key that does not fit) the default key is expanded without the domain check.
LdapQuery probe_query(const LdapTable &t, const std::string &requested_key, Logger &log) {
    std::string fallback = default_probe_key(t);
    if (!requested_key.empty()) {
        if (auto q = expand_query(t, requested_key))
            return *q;
        log.warning(msg() << t.path << ": Postfix would not query the server for probe key \""
                          << requested_key << "\" (domain or % expansion); probing with \""
                          << fallback << "\" instead");
    }
    if (auto q = expand_query(t, fallback))
        return *q;
    std::string key = fold_key(fallback);
    auto base = expand_template(t.search_base, key, Escape::dn);
    auto filter = expand_template(t.query_filter, key, Escape::filter);
    if (!base || !filter)
        throw ConfigError(t.path, 0,
                          "no probe key makes Postfix query this table; set --probe-key");
    log.info(msg() << t.path << ": the domain list names no literal domain; probing with \""
                   << fallback << "\", bypassing the domain check");
    return LdapQuery{*base, *filter};
}

SearchPlan plan_search(const LdapTable &t, const std::string &requested_key, Logger &log) {
    LdapQuery q = probe_query(t, requested_key, log);
    SearchPlan p;
    p.tables = t.path;
    p.scope = t.scope;
    p.base = q.base;
    p.filter = q.filter;
    p.dynamic_base = has_dynamic_base(t);
    p.attributes = result_attributes(t);
    p.size_limit = t.size_limit;
    return p;
}

bool same_search(const SearchPlan &a, const SearchPlan &b) {
    return std::tie(a.base, a.scope, a.filter, a.dynamic_base, a.attributes, a.size_limit) ==
           std::tie(b.base, b.scope, b.filter, b.dynamic_base, b.attributes, b.size_limit);
}

// ---- one connection ---------------------------------------------------------------------

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

    void arm() {
        timed_out = false;
        deadline = Clock::now() + std::chrono::seconds(timeout.tv_sec) +
                   std::chrono::microseconds(timeout.tv_usec);
    }
    void disarm() { deadline.reset(); }

    // After EAGAIN: true when the socket became ready in time, false (errno set) when not.
    bool wait(short events) {
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
};

struct LdapHandle {
    LDAP *ld = nullptr;
    // libldap keeps pointers to both for as long as `ld` lives (the connect callback runs
    // again when the connection is freed, the I/O layer on the unbind): a handle kept idle
    // after its round must carry them along.
    HandshakeGuard guard;
    ldap_conncb cb{};
    LdapHandle() = default;
    LdapHandle(const LdapHandle &) = delete;
    LdapHandle &operator=(const LdapHandle &) = delete;
    ~LdapHandle() {
        if (ld)
            ldap_unbind_ext(ld, nullptr, nullptr);
    }
};

timeval seconds(int s) {
    return timeval{static_cast<time_t>(s), 0};
}

int descriptor_of(LDAP *ld) {
    int fd = -1;
    if (!ld || ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
        return -1;
    return fd;
}

} // namespace

struct IdleConnection {
    mutable std::mutex mutex;
    std::unique_ptr<LdapHandle> handle;
    int fd = -1;

    void keep(std::unique_ptr<LdapHandle> h) {
        std::lock_guard lock(mutex);
        fd = descriptor_of(h->ld);
        handle = std::move(h);
    }
    void drop() {
        std::lock_guard lock(mutex);
        handle.reset();
        fd = -1;
    }
};

namespace {

std::string diagnostic_of(LDAP *ld) {
    char *text = nullptr;
    std::string out;
    if (ld && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &text) == LDAP_OPT_SUCCESS && text) {
        out = text;
        ldap_memfree(text);
    }
    return out;
}

int error_of(LDAP *ld) {
    int rc = LDAP_OTHER;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
    return rc;
}

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

ber_slen_t guard_read(Sockbuf_IO_Desc *d, void *buf, ber_len_t len) {
    auto *g = static_cast<HandshakeGuard *>(d->sbiod_pvt);
    for (;;) {
        ber_slen_t n = LBER_SBIOD_READ_NEXT(d, buf, len);
        if (n >= 0 || !would_block() || !g->deadline)
            return n;
        if (!g->wait(POLLIN))
            return -1;
    }
}

ber_slen_t guard_write(Sockbuf_IO_Desc *d, void *buf, ber_len_t len) {
    auto *g = static_cast<HandshakeGuard *>(d->sbiod_pvt);
    for (;;) {
        ber_slen_t n = LBER_SBIOD_WRITE_NEXT(d, buf, len);
        if (n >= 0 || !would_block() || !g->deadline)
            return n;
        if (!g->wait(POLLOUT))
            return -1;
    }
}

Sockbuf_IO guard_io = {guard_setup, guard_remove, guard_ctrl, guard_read, guard_write, guard_close};

// Called by libldap for every connection it opens, before any TLS layer is pushed.
int on_connect(LDAP *, Sockbuf *sb, LDAPURLDesc *, sockaddr *, ldap_conncb *cb) {
    auto *g = static_cast<HandshakeGuard *>(cb->lc_arg);
    if (ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &g->fd) != 1)
        g->fd = -1;
    ber_sockbuf_add_io(sb, &guard_io, LBER_SBIOD_LEVEL_PROVIDER + 1, g);
    g->arm();
    return 0;
}
void on_disconnect(LDAP *, Sockbuf *, ldap_conncb *) {}

struct Step {
    int rc = LDAP_SUCCESS;
    std::string diagnostic;
    bool ok() const { return rc == LDAP_SUCCESS; }
};

// Waits for the answer to `msgid` at most `timeout`, like Postfix's dict_ldap_result().
Step await_result(LDAP *ld, int msgid, timeval timeout, LDAPMessage **res, bool all = true) {
    *res = nullptr;
    int got = ldap_result(ld, msgid, all ? LDAP_MSG_ALL : LDAP_MSG_ONE, &timeout, res);
    if (got == 0) {
        ldap_abandon_ext(ld, msgid, nullptr, nullptr);
        return {LDAP_TIMEOUT, "no answer within timeout"};
    }
    if (got < 0)
        return {error_of(ld), diagnostic_of(ld)};
    return {};
}

Step parse(LDAP *ld, LDAPMessage *res, bool free_it) {
    int err = LDAP_SUCCESS;
    char *text = nullptr;
    int rc = ldap_parse_result(ld, res, &err, nullptr, &text, nullptr, nullptr, free_it ? 1 : 0);
    Step s{rc != LDAP_SUCCESS ? rc : err, text ? text : ""};
    if (text)
        ldap_memfree(text);
    return s;
}

class Connection {
  public:
    Connection(const ConnectionPlan &plan, Logger &log, IdleConnection *idle, StepWatch *watch)
        : plan_(plan), t_(plan.settings), log_(log), timeout_(seconds(t_.timeout)),
          wait_(seconds(t_.wait_seconds())), idle_(idle), watch_(watch) {}

    std::vector<ProbeResult> run() {
        auto start = Clock::now();
        auto results = plan_.init_error.empty() ? attempt() : unusable_url_list();
        // Postfix reconnects once when the server went away between bind and search.
        bool lost = std::any_of(results.begin(), results.end(), [](const ProbeResult &r) {
            return r.step == "search" && r.ldap_code == LDAP_SERVER_DOWN;
        });
        if (lost) {
            log_.debug(msg() << server_ << ": connection lost during search, reconnecting once");
            results = attempt();
        }
        auto latency = Clock::now() - start;
        for (auto &r : results)
            r.latency = latency;
        return results;
    }

  private:
    // Postfix hands the whole list to ldap_initialize(): one bad entry fails every lookup.
    std::vector<ProbeResult> unusable_url_list() {
        server_ = t_.url_list();
        Step s{LDAP_PARAM_ERROR, "Unable to init LDAP server: libldap refuses the server_host "
                                 "list (" +
                                     plan_.init_error + ")"};
        std::vector<ProbeResult> out;
        for (const auto &search : plan_.searches)
            out.push_back(failure(search, s));
        return out;
    }

    std::vector<ProbeResult> attempt() {
        handle_ = std::make_unique<LdapHandle>();
        Step s = connect();
        if (s.ok() && t_.start_tls)
            s = step("starttls", [&] { return start_tls(); });
        if (s.ok() && t_.bind != BindMode::none)
            s = step("bind",
                     [&] { return t_.bind == BindMode::sasl ? bind_sasl() : bind_simple(); });
        std::vector<ProbeResult> out;
        for (const auto &search : plan_.searches)
            out.push_back(s.ok() ? run_search(search) : failure(search, s));
        bool good = std::all_of(out.begin(), out.end(), [](auto &r) { return r.healthy; });
        if (idle_ && good && handle_)
            idle_->keep(std::move(handle_));
        handle_.reset();
        return out;
    }

    // Every step is announced with its limit, so that a wait libldap does not bound (name
    // resolution, a referral's bind) still ends there.
    void begin(const char *name) {
        step_ = name;
        if (watch_)
            watch_->begin(name, server_, std::chrono::seconds(wait_.tv_sec));
    }

    template <typename F> Step step(const char *name, F run) {
        begin(name);
        Step s = run();
        if (s.ok())
            log_.debug(msg() << server_ << ": " << name << " ok");
        return s;
    }

    ProbeResult failure(const SearchPlan &search, const Step &s) const {
        ProbeResult r;
        r.healthy = false;
        r.tables = search.tables;
        r.server = server_;
        r.step = step_;
        r.ldap_code = s.rc;
        r.diagnostic = s.diagnostic;
        return r;
    }

    // The table loader already raised version to 3 where Postfix does (ldaps://, ldapi://).
    Step set_options(LdapHandle &h) {
        LDAP *ld = h.ld;
        h.guard.timeout = wait_;
        h.cb.lc_add = on_connect;
        h.cb.lc_del = on_disconnect;
        h.cb.lc_arg = &h.guard;
        int version = t_.version;
        int deref = t_.dereference;
        // Postfix's value where libldap bounds the connect with it (0 fails at once, as for
        // Postfix); where libldap would wait without end (< 0), ours. LDAP_OPT_TIMEOUT, which
        // Postfix leaves unset, bounds the synchronous calls libldap makes on its own.
        timeval net = t_.timeout >= 0 ? timeout_ : wait_;
        bool ok =
            ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_TIMEOUT, &wait_) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_DEREF, &deref) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_REFERRALS,
                            t_.chase_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
            ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &h.cb) == LDAP_OPT_SUCCESS;
        if (!ok)
            return {LDAP_PARAM_ERROR, "cannot set connection options"};
        return uses_tls(plan_) ? set_tls_options(ld) : Step{};
    }

    Step set_tls_options(LDAP *ld) {
        auto set_str = [&](int option, const std::string &value, const char *name) -> Step {
            if (value.empty())
                return {};
            int rc = ldap_set_option(ld, option, value.c_str());
            if (rc != LDAP_OPT_SUCCESS)
                return {rc, std::string("cannot set ") + name + " to " + value};
            return {};
        };
        for (Step s :
             {set_str(LDAP_OPT_X_TLS_RANDOM_FILE, t_.tls_random_file, "tls_random_file"),
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

    // Tries the URLs in order, as libldap does with Postfix's URL list: the next one only
    // when the connection (including the ldaps:// handshake) cannot be made.
    Step connect() {
        step_ = "connect";
        Step last{LDAP_SERVER_DOWN, "no server_host"};
        for (const auto &url : plan_.urls) {
            server_ = url;
            begin("connect");
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
                handle_ = std::move(h);
                log_.debug(msg() << url << ": connect ok");
                return last;
            }
            log_.debug(msg() << url << ": connect: " << ldap_err2string(last.rc)
                             << (last.diagnostic.empty() ? "" : ": ") << last.diagnostic);
            // Postfix's client never gets past an ldaps:// handshake the server does not
            // answer (it waits there for good), so it never reaches the next URL either.
            if (h->guard.timed_out)
                return last;
        }
        return last;
    }

    static Step handshake_failure(int rc, const LdapHandle &h) {
        if (h.guard.timed_out)
            return {LDAP_TIMEOUT, "no answer to the TLS handshake within timeout"};
        return {rc, diagnostic_of(h.ld)};
    }

    Step start_tls() {
        LDAP *ld = handle_->ld;
        if (ldap_tls_inplace(ld))
            return {LDAP_LOCAL_ERROR, "TLS already started"};
        int msgid = 0;
        int rc = ldap_start_tls(ld, nullptr, nullptr, &msgid);
        if (rc != LDAP_SUCCESS)
            return {rc, diagnostic_of(ld)};
        // Postfix's ldap_start_tls_s() runs under alarm(timeout), which 0 or less disables.
        LDAPMessage *res = nullptr;
        Step s = await_result(ld, msgid, wait_, &res);
        if (!s.ok())
            return s;
        s = parse(ld, res, true);
        if (!s.ok())
            return s;
        handle_->guard.arm();
        rc = ldap_install_tls(ld);
        handle_->guard.disarm();
        return rc == LDAP_SUCCESS ? Step{} : handshake_failure(rc, *handle_);
    }

    Step bind_simple() {
        LDAP *ld = handle_->ld;
        const std::string &pw = t_.bind_pw.reveal();
        berval cred{static_cast<ber_len_t>(pw.size()), const_cast<char *>(pw.data())};
        int msgid = 0;
        int rc = ldap_sasl_bind(ld, t_.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr,
                                &msgid);
        if (rc != LDAP_SUCCESS)
            return {rc, diagnostic_of(ld)};
        LDAPMessage *res = nullptr;
        Step s = await_result(ld, msgid, result_wait(), &res);
        return s.ok() ? parse(ld, res, true) : s;
    }

    // Answers Cyrus SASL's prompts as Postfix does: bind_dn is the authentication id,
    // bind_pw the password, sasl_realm and sasl_authz_id as given.
    static int interact(LDAP *, unsigned, void *defaults, void *in) {
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

    // The asynchronous form of ldap_sasl_interactive_bind_s(), so that every round trip is
    // bounded by the timeout (Postfix's synchronous call is not, and hangs on a stopped server).
    Step bind_sasl() {
        LDAP *ld = handle_->ld;
        std::string secprops = "minssf=" + std::to_string(t_.sasl_minssf);
        if (ldap_set_option(ld, LDAP_OPT_X_SASL_SECPROPS, secprops.c_str()) != LDAP_OPT_SUCCESS)
            return {LDAP_PARAM_ERROR, "cannot set sasl_minssf"};
        LDAPMessage *res = nullptr;
        const char *mech = nullptr;
        int msgid = 0;
        for (;;) {
            int rc = ldap_sasl_interactive_bind(ld, nullptr, t_.sasl_mechs.c_str(), nullptr,
                                                nullptr, LDAP_SASL_QUIET, interact,
                                                const_cast<LdapTable *>(&t_), res, &mech, &msgid);
            if (res)
                ldap_msgfree(res);
            res = nullptr;
            if (rc != LDAP_SASL_BIND_IN_PROGRESS)
                return rc == LDAP_SUCCESS ? Step{} : Step{rc, diagnostic_of(ld)};
            // Postfix's synchronous SASL bind has no timeout at all.
            Step s = await_result(ld, msgid, wait_, &res);
            if (!s.ok())
                return s;
        }
    }

    ProbeResult run_search(const SearchPlan &search) {
        begin("search");
        LDAP *ld = handle_->ld;
        std::vector<char *> attrs;
        for (const auto &a : search.attributes)
            attrs.push_back(const_cast<char *>(a.c_str()));
        attrs.push_back(nullptr);
        // As Postfix: the time limit is the raw timeout (0 is refused by libldap), and the size
        // limit goes through the option, so a negative one reaches the server as it is.
        timeval tv = timeout_;
        int msgid = 0;
        int size = search.size_limit ? search.size_limit : LDAP_NO_LIMIT;
        Step s;
        int rc = ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &size);
        if (rc == LDAP_OPT_SUCCESS)
            rc =
                ldap_search_ext(ld, search.base.c_str(), scope(search.scope), search.filter.c_str(),
                                attrs.data(), 0, nullptr, nullptr, &tv, -1, &msgid);
        LDAPMessage *res = nullptr;
        s = rc == LDAP_SUCCESS ? await_result(ld, msgid, result_wait(), &res)
                               : Step{rc, diagnostic_of(ld)};
        ProbeResult r = failure(search, s);
        if (s.ok()) {
            r.entries = ldap_count_entries(ld, res);
            if (LDAPMessage *e = ldap_first_entry(ld, res)) {
                char *dn = ldap_get_dn(ld, e);
                r.first_dn = dn ? dn : "";
                ldap_memfree(dn);
            }
            s = parse(ld, res, true);
            r.ldap_code = s.rc;
            r.diagnostic = s.diagnostic;
        } else if (res) {
            ldap_msgfree(res);
        }
        // Postfix: a missing base that depends on the key is "not found"; any other error
        // (size limit, time limit, a missing fixed base, ...) is a temporary failure.
        r.healthy = s.ok() || (s.rc == LDAP_NO_SUCH_OBJECT && search.dynamic_base);
        log_.debug(msg() << server_ << ": search base=\"" << search.base << "\" filter=\""
                         << search.filter << "\": " << (r.healthy ? "ok" : ldap_err2string(s.rc))
                         << ", " << r.entries << (r.entries == 1 ? " entry" : " entries")
                         << (r.first_dn.empty() ? "" : ", dn=" + r.first_dn));
        return r;
    }

    static int scope(Scope s) {
        switch (s) {
        case Scope::base:
            return LDAP_SCOPE_BASE;
        case Scope::one:
            return LDAP_SCOPE_ONELEVEL;
        case Scope::sub:
            break;
        }
        return LDAP_SCOPE_SUBTREE;
    }

    // Postfix's dict_ldap_result() waits with the raw timeout; libldap reads -1 as "forever".
    timeval result_wait() const { return t_.timeout == -1 ? wait_ : timeout_; }

    const ConnectionPlan &plan_;
    const LdapTable &t_;
    Logger &log_;
    timeval timeout_; // the table's own value, where Postfix passes it to libldap
    timeval wait_;    // the bound of every wait Postfix leaves unbounded (always > 0)
    IdleConnection *idle_;
    StepWatch *watch_;
    std::unique_ptr<LdapHandle> handle_;
    std::string server_;
    std::string step_ = "connect";
};

} // namespace

std::string ProbeResult::describe() const {
    if (healthy)
        return server + ": ok";
    std::string out = step + " " + server + ": " + ldap_err2string(ldap_code);
    if (!diagnostic.empty())
        out += ": " + diagnostic;
    return out;
}

bool RoundResult::healthy() const {
    return !probes.empty() &&
           std::all_of(probes.begin(), probes.end(), [](const auto &p) { return p.healthy; });
}

std::string RoundResult::first_failure() const {
    for (const auto &p : probes)
        if (!p.healthy)
            return p.tables + ": " + p.describe();
    return probes.empty() ? "no table to probe" : "";
}

std::vector<ConnectionPlan> plan_probes(const std::vector<LdapTable> &tables,
                                        const std::string &probe_key, Logger &log) {
    std::vector<ConnectionPlan> plans;
    for (const auto &t : tables) {
        auto urls = t.urls();
        auto key = connection_key(t, urls);
        auto it = std::find_if(plans.begin(), plans.end(), [&](const ConnectionPlan &p) {
            return connection_key(p.settings, p.urls) == key;
        });
        if (it == plans.end()) {
            plans.push_back(ConnectionPlan{t, urls, {}, t.url_list_error()});
            it = plans.end() - 1;
        }
        SearchPlan search = plan_search(t, probe_key, log);
        auto same = std::find_if(it->searches.begin(), it->searches.end(),
                                 [&](const SearchPlan &s) { return same_search(s, search); });
        if (same == it->searches.end())
            it->searches.push_back(search);
        else
            same->tables += ", " + t.path;
    }
    return plans;
}

std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log) {
    return Connection(plan, log, nullptr, nullptr).run();
}

namespace {

// libldap's own timeouts end a step first; this only covers scheduling and start-up.
constexpr Duration step_grace = std::chrono::milliseconds(500);

std::vector<ProbeResult> all_failed(const ConnectionPlan &plan, const std::string &step,
                                    const std::string &server, const std::string &why) {
    std::vector<ProbeResult> out;
    for (const auto &search : plan.searches) {
        ProbeResult r;
        r.tables = search.tables;
        r.server = server;
        r.step = step;
        r.ldap_code = LDAP_TIMEOUT;
        r.diagnostic = why;
        out.push_back(std::move(r));
    }
    return out;
}

std::string overrun_text(const Overrun &o) {
    std::string what =
        "no answer within " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o.limit).count()) + " s";
    if (o.step == "connect")
        what += " (name resolution, TCP connect or TLS handshake)";
    return what;
}

// The worker owns what it uses: left behind on an overrun, it may outlive this round and the
// prober (a reload), until libldap returns.
std::vector<ProbeResult> probe_bounded(std::shared_ptr<const ConnectionPlan> plan, Logger &log,
                                       std::shared_ptr<IdleConnection> idle) {
    std::string first = plan->urls.empty() ? plan->settings.server_host : plan->urls.front();
    if (int n = stragglers(); n >= max_stragglers)
        return all_failed(*plan, "connect", first,
                          std::to_string(n) + " earlier probes still wait for an answer; no new "
                                              "connection until one of them ends");
    auto start = Clock::now();
    auto results = std::make_shared<std::vector<ProbeResult>>();
    auto overrun = run_with_step_deadlines(
        [plan, &log, idle, results](StepWatch &watch) {
            *results = Connection(*plan, log, idle.get(), &watch).run();
            watch.finish();
        },
        step_grace);
    if (!overrun)
        return std::move(*results);
    log.debug(msg() << overrun->server << ": " << overrun->step << ": " << overrun_text(*overrun)
                    << ", leaving that probe behind");
    auto out = all_failed(*plan, overrun->step, overrun->server, overrun_text(*overrun));
    for (auto &r : out)
        r.latency = Clock::now() - start;
    return out;
}

} // namespace

LdapProber::LdapProber(std::vector<ConnectionPlan> plans, Logger &log, bool keep_idle) : log_(log) {
    for (auto &p : plans) {
        plans_.push_back(std::make_shared<const ConnectionPlan>(std::move(p)));
        if (keep_idle)
            idle_.push_back(std::make_shared<IdleConnection>());
    }
}

LdapProber::~LdapProber() = default;

std::vector<int> LdapProber::watch_fds() const {
    std::vector<int> fds;
    for (const auto &idle : idle_) {
        std::lock_guard lock(idle->mutex);
        if (idle->fd >= 0)
            fds.push_back(idle->fd);
    }
    return fds;
}

bool LdapProber::connection_closed() {
    bool any = false;
    for (auto &idle : idle_) {
        std::unique_lock lock(idle->mutex);
        if (idle->fd < 0)
            continue;
        pollfd p{idle->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0) {
            lock.unlock();
            idle->drop();
            any = true;
        }
    }
    return any;
}

RoundResult LdapProber::probe_round() {
    auto start = Clock::now();
    RoundResult round;
    auto idle = [this](std::size_t i) { return idle_.empty() ? nullptr : idle_[i]; };
    if (plans_.size() == 1) {
        round.probes = probe_bounded(plans_.front(), log_, idle(0));
    } else {
        // Connections are probed side by side: a hung server costs one timeout, not one each.
        std::vector<std::future<std::vector<ProbeResult>>> pending;
        for (std::size_t i = 0; i < plans_.size(); ++i)
            pending.push_back(
                std::async(std::launch::async, probe_bounded, plans_[i], std::ref(log_), idle(i)));
        for (auto &f : pending)
            for (auto &r : f.get())
                round.probes.push_back(std::move(r));
    }
    round.latency = Clock::now() - start;
    return round;
}

// Saturating: "timeout = 2147483647" times a few steps does not fit in nanoseconds.
Duration LdapProber::worst_case() const {
    double worst = 0;
    for (const auto &p : plans_) {
        // Each URL's connect (with its TLS handshake), StartTLS, the bind and every search
        // are each bounded by the wait bound (plus the step's grace).
        auto steps = p->urls.size() + (p->settings.start_tls ? 1 : 0) +
                     (p->settings.bind != BindMode::none ? 1 : 0) + p->searches.size();
        double step =
            p->settings.wait_seconds() + std::chrono::duration<double>(step_grace).count();
        worst = std::max(worst, step * static_cast<double>(steps));
    }
    constexpr double max_seconds = 1e9; // 31 years: "never" for any watchdog
    if (worst >= max_seconds)
        return Duration::max();
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(worst));
}

std::string LdapProber::summary() const {
    std::size_t searches = 0;
    for (const auto &p : plans_)
        searches += p->searches.size();
    return std::to_string(searches) + (searches == 1 ? " search" : " searches") + " on " +
           std::to_string(plans_.size()) + (plans_.size() == 1 ? " connection" : " connections");
}

} // namespace lhc

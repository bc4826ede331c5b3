#include "connection.hpp"

#include "libldap_release.hpp"
#include "result_values.hpp"

#include <algorithm>
#include <cstring>
#include <ldap.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <sys/socket.h>

namespace lhc {

namespace {

timeval seconds(int s) {
    return timeval{static_cast<time_t>(s), 0};
}

int descriptor_of(LDAP *ld) {
    int fd = -1;
    if (!ld || ldap_get_option(ld, LDAP_OPT_DESC, &fd) != LDAP_OPT_SUCCESS)
        return -1;
    return fd;
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

int error_of(LDAP *ld) {
    int rc = LDAP_OTHER;
    if (ld)
        ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &rc);
    return rc;
}

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

// The entries of a search result with their values, as dict_ldap_get_values() reads them (a
// value is a C string there: it ends at a NUL byte).
std::vector<ResultEntry> read_entries(LDAP *ld, LDAPMessage *res) {
    std::vector<ResultEntry> out;
    for (LDAPMessage *e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        ResultEntry entry;
        if (char *dn = ldap_get_dn(ld, e)) {
            entry.dn = dn;
            ldap_memfree(dn);
        }
        BerElement *ber = nullptr;
        for (char *a = ldap_first_attribute(ld, e, &ber); a; a = ldap_next_attribute(ld, e, ber)) {
            std::vector<std::string> values;
            if (berval **vals = ldap_get_values_len(ld, e, a)) {
                for (int i = 0; vals[i]; ++i)
                    values.emplace_back(vals[i]->bv_val, strnlen(vals[i]->bv_val, vals[i]->bv_len));
                ldap_value_free_len(vals);
            }
            entry.attributes.emplace_back(a, std::move(values));
            ldap_memfree(a);
        }
        if (ber)
            ber_free(ber, 0);
        out.push_back(std::move(entry));
    }
    return out;
}

timeval shorter(timeval tv, Duration d) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    if (us >= static_cast<long long>(tv.tv_sec) * 1000000 + tv.tv_usec)
        return tv;
    return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

class Connection {
  public:
    Connection(const ConnectionPlan &plan, Logger &log, KeptConnection *kept, StepWatch *watch)
        : plan_(plan), t_(plan.settings), log_(log), timeout_(seconds(t_.timeout)),
          wait_(seconds(t_.wait_seconds())), kept_(kept), watch_(watch) {}

    std::vector<ProbeResult> run(ProbeMode mode) {
        auto start = Clock::now();
        if (!plan_.init_error.empty())
            return timed(unusable_url_list(), start);
        if (mode == ProbeMode::kept)
            if (auto results = run_kept())
                return std::move(*results);
        auto results = attempt();
        // Postfix reconnects once when the server went away between bind and search.
        bool lost = std::any_of(results.begin(), results.end(), [](const ProbeResult &r) {
            return r.step == ProbeStep::search && r.ldap_code == LDAP_SERVER_DOWN;
        });
        if (lost) {
            log_.debug(msg() << server_ << ": connection lost during search, reconnecting once");
            results = attempt();
        }
        return timed(std::move(results), start);
    }

    // The searches on the kept connection, or nullopt when there is none or it failed in a
    // way that the full path must judge.
    std::optional<std::vector<ProbeResult>> run_kept() {
        auto start = Clock::now();
        if (!take_kept())
            return std::nullopt;
        auto results = on_kept_connection();
        if (needs_full_path(results))
            return std::nullopt;
        return timed(std::move(results), start);
    }

    // ---- a round on the kept connection driven by the caller's loop, without a thread ----

    // Sends every search on the kept connection; false when there is none.
    bool send_kept() {
        if (!take_kept())
            return false;
        start_ = Clock::now();
        for (const auto &search : plan_.searches) {
            Pending p;
            p.search = &search;
            p.sent = send_search(search, &p.msgid);
            pending_.push_back(std::move(p));
        }
        return true;
    }

    int kept_fd() const { return handle_ ? descriptor_of(handle_->ld) : -1; }

    // Takes what has arrived, without waiting: the verdicts once every search is answered,
    // with `give_up` the searches still open as timeouts. nullopt while some are open.
    std::optional<std::vector<ProbeResult>> collect(bool give_up) {
        bool open = false;
        for (auto &p : pending_) {
            if (!p.result)
                p.result = answer(p, give_up);
            open = open || !p.result;
        }
        if (open)
            return std::nullopt;
        std::vector<ProbeResult> out;
        for (auto &p : pending_)
            out.push_back(std::move(*p.result));
        pending_.clear();
        bool good = std::all_of(out.begin(), out.end(), [](auto &r) { return r.healthy; });
        if (good)
            kept_->keep(std::move(handle_));
        handle_.reset();
        return timed(std::move(out), start_);
    }

    // A kept connection can fail where a new one would not (the server closed it, restarted,
    // changed its mind): only the full path decides, at once. A timeout already cost the
    // round its time, and the next round takes the full path anyway.
    bool needs_full_path(const std::vector<ProbeResult> &results) const {
        bool failed =
            std::any_of(results.begin(), results.end(), [](auto &r) { return !r.healthy; });
        bool timed_out = std::any_of(results.begin(), results.end(),
                                     [](auto &r) { return r.ldap_code == LDAP_TIMEOUT; });
        if (failed && !timed_out)
            log_.debug(msg() << server_ << ": the kept connection failed, taking the full path");
        return failed && !timed_out;
    }

  private:
    // Takes the kept connection, if any.
    bool take_kept() {
        if (!kept_ || !(handle_ = kept_->take()))
            return false;
        server_ = handle_->url;
        return true;
    }

    struct Pending {
        const SearchPlan *search = nullptr;
        Step sent;
        int msgid = 0;
        std::optional<ProbeResult> result;
    };

    std::optional<ProbeResult> answer(Pending &p, bool give_up) {
        if (!p.sent.ok())
            return judge(*p.search, p.sent, nullptr);
        LDAP *ld = handle_->ld;
        timeval zero{0, 0};
        LDAPMessage *res = nullptr;
        int got = ldap_result(ld, p.msgid, LDAP_MSG_ALL, &zero, &res);
        if (got == 0 && !give_up)
            return std::nullopt;
        if (got > 0)
            return judge(*p.search, Step{}, res);
        if (got == 0) {
            ldap_abandon_ext(ld, p.msgid, nullptr, nullptr);
            return judge(*p.search, {LDAP_TIMEOUT, "no answer within timeout"}, nullptr);
        }
        return judge(*p.search, {error_of(ld), diagnostic_of(ld)}, nullptr);
    }

    static std::vector<ProbeResult> timed(std::vector<ProbeResult> results, TimePoint start) {
        auto latency = Clock::now() - start;
        for (auto &r : results)
            r.latency = latency;
        return results;
    }

    // The searches alone, on the connection the last good probe bound; kept again when good.
    std::vector<ProbeResult> on_kept_connection() {
        std::vector<ProbeResult> out;
        for (const auto &search : plan_.searches)
            out.push_back(run_search(search));
        bool good = std::all_of(out.begin(), out.end(), [](auto &r) { return r.healthy; });
        if (good)
            kept_->keep(std::move(handle_));
        handle_.reset();
        return out;
    }

    // Postfix hands the whole list to ldap_initialize(): one bad entry fails every lookup.
    std::vector<ProbeResult> unusable_url_list() {
        server_ = t_.url_list();
        Step s{LDAP_PARAM_ERROR,
               "Unable to init LDAP server: libldap refuses the server_host list"};
        std::vector<ProbeResult> out;
        for (const auto &search : plan_.searches)
            out.push_back(failure(search, s));
        return out;
    }

    std::vector<ProbeResult> attempt() {
        handle_ = std::make_unique<LdapHandle>();
        Step s = connect();
        if (s.ok() && t_.start_tls)
            s = step(ProbeStep::starttls, [&] { return start_tls(); });
        if (s.ok() && t_.bind != BindMode::none)
            s = step(ProbeStep::bind,
                     [&] { return t_.bind == BindMode::sasl ? bind_sasl() : bind_simple(); });
        std::vector<ProbeResult> out;
        for (const auto &search : plan_.searches)
            out.push_back(s.ok() ? run_search(search) : failure(search, s));
        bool good = std::all_of(out.begin(), out.end(), [](auto &r) { return r.healthy; });
        if (kept_ && good && handle_)
            kept_->keep(std::move(handle_));
        handle_.reset();
        return out;
    }

    // Every step is announced with its limit, so that a wait libldap does not bound (name
    // resolution, a referral's bind) still ends there.
    void begin(ProbeStep step) {
        step_ = step;
        if (watch_)
            watch_->begin(step, server_, std::chrono::seconds(wait_.tv_sec));
    }

    template <typename F> Step step(ProbeStep name, F run) {
        begin(name);
        Step s = run();
        // Formatting costs more than the step itself on a kept connection: only when shown.
        if (s.ok() && log_.debug_enabled())
            log_.debug(msg() << server_ << ": " << step_name(name) << " ok");
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
            h.install_guard(wait_);
        if (!ok)
            return {LDAP_PARAM_ERROR, "cannot set connection options"};
        return plan_.uses_tls() ? set_tls_options(ld) : Step{};
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

    // libldap 2.6 ends an unanswered ldaps:// handshake at LDAP_OPT_NETWORK_TIMEOUT and goes
    // on to the next URL, but only when that timeout is not negative: Postfix sets it to
    // `timeout`, and below 0 the handshake blocks, as under libldap 2.5 whatever the timeout.
    bool handshake_ends_at_timeout() const {
        return installed_libldap().bounds_tls_handshake() && t_.timeout >= 0;
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
        begin(ProbeStep::search);
        int msgid = 0;
        Step s = send_search(search, &msgid);
        LDAPMessage *res = nullptr;
        if (s.ok())
            s = await_result(handle_->ld, msgid, result_wait(), &res);
        return judge(search, s, res);
    }

    // As Postfix: the time limit is the raw timeout (0 is refused by libldap), and the size
    // limit goes through the option, so a negative one reaches the server as it is.
    Step send_search(const SearchPlan &search, int *msgid) {
        return send(search.base, scope(search.scope), search.filter, search.attributes,
                    search.size_limit, msgid);
    }

    Step send(const std::string &base, int scope, const std::string &filter,
              const std::vector<std::string> &attributes, int size_limit, int *msgid) {
        LDAP *ld = handle_->ld;
        std::vector<char *> attrs;
        for (const auto &a : attributes)
            attrs.push_back(const_cast<char *>(a.c_str()));
        attrs.push_back(nullptr);
        timeval tv = timeout_;
        int size = size_limit ? size_limit : LDAP_NO_LIMIT;
        int rc = ldap_set_option(ld, LDAP_OPT_SIZELIMIT, &size);
        if (rc == LDAP_OPT_SUCCESS)
            rc = ldap_search_ext(ld, base.c_str(), scope, filter.c_str(), attrs.data(), 0, nullptr,
                                 nullptr, &tv, -1, msgid);
        return rc == LDAP_SUCCESS ? Step{} : Step{rc, diagnostic_of(ld)};
    }

    // The searches a canary's special_result_attribute asks for, on this connection, one
    // after the other as Postfix makes them, all within one wait bound.
    class FollowUps final : public FollowUpSearches {
      public:
        FollowUps(Connection &c, int size_limit)
            : c_(c), size_limit_(size_limit),
              deadline_(Clock::now() + std::chrono::seconds(c.wait_.tv_sec)) {}

        SearchAnswer search(const std::string &base, int scope, const std::string &filter,
                            const std::vector<std::string> &attributes) override {
            Duration left = deadline_ - Clock::now();
            if (left <= Duration::zero())
                return {LDAP_TIMEOUT, "no time left for the follow-up searches", {}};
            if (c_.watch_)
                c_.watch_->begin(ProbeStep::search, c_.server_, left);
            LDAP *ld = c_.handle_->ld;
            int msgid = 0;
            Step s = c_.send(base, scope, filter, attributes, size_limit_, &msgid);
            LDAPMessage *res = nullptr;
            if (s.ok())
                s = await_result(ld, msgid, shorter(c_.result_wait(), left), &res);
            if (!s.ok())
                return {s.rc, s.diagnostic, {}};
            SearchAnswer answer;
            answer.entries = read_entries(ld, res);
            s = parse(ld, res, true);
            answer.rc = s.rc;
            answer.diagnostic = s.diagnostic;
            c_.log_.debug(msg() << c_.server_ << ": follow-up search base=\"" << base
                                << "\" filter=\"" << filter << "\": " << ldap_err2string(s.rc)
                                << ", " << answer.entries.size() << " entries");
            return answer;
        }

      private:
        Connection &c_;
        int size_limit_;
        TimePoint deadline_;
    };

    // What Postfix's lookup of the canary key returns; the probe fails unless it is a value.
    void judge_canary(const SearchPlan &search, const SearchAnswer &top, ProbeResult &r) {
        r.canary = search.canary_key;
        FollowUps follow(*this, search.size_limit);
        LookupValue v = lookup_value(*search.canary_table, search.canary_key, top, follow);
        if (v.failed) {
            r.healthy = false;
            r.ldap_code = v.rc;
            r.diagnostic = "canary \"" + search.canary_key + "\": " + v.why;
        } else if (v.value.empty()) {
            r.healthy = false;
            r.explanation = "canary \"" + search.canary_key + "\" not found at " + server_ +
                            ": the directory answers, but returns nothing for a recipient "
                            "that must exist, so Postfix would reject real users with 550 "
                            "5.1.1 User unknown";
        }
        r.value = v.value;
    }

    // The verdict on one search from its answer `res` (freed here) or the step that failed.
    ProbeResult judge(const SearchPlan &search, Step s, LDAPMessage *res) {
        LDAP *ld = handle_->ld;
        step_ = ProbeStep::search;
        ProbeResult r = failure(search, s);
        SearchAnswer top;
        if (s.ok()) {
            r.entries = ldap_count_entries(ld, res);
            if (search.canary_table)
                top.entries = read_entries(ld, res);
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
        // The probe key finds nothing: its one-message answer would reach Postfix even where
        // the answer for a key that exists cannot (see result_wait()).
        if (r.healthy && t_.finds_time_out()) {
            r.healthy = false;
            r.ldap_code = LDAP_TIMEOUT;
            r.diagnostic = "timeout = " + std::to_string(t_.timeout) +
                           ": libldap gives up on an answer after its first message, so every "
                           "lookup that finds an entry times out";
        }
        if (log_.debug_enabled())
            log_.debug(msg() << server_ << ": search base=\"" << search.base << "\" filter=\""
                             << search.filter
                             << "\": " << (r.healthy ? "ok" : ldap_err2string(s.rc)) << ", "
                             << r.entries << (r.entries == 1 ? " entry" : " entries")
                             << (r.first_dn.empty() ? "" : ", dn=" + r.first_dn));
        if (search.canary_table && r.healthy) {
            judge_canary(search, top, r);
            log_.debug(msg() << server_ << ": canary \"" << search.canary_key
                             << "\": " << (r.healthy ? "value " + r.value : r.describe()));
        }
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

    // Postfix's dict_ldap_result() waits with the raw timeout. libldap reads -1 as "forever";
    // below -1 it polls without end for the first message and times out on any later one
    // (LdapTable::finds_time_out(), which judge() applies to every kind of round: a kept round
    // collected by the caller's loop polls with a zero wait and would miss it). Ours ends.
    timeval result_wait() const { return t_.timeout < 0 ? wait_ : timeout_; }

    const ConnectionPlan &plan_;
    const LdapTable &t_;
    Logger &log_;
    timeval timeout_; // the table's own value, where Postfix passes it to libldap
    timeval wait_;    // the bound of every wait Postfix leaves unbounded (always > 0)
    KeptConnection *kept_;
    StepWatch *watch_;
    std::vector<Pending> pending_; // searches of a kept round driven by the caller
    TimePoint start_{};
    std::unique_ptr<LdapHandle> handle_;
    std::string server_;
    ProbeStep step_ = ProbeStep::connect;
};

} // namespace

void KeptConnection::keep(std::unique_ptr<LdapHandle> handle) {
    std::lock_guard lock(mutex_);
    fd_ = descriptor_of(handle->ld);
    handle_ = std::move(handle);
}

std::unique_ptr<LdapHandle> KeptConnection::take() {
    std::lock_guard lock(mutex_);
    fd_ = -1;
    return std::move(handle_);
}

int KeptConnection::watch_fd() const {
    std::lock_guard lock(mutex_);
    return fd_;
}

bool KeptConnection::closed_by_server() {
    std::unique_ptr<LdapHandle> closed;
    std::lock_guard lock(mutex_);
    if (fd_ < 0)
        return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0)
        return false;
    fd_ = -1;
    closed = std::move(handle_);
    return true;
}

std::vector<ProbeResult> probe_connection(const ConnectionPlan &plan, Logger &log, ProbeMode mode,
                                          KeptConnection *kept, StepWatch *watch) {
    return Connection(plan, log, kept, watch).run(mode);
}

std::optional<std::vector<ProbeResult>> probe_kept(const ConnectionPlan &plan, Logger &log,
                                                   KeptConnection &kept) {
    return Connection(plan, log, &kept, nullptr).run_kept();
}

struct KeptRound::Impl {
    std::shared_ptr<const ConnectionPlan> plan; // outlives a reload that swaps the prober
    std::shared_ptr<KeptConnection> kept;
    Connection connection;

    Impl(std::shared_ptr<const ConnectionPlan> p, Logger &log, std::shared_ptr<KeptConnection> k)
        : plan(std::move(p)), kept(std::move(k)), connection(*plan, log, kept.get(), nullptr) {}
};

std::unique_ptr<KeptRound> KeptRound::start(std::shared_ptr<const ConnectionPlan> plan, Logger &log,
                                            std::shared_ptr<KeptConnection> kept) {
    auto impl = std::make_unique<Impl>(std::move(plan), log, std::move(kept));
    if (!impl->connection.send_kept())
        return nullptr;
    std::unique_ptr<KeptRound> round(new KeptRound);
    round->deadline_ = Clock::now() + std::chrono::seconds(impl->plan->settings.wait_seconds());
    round->impl_ = std::move(impl);
    return round;
}

KeptRound::~KeptRound() = default;

int KeptRound::fd() const {
    return impl_->connection.kept_fd();
}

std::optional<KeptRound::Outcome> KeptRound::advance(TimePoint now) {
    auto results = impl_->connection.collect(now >= deadline_);
    if (!results)
        return std::nullopt;
    bool full = impl_->connection.needs_full_path(*results);
    return Outcome{std::move(*results), full};
}

} // namespace lhc

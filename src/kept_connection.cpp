#include "kept_connection.hpp"

#include "searches.hpp"
#include "session.hpp"
#include "verdict.hpp"

#include <algorithm>
#include <poll.h>

namespace lhc {

namespace {

// Takes the kept connection into `session`, if there is one.
bool resume(Session &session, KeptConnection &kept) {
    auto handle = kept.take();
    if (!handle)
        return false;
    session.resume(std::move(handle));
    return true;
}

// A good round leaves its connection to the next; a failed one closes it.
void keep_if_good(Session &session, KeptConnection &kept, const std::vector<ProbeResult> &out) {
    auto handle = session.release();
    if (all_healthy(out))
        kept.keep(std::move(handle));
}

// Any failure but a timeout: a timeout already cost the round its time, and the next round
// takes the full path anyway.
bool needs_full_path(const Session &session, const std::vector<ProbeResult> &results) {
    bool failed = !all_healthy(results);
    bool timed_out = std::any_of(results.begin(), results.end(),
                                 [](auto &r) { return r.ldap_code == LDAP_TIMEOUT; });
    if (failed && !timed_out)
        session.log().debug(msg() << session.server()
                                  << ": the kept connection failed, taking the full path");
    return failed && !timed_out;
}

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

std::optional<std::vector<ProbeResult>> probe_kept(const ConnectionPlan &plan, Logger &log,
                                                   KeptConnection &kept, StepWatch *watch) {
    auto start = Clock::now();
    Session session(plan, log, watch);
    if (!resume(session, kept))
        return std::nullopt;
    std::vector<ProbeResult> out;
    for (const auto &search : plan.searches)
        out.push_back(search_and_judge(session, search));
    keep_if_good(session, kept, out);
    if (needs_full_path(session, out))
        return std::nullopt;
    return timed(std::move(out), start);
}

// The searches of a round in flight, each with its answer once it came.
struct KeptRound::Impl {
    struct Pending {
        const SearchPlan *search = nullptr;
        Step sent;
        int msgid = 0;
        std::optional<ProbeResult> result;
    };

    std::shared_ptr<const ConnectionPlan> plan; // outlives a reload that swaps the prober
    std::shared_ptr<KeptConnection> kept;
    Session session;
    std::vector<Pending> pending;
    TimePoint start = Clock::now();

    Impl(std::shared_ptr<const ConnectionPlan> p, Logger &log, std::shared_ptr<KeptConnection> k)
        : plan(std::move(p)), kept(std::move(k)), session(*plan, log, nullptr) {}

    bool send() {
        if (!resume(session, *kept))
            return false;
        for (const auto &search : plan->searches) {
            Pending p;
            p.search = &search;
            p.sent = send_search(session, search, &p.msgid);
            pending.push_back(std::move(p));
        }
        return true;
    }

    // The verdict on one search once its answer is there, without waiting; with `give_up`, a
    // search still open is a timeout.
    std::optional<ProbeResult> answer(Pending &p, bool give_up) {
        if (!p.sent.ok())
            return judge(session, *p.search, p.sent, nullptr);
        LDAP *ld = session.ld();
        timeval zero{0, 0};
        LDAPMessage *res = nullptr;
        int got = ldap_result(ld, p.msgid, LDAP_MSG_ALL, &zero, &res);
        if (got == 0 && !give_up)
            return std::nullopt;
        if (got > 0)
            return judge(session, *p.search, Step{}, res);
        if (got == 0) {
            ldap_abandon_ext(ld, p.msgid, nullptr, nullptr);
            return judge(session, *p.search, {LDAP_TIMEOUT, "no answer within timeout"}, nullptr);
        }
        return judge(session, *p.search, {error_of(ld), diagnostic_of(ld)}, nullptr);
    }

    // The verdicts once every search is answered; nullopt while some are open.
    std::optional<std::vector<ProbeResult>> collect(bool give_up) {
        bool open = false;
        for (auto &p : pending) {
            if (!p.result)
                p.result = answer(p, give_up);
            open = open || !p.result;
        }
        if (open)
            return std::nullopt;
        std::vector<ProbeResult> out;
        for (auto &p : pending)
            out.push_back(std::move(*p.result));
        pending.clear();
        keep_if_good(session, *kept, out);
        return timed(std::move(out), start);
    }
};

std::unique_ptr<KeptRound> KeptRound::start(std::shared_ptr<const ConnectionPlan> plan, Logger &log,
                                            std::shared_ptr<KeptConnection> kept) {
    auto impl = std::make_unique<Impl>(std::move(plan), log, std::move(kept));
    if (!impl->send())
        return nullptr;
    std::unique_ptr<KeptRound> round(new KeptRound);
    round->deadline_ = Clock::now() + std::chrono::seconds(impl->plan->settings.wait_seconds());
    round->impl_ = std::move(impl);
    return round;
}

KeptRound::~KeptRound() = default;

int KeptRound::fd() const {
    return descriptor_of(impl_->session.ld());
}

std::optional<KeptRound::Outcome> KeptRound::advance(TimePoint now) {
    auto results = impl_->collect(now >= deadline_);
    if (!results)
        return std::nullopt;
    bool full = needs_full_path(impl_->session, *results);
    return Outcome{std::move(*results), full};
}

} // namespace lhc

#include "ldap_prober.hpp"

#include "connection.hpp"
#include "step_deadline.hpp"
#include "workers.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <ldap.h>
#include <map>
#include <mutex>
#include <set>

namespace lhc {

namespace {

// libldap's own timeouts end a step first; this only covers scheduling and start-up.
constexpr Duration step_grace = std::chrono::milliseconds(500);

std::vector<ProbeResult> all_failed(const ConnectionPlan &plan, ProbeStep step,
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
    if (o.step == ProbeStep::connect)
        what += " (name resolution, TCP connect or TLS handshake)";
    return what;
}

// The worker owns what it uses: left behind on an overrun, it may outlive this round and the
// prober (a reload), until libldap returns.
std::vector<ProbeResult> probe_bounded(std::shared_ptr<const ConnectionPlan> plan, Logger &log,
                                       ProbeMode mode, std::shared_ptr<KeptConnection> kept) {
    std::string first = plan->urls.empty() ? plan->settings.server_host : plan->urls.front();
    if (int n = stragglers(); n >= max_stragglers)
        return all_failed(*plan, ProbeStep::connect, first,
                          std::to_string(n) + " earlier probes still wait for an answer; no new "
                                              "connection until one of them ends");
    // A search on the kept connection waits only in ldap_result(), under the timeout: no
    // worker needed, unless a referral may be chased (libldap binds to it synchronously).
    if (mode == ProbeMode::kept && kept && !plan->settings.chase_referrals) {
        if (auto results = probe_kept(*plan, log, *kept))
            return std::move(*results);
        mode = ProbeMode::full;
    }
    auto start = Clock::now();
    auto results = std::make_shared<std::vector<ProbeResult>>();
    auto overrun = run_with_step_deadlines(
        [plan, &log, mode, kept, results](StepWatch &watch) {
            *results = probe_connection(*plan, log, mode, kept.get(), &watch);
            watch.finish();
        },
        step_grace);
    if (!overrun)
        return std::move(*results);
    log.debug(msg() << overrun->server << ": " << step_name(overrun->step) << ": "
                    << overrun_text(*overrun) << ", leaving that probe behind");
    auto out = all_failed(*plan, overrun->step, overrun->server, overrun_text(*overrun));
    for (auto &r : out)
        r.latency = Clock::now() - start;
    return out;
}

// A server's state from the probes a round made on it: it answers when all of them passed.
ServerState state_of(const std::string &url, const std::vector<ProbeResult> &probes) {
    ServerState s{url, true, "", {}, {}};
    for (const auto &r : probes) {
        if (r.server != url)
            continue;
        s.latency = std::max(s.latency, r.latency);
        if (!r.healthy && s.answers) {
            s.answers = false;
            // A canary that this server alone does not find (a replica behind) says so.
            s.why = !r.explanation.empty()
                        ? r.explanation
                        : std::string(step_name(r.step)) + ": " + ldap_err2string(r.ldap_code) +
                              (r.diagnostic.empty() ? "" : ": " + r.diagnostic);
        }
    }
    return s;
}

// A background probe must never keep the rounds themselves from connecting (they stop at
// max_stragglers probes left behind): against a hung server it waits for room.
constexpr int max_background_stragglers = max_stragglers / 2;

std::atomic<int> background_running{0};

// The NSS lookups of a round end when a round's LDAP step would: at the longest wait bound of
// the tables (Postfix's default timeout when there are none).
Duration nss_limit(const std::vector<ConnectionPlan> &plans) {
    int seconds = plans.empty() ? LdapTable::unbounded_wait_seconds : 0;
    for (const auto &p : plans)
        seconds = std::max(seconds, p.settings.wait_seconds());
    return std::chrono::seconds(seconds);
}

} // namespace

int background_probes() {
    return background_running.load();
}

struct LdapProber::ServerBook {
    std::vector<std::string> order; // every URL of every plan, in server_host order
    std::map<std::string, std::vector<std::size_t>> lists; // the plans that name each URL
    mutable std::mutex mutex;
    std::map<std::string, ServerState> known;
    std::set<std::string> busy; // a background probe of it is still running

    void set(ServerState s) {
        std::lock_guard lock(mutex);
        known[s.url] = std::move(s);
    }
    bool begin(const std::string &url) {
        std::lock_guard lock(mutex);
        return busy.insert(url).second;
    }
    void end(const std::string &url) {
        std::lock_guard lock(mutex);
        busy.erase(url);
    }
};

LdapProber::LdapProber(std::vector<ConnectionPlan> plans, Logger &log, bool keep,
                       std::vector<std::string> nss_users)
    : log_(log), servers_(std::make_shared<ServerBook>()),
      nss_(std::move(nss_users), nss_limit(plans)) {
    for (auto &p : plans) {
        for (const auto &url : p.urls) {
            auto &lists = servers_->lists[url];
            if (lists.empty())
                servers_->order.push_back(url);
            lists.push_back(plans_.size());
        }
        plans_.push_back(std::make_shared<const ConnectionPlan>(std::move(p)));
        if (keep)
            kept_.push_back(std::make_shared<KeptConnection>());
    }
}

std::vector<ServerState> LdapProber::server_states() const {
    std::vector<ServerState> out;
    std::lock_guard lock(servers_->mutex);
    for (const auto &url : servers_->order)
        if (auto it = servers_->known.find(url); it != servers_->known.end()) {
            out.push_back(it->second);
            out.back().lists = servers_->lists.at(url);
        }
    return out;
}

void LdapProber::note_servers(const RoundResult &round, ProbeMode mode) {
    std::set<std::string> used;
    for (const auto &r : round.probes)
        used.insert(r.server);
    for (const auto &url : used)
        if (std::find(servers_->order.begin(), servers_->order.end(), url) != servers_->order.end())
            servers_->set(state_of(url, round.probes));
    // Only the daemon watches redundancy; a --once answers Postfix's question alone.
    if (mode != ProbeMode::full || kept_.empty())
        return;
    for (const auto &plan : plans_) {
        if (plan->urls.size() < 2 || !plan->init_error.empty())
            continue;
        for (const auto &url : plan->urls) {
            if (stragglers() >= max_background_stragglers || !servers_->begin(url))
                continue;
            auto single = std::make_shared<ConnectionPlan>(*plan);
            single->urls = {url};
            ++background_running;
            run_on_worker([book = servers_, single, &log = log_, url] {
                auto results = probe_bounded(single, log, ProbeMode::full, nullptr);
                for (auto &r : results)
                    r.server = url;
                book->set(state_of(url, results));
                book->end(url);
                --background_running;
            });
        }
    }
}

LdapProber::~LdapProber() = default;

std::vector<int> LdapProber::watch_fds() const {
    std::vector<int> fds;
    for (const auto &kept : kept_)
        if (int fd = kept->watch_fd(); fd >= 0)
            fds.push_back(fd);
    return fds;
}

bool LdapProber::connection_closed() {
    bool any = false;
    for (auto &kept : kept_)
        any = kept->closed_by_server() || any;
    return any;
}

RoundResult LdapProber::probe_round(ProbeMode mode) {
    auto start = Clock::now();
    RoundResult round;
    // Beside the searches: a hung nslcd and a hung directory cost one wait, not two.
    std::future<std::vector<ProbeResult>> nss;
    if (!nss_.empty())
        nss = std::async(std::launch::async, [this] { return nss_.run(); });
    auto kept = [this](std::size_t i) { return kept_.empty() ? nullptr : kept_[i]; };
    if (plans_.size() == 1) {
        round.probes = probe_bounded(plans_.front(), log_, mode, kept(0));
    } else {
        // Connections are probed side by side: a hung server costs one timeout, not one each.
        std::vector<std::future<std::vector<ProbeResult>>> pending;
        for (std::size_t i = 0; i < plans_.size(); ++i)
            pending.push_back(std::async(std::launch::async, probe_bounded, plans_[i],
                                         std::ref(log_), mode, kept(i)));
        for (auto &f : pending)
            for (auto &r : f.get())
                round.probes.push_back(std::move(r));
    }
    if (nss.valid())
        for (auto &r : nss.get())
            round.probes.push_back(std::move(r));
    round.latency = Clock::now() - start;
    note_servers(round, mode);
    return round;
}

namespace {

class KeptLoopRound final : public LoopRound {
  public:
    explicit KeptLoopRound(std::unique_ptr<KeptRound> round) : round_(std::move(round)) {}
    int fd() const override { return round_->fd(); }
    TimePoint deadline() const override { return round_->deadline(); }
    std::optional<Outcome> advance(TimePoint now) override {
        auto out = round_->advance(now);
        if (!out)
            return std::nullopt;
        Outcome o;
        o.round.probes = std::move(out->probes);
        o.round.latency = now - started_;
        o.needs_full_path = out->needs_full_path;
        return o;
    }

  private:
    std::unique_ptr<KeptRound> round_;
    TimePoint started_ = Clock::now();
};

} // namespace

// One connection only: several are probed side by side on threads, where a hung one costs one
// timeout. A chased referral makes libldap bind synchronously, which only a thread can bound;
// so do a canary's follow-up searches and the NSS lookups.
std::unique_ptr<LoopRound> LdapProber::start_loop_round() {
    if (plans_.size() != 1 || kept_.empty() || plans_.front()->settings.chase_referrals ||
        plans_.front()->needs_follow_ups() || !nss_.empty())
        return nullptr;
    auto round = KeptRound::start(plans_.front(), log_, kept_.front());
    if (!round)
        return nullptr;
    return std::make_unique<KeptLoopRound>(std::move(round));
}

// Saturating: "timeout = 2147483647" times a few steps does not fit in nanoseconds.
Duration LdapProber::worst_case() const {
    double worst = 0;
    for (const auto &p : plans_) {
        // Each URL's connect (with its TLS handshake), StartTLS, the bind and every search
        // are each bounded by the wait bound (plus the step's grace).
        // A canary's follow-up searches share one more.
        auto follow_ups = std::count_if(p->searches.begin(), p->searches.end(),
                                        [](const SearchPlan &s) { return s.needs_follow_ups(); });
        auto steps = p->urls.size() + (p->settings.start_tls ? 1 : 0) +
                     (p->settings.bind != BindMode::none ? 1 : 0) + p->searches.size() +
                     static_cast<std::size_t>(follow_ups);
        double step =
            p->settings.wait_seconds() + std::chrono::duration<double>(step_grace).count();
        worst = std::max(worst, step * static_cast<double>(steps));
    }
    if (!nss_.empty())
        worst = std::max(worst, std::chrono::duration<double>(nss_.limit()).count());
    constexpr double max_seconds = 1e9; // 31 years: "never" for any watchdog
    if (worst >= max_seconds)
        return Duration::max();
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(worst));
}

std::string LdapProber::summary() const {
    std::size_t searches = 0, canaries = 0;
    for (const auto &p : plans_)
        for (const auto &s : p->searches) {
            ++searches;
            canaries += s.canary_table ? 1 : 0;
        }
    std::string out;
    if (!plans_.empty()) {
        out = std::to_string(searches) + (searches == 1 ? " search" : " searches");
        if (canaries > 0)
            out += " (" + std::to_string(canaries) + (canaries == 1 ? " canary)" : " canaries)");
        out += " on " + std::to_string(plans_.size()) +
               (plans_.size() == 1 ? " connection" : " connections");
    }
    if (!nss_.empty())
        out += (out.empty() ? "" : ", ") + std::to_string(nss_.size()) +
               (nss_.size() == 1 ? " NSS user" : " NSS users");
    return out.empty() ? "nothing" : out;
}

} // namespace lhc

// One LDAP session of a connection plan, opened as Postfix's dict_ldap_connect() opens it: the
// server_host URLs tried in order (with the ldaps:// handshake), StartTLS, then the bind. The
// session knows the server it is on and the step it has reached, and announces every step
// with its limit to the step watch, so that a wait libldap does not bound (name resolution, a
// referral's bind) still ends there (step_deadline.hpp).
#pragma once

#include "ldap_call.hpp"
#include "log.hpp"
#include "probe_plan.hpp"
#include "probe_result.hpp"
#include "step_deadline.hpp"
#include "tls_guard.hpp"

#include <memory>
#include <string>

namespace lhc {

class Session {
  public:
    // `watch` (may be null) hears of every step.
    Session(const ConnectionPlan &plan, Logger &log, StepWatch *watch);
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    // Connects, starts TLS and binds as the table says; on failure, step() is where.
    Step open();
    // Goes on with a connection that a good probe left open (kept_connection.hpp).
    void resume(std::unique_ptr<LdapHandle> handle);
    // Hands the open connection over (to be kept), or null.
    std::unique_ptr<LdapHandle> release() { return std::move(handle_); }

    // A step starts now, and may take the wait bound or `limit`.
    void begin(ProbeStep step);
    void begin(ProbeStep step, Duration limit);

    bool is_open() const { return handle_ != nullptr; }
    LDAP *ld() const { return handle_ ? handle_->ld : nullptr; }
    const ConnectionPlan &plan() const { return plan_; }
    const LdapTable &table() const { return t_; }
    const Waits &waits() const { return waits_; }
    Logger &log() const { return log_; }
    const std::string &server() const { return server_; } // the URL in use, or last tried
    ProbeStep step() const { return step_; }

  private:
    Step connect();
    Step set_options(LdapHandle &h);
    Step set_tls_options(LDAP *ld);
    Step start_tls();
    bool handshake_ends_at_timeout() const;
    template <typename F> Step step(ProbeStep name, F run);

    const ConnectionPlan &plan_;
    const LdapTable &t_;
    Logger &log_;
    StepWatch *watch_;
    Waits waits_;
    std::unique_ptr<LdapHandle> handle_;
    std::string server_;
    ProbeStep step_ = ProbeStep::connect;
};

} // namespace lhc

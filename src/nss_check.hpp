// The NSS path of local recipients: Postfix's default local_recipient_maps is
// unix:passwd.byname, getpwnam() through /etc/nsswitch.conf, which on a host with its users in
// LDAP goes through nslcd or sssd. When they cannot reach the directory every real user is
// "unknown" and Postfix answers 550 5.1.1: the lookups here are the ones Postfix makes.
#pragma once

#include "clock.hpp"
#include "probe_result.hpp"

#include <functional>
#include <string>
#include <vector>

namespace lhc {

// One getpwnam_r() answer.
struct PasswdAnswer {
    int error = 0;      // the errno getpwnam_r() returned (0: it answered)
    bool found = false; // a passwd entry came back
};

// getpwnam_r() with a buffer that grows on ERANGE; tests pass a fake.
using PasswdLookup = std::function<PasswdAnswer(const std::string &name)>;
PasswdAnswer system_passwd_lookup(const std::string &name);

// The NSS users of every round. Each lookup runs on a worker thread and all of them end at one
// deadline: nslcd or sssd hanging on a dead directory must not hang the daemon. A lookup still
// waiting then is left behind and counted as a straggler (step_deadline.hpp).
class NssCheck {
  public:
    NssCheck(std::vector<std::string> users, Duration limit,
             PasswdLookup lookup = system_passwd_lookup);
    bool empty() const { return users_.empty(); }
    std::size_t size() const { return users_.size(); }
    Duration limit() const { return limit_; }
    // One result a user; healthy when the user resolves.
    std::vector<ProbeResult> run() const;

  private:
    std::vector<std::string> users_;
    Duration limit_;
    PasswdLookup lookup_;
};

// The warning --check-config gives when local recipients are looked up through NSS in a
// directory that nothing here watches (no --nss-user), or "" when that is not the case.
std::string nss_path_unwatched(const std::string &local_recipient_maps,
                               const std::string &nsswitch_text);

// What `passwd:` in nsswitch.conf(5) text lists, in order ("files", "systemd", "ldap", ...).
std::vector<std::string> nss_passwd_sources(const std::string &nsswitch_text);

// The sources that reach a directory server over the network: ldap (nslcd), sss (sssd).
std::vector<std::string> directory_sources(const std::vector<std::string> &sources);

// Whether a local_recipient_maps value (as `postconf -x` prints it) looks users up with
// unix:passwd.byname, directly or through proxy:.
bool uses_passwd_byname(const std::string &local_recipient_maps);

} // namespace lhc

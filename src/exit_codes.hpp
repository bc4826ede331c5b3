// The documented exit statuses (sysexits.h); ldap-health-check(8) lists them under EXIT STATUS.
#pragma once

#include <sysexits.h>

namespace lhc {

enum ExitCode : int {
    exit_ok = EX_OK,                   // healthy, config valid, or stopped by SIGTERM/SIGINT
    exit_usage = EX_USAGE,             // 64: bad command line
    exit_unavailable = EX_UNAVAILABLE, // 69: LDAP unusable (outage, or down at start)
    exit_internal = EX_SOFTWARE,       // 70: internal error
    exit_config = EX_CONFIG,           // 78: bad table file or settings
};

} // namespace lhc

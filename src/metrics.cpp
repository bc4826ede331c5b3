#include "metrics.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lhc {

namespace {

// A label value in the text format: backslash, double quote and line feed escaped.
std::string label_value(const std::string &v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

void family(std::string &out, const char *name, const char *type, const char *help) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

} // namespace

void Metrics::on_round(const RoundResult &round, int consecutive_failures,
                       const std::vector<ServerState> &servers) {
    up_ = round.healthy();
    latency_ = std::chrono::duration<double>(round.latency).count();
    consecutive_failures_ = consecutive_failures;
    ++rounds_;
    if (!up_)
        ++failures_;
    std::map<std::string, Server> seen;
    for (const auto &p : round.probes) {
        if (p.server.empty())
            continue;
        auto [it, fresh] = seen.try_emplace(p.server, Server{true, 0});
        it->second.up = it->second.up && p.healthy;
        it->second.latency =
            std::max(it->second.latency, std::chrono::duration<double>(p.latency).count());
    }
    // The prober's list is the servers of the tables in force: one that a reload removed goes.
    if (!servers.empty())
        servers_.clear();
    for (const auto &s : servers)
        seen[s.url] = Server{s.answers, std::chrono::duration<double>(s.latency).count()};
    for (auto &[server, state] : seen)
        if (servers.empty() || std::any_of(servers.begin(), servers.end(),
                                           [&](const ServerState &s) { return s.url == server; }))
            servers_[server] = state;
}

std::string Metrics::text() const {
    std::string out;
    family(out, "ldap_health_check_up", "gauge",
           "1 when the last probe round found LDAP usable as Postfix uses it, 0 when not.");
    out += "ldap_health_check_up " + std::string(up_ ? "1" : "0") + "\n";
    family(out, "ldap_health_check_round_duration_seconds", "gauge",
           "How long the last probe round took.");
    out += "ldap_health_check_round_duration_seconds " + number(latency_) + "\n";
    family(out, "ldap_health_check_consecutive_failures", "gauge",
           "Failed probe rounds in a row; --failures of them stop Postfix.");
    out += "ldap_health_check_consecutive_failures " + std::to_string(consecutive_failures_) + "\n";
    family(out, "ldap_health_check_rounds_total", "counter",
           "Probe rounds since the daemon started.");
    out += "ldap_health_check_rounds_total " + std::to_string(rounds_) + "\n";
    family(out, "ldap_health_check_round_failures_total", "counter",
           "Failed probe rounds since the daemon started.");
    out += "ldap_health_check_round_failures_total " + std::to_string(failures_) + "\n";
    family(out, "ldap_health_check_server_up", "gauge",
           "1 when the server answered the last round that used it, 0 when not.");
    for (const auto &[server, state] : servers_)
        out += "ldap_health_check_server_up{server=\"" + label_value(server) + "\"} " +
               (state.up ? "1" : "0") + "\n";
    family(out, "ldap_health_check_server_latency_seconds", "gauge",
           "How long the server took in the last round that used it.");
    for (const auto &[server, state] : servers_)
        out += "ldap_health_check_server_latency_seconds{server=\"" + label_value(server) + "\"} " +
               number(state.latency) + "\n";
    return out;
}

namespace {

// Writes `text` to a new file beside `path` and renames it to `path`; the error, or "".
// The directory is writable by another group (node_exporter's), whose members may put
// anything at a name we choose in advance: a FIFO (a blocking open() would stall the loop
// and with it READY=1 and every watchdog ping), a symlink (the write would land anywhere
// the daemon may write), a directory. So the name is new each time and the file is made
// by us (O_EXCL: never a FIFO, never through a symlink); rename() replaces whatever is at
// `path` itself without following it. The messages name `path`, never the random name,
// so that one lasting problem stays one warning.
std::string replace_file(const std::string &path, const std::string &text) {
    std::string tmp = path + ".XXXXXX.tmp"; // not *.prom: the collector never reads it
    int fd = mkostemps(tmp.data(), 4, O_CLOEXEC);
    if (fd < 0)
        return "cannot create a file beside " + path + ": " + std::strerror(errno);
    std::string error;
    // node_exporter runs as another user: readable whatever the unit's UMask=.
    if (fchmod(fd, 0644) != 0)
        error = std::string("fchmod: ") + std::strerror(errno);
    ssize_t n = error.empty() ? ::write(fd, text.data(), text.size()) : 0;
    if (error.empty() && n != static_cast<ssize_t>(text.size()))
        error = std::string("write: ") + (n < 0 ? std::strerror(errno) : "short write");
    if (close(fd) != 0 && error.empty())
        error = std::string("close: ") + std::strerror(errno);
    if (error.empty() && rename(tmp.c_str(), path.c_str()) != 0)
        error = "rename to " + path + ": " + std::strerror(errno);
    if (!error.empty())
        unlink(tmp.c_str());
    return error;
}

} // namespace

void MetricsFile::write(const Metrics &metrics) {
    std::string error = replace_file(path_, metrics.text());
    if (!error.empty() && error != last_error_)
        log_.warning("--metrics-file: " + error + "; probing goes on");
    last_error_ = error;
}

} // namespace lhc

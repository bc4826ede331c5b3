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

void MetricsFile::write(const Metrics &metrics) {
    std::string text = metrics.text();
    std::string tmp = path_ + ".tmp"; // not *.prom: the collector never reads it
    std::string error;
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error = "open " + tmp + ": " + std::strerror(errno);
    } else {
        // node_exporter runs as another user: readable whatever the unit's UMask=.
        fchmod(fd, 0644);
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n != static_cast<ssize_t>(text.size()))
            error = "write " + tmp + ": " + (n < 0 ? std::strerror(errno) : "short write");
        if (close(fd) != 0 && error.empty())
            error = "close " + tmp + ": " + std::strerror(errno);
        if (error.empty() && rename(tmp.c_str(), path_.c_str()) != 0)
            error = "rename to " + path_ + ": " + std::strerror(errno);
    }
    if (!error.empty() && error != last_error_)
        log_.warning("--metrics-file: " + error + "; probing goes on");
    last_error_ = error;
}

} // namespace lhc

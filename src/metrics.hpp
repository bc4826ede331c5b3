// The daemon's state in the Prometheus text format, for node_exporter's textfile collector
// (--metrics-file): written after every round, whole, and renamed into place, so that a
// scrape never reads half a file.
#pragma once

#include "log.hpp"
#include "probe_result.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace lhc {

class Metrics {
  public:
    // `servers`: every server's last known state; without it, the servers the round used.
    void on_round(const RoundResult &round, int consecutive_failures,
                  const std::vector<ServerState> &servers = {});
    // The exposition text, every metric with # HELP and # TYPE.
    std::string text() const;

  private:
    struct Server {
        bool up = false;
        double latency = 0; // seconds
    };
    bool up_ = false;
    double latency_ = 0;
    int consecutive_failures_ = 0;
    std::uint64_t rounds_ = 0;
    std::uint64_t failures_ = 0;
    std::map<std::string, Server> servers_; // by URL, the state of the last round that used it
};

class MetricsSink {
  public:
    virtual ~MetricsSink() = default;
    virtual void write(const Metrics &metrics) = 0;
};

// Writes a new file beside PATH and renames it to PATH. A file that cannot be written is worth one
// warning (per distinct error), never a stop: mail does not depend on the metrics.
class MetricsFile final : public MetricsSink {
  public:
    MetricsFile(std::string path, Logger &log) : path_(std::move(path)), log_(log) {}
    void write(const Metrics &metrics) override;

  private:
    std::string path_;
    Logger &log_;
    std::string last_error_;
};

} // namespace lhc

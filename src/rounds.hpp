// Probe rounds run in the background, so that a round stuck on a hung server does not stop
// the next one from starting: with several rounds in flight, a hang is confirmed after about
// one timeout instead of one timeout per allowed failure.
#pragma once

#include "probe_result.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

namespace lhc {

// Rounds in flight at once, whatever --failures says. Each costs a thread and a connection to
// the directory; against a silent server a large --failures once meant thousands of both,
// which also exhausted the server's descriptors. Up to this many --failures a hang is still
// confirmed after about one timeout; beyond it, rounds time out in batches of this size, so
// confirming takes about ceil(failures / max_rounds_in_flight) timeouts.
inline constexpr std::size_t max_rounds_in_flight = 4;

class RoundRunner {
  public:
    virtual ~RoundRunner() = default;
    // Starts one round of `prober` now.
    virtual void start(std::shared_ptr<Prober> prober, ProbeMode mode) = 0;
    virtual std::size_t in_flight() const = 0;
    // The oldest finished round not taken yet.
    virtual std::optional<RoundResult> take_finished() = 0;
    // Readable while a finished round waits to be taken (-1: none, e.g. fakes).
    virtual int wake_fd() const { return -1; }
};

// One thread per round. The threads share their state with the runner through a shared
// pointer, so a round still stuck at exit cannot touch freed memory.
class ThreadRoundRunner final : public RoundRunner {
  public:
    ThreadRoundRunner();
    void start(std::shared_ptr<Prober> prober, ProbeMode mode) override;
    std::size_t in_flight() const override;
    std::optional<RoundResult> take_finished() override;
    int wake_fd() const override;
    // How often memory was handed back after overlapping rounds: at most once per minute.
    std::size_t trims() const;
    static constexpr std::chrono::seconds trim_spacing{60};

  private:
    struct State;
    std::shared_ptr<State> state_;
    std::size_t trims_ = 0;
    std::optional<std::chrono::steady_clock::time_point> last_trim_;
};

} // namespace lhc

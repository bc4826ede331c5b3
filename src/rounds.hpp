// Probe rounds run in the background, so that a round stuck on a hung server does not stop
// the next one from starting: with several rounds in flight, a hang is confirmed after about
// one timeout instead of one timeout per allowed failure.
#pragma once

#include "probe_result.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace lhc {

// Rounds in flight at once, whatever --failures says. Each costs a thread and a connection to
// the directory; against a silent server a large --failures would mean thousands of both,
// and exhaust the server's descriptors. Up to this many --failures a hang is still
// confirmed after about one timeout; beyond it, rounds time out in batches of this size, so
// confirming takes about ceil(failures / max_rounds_in_flight) timeouts.
inline constexpr std::size_t max_rounds_in_flight = 4;

class RoundRunner {
  public:
    virtual ~RoundRunner() = default;
    // Starts one round of `prober` now; its result carries `mode` and `number`.
    virtual void start(std::shared_ptr<Prober> prober, ProbeMode mode, std::uint64_t number) = 0;
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
    // Hands freed heap memory back to the system: malloc_trim(0); tests count the calls.
    using Trim = std::function<void()>;
    explicit ThreadRoundRunner(Trim trim = default_trim);
    void start(std::shared_ptr<Prober> prober, ProbeMode mode, std::uint64_t number) override;
    std::size_t in_flight() const override;
    std::optional<RoundResult> take_finished() override;
    int wake_fd() const override;
    // Memory is handed back after overlapping rounds at most once per this spacing.
    static constexpr std::chrono::seconds trim_spacing{60};

  private:
    struct State;
    static void default_trim();

    std::shared_ptr<State> state_;
    Trim trim_;
    std::optional<std::chrono::steady_clock::time_point> last_trim_;
};

} // namespace lhc

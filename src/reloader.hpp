// Reloads run in the background, like probe rounds: reading a table that became a FIFO, or a
// postconf that hangs, must not stop the loop from probing, feeding the watchdog and handling
// SIGTERM. The old prober keeps probing until the new one is there.
#pragma once

#include "config_files.hpp"
#include "probe_result.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace lhc {

// Builds a prober from the configuration files, and stamps each file in `read` before it reads
// it; throws ConfigError on a bad file (UnusableTable on a table Postfix cannot open either).
using ProberFactory = std::function<std::unique_ptr<Prober>(ConfigFiles &read)>;

// A new prober, or why the configuration could not be loaded.
struct ReloadResult {
    std::unique_ptr<Prober> prober; // null when the reload failed
    std::string error;
    std::string unusable_table; // the reload failed on this table, which Postfix cannot open
    ConfigFiles files;          // what the reload read, up to where it failed
};

// Runs `factory` and turns what it throws into a failed result.
ReloadResult build_prober(const ProberFactory &factory);

class Reloader {
  public:
    virtual ~Reloader() = default;
    // Starts one reload; the caller starts no other while one is pending.
    virtual void start(ProberFactory factory) = 0;
    // Started and not taken yet.
    virtual bool pending() const = 0;
    // The finished reload, once.
    virtual std::optional<ReloadResult> take_finished() = 0;
    // Readable while a finished reload waits to be taken (-1: none, e.g. fakes).
    virtual int wake_fd() const { return -1; }
};

// One thread per reload, sharing its state with the reloader through a shared pointer, so a
// reload still stuck at exit cannot touch freed memory.
class ThreadReloader final : public Reloader {
  public:
    ThreadReloader();
    void start(ProberFactory factory) override;
    bool pending() const override;
    std::optional<ReloadResult> take_finished() override;
    int wake_fd() const override;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

} // namespace lhc

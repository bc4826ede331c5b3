#include "config_error.hpp"
#include "daemon.hpp"
#include "exit_codes.hpp"
#include "fakes.hpp"

#include <cstdio>
#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace lhc;
using namespace lhc::testing;
using namespace std::chrono_literals;

namespace {

// Captures log lines instead of writing them to stderr, and the events as the journal would
// get them (their text is in `text` too, as the line it would have been).
class CapturingLogger final : public Logger {
  public:
    CapturingLogger() { use_journal(true); }
    std::string text;
    std::vector<std::pair<Event, EventFields>> events;

  protected:
    void write_line(std::string_view line) override { text += line; }
    bool write_event(Event e, Priority p, std::string_view line, const EventFields &f) override {
        events.emplace_back(e, f);
        text += "<" + std::to_string(static_cast<int>(p)) + ">" + std::string(line) + "\n";
        return true;
    }
};

struct Harness {
    FakeEvents events;
    FakeRunner runner{events};
    FakeReloader reloader{events};
    FakeNotifier notifier;
    CapturingLogger log;
    std::vector<bool> script;
    FakeProber *prober = nullptr; // the last one the factory made
    int loads = 0;
    bool idle_connection_closes = false; // the prober reports a closed idle connection
    bool idle_connection_always_closes = false;
    bool loop_rounds = false; // kept-connection rounds run in the daemon's loop
    bool kept_fails_once = false;
    std::optional<Duration> loop_round_hangs_for;
    std::vector<std::vector<ServerState>> servers_by_round;
    std::function<bool(ProbeMode, std::size_t)> verdict;
    std::string diagnostic;

    std::string config_file;        // when set, every load reads it (ConfigFiles)
    std::unique_ptr<Daemon> daemon; // kept so that `prober` outlives run()
    std::function<void(Daemon &)> daemon_setup;

    int run(Policy policy = Policy{5s, 500ms, 3}) {
        daemon = std::make_unique<Daemon>(
            policy,
            [this](ConfigFiles &read) -> std::unique_ptr<Prober> {
                if (!config_file.empty())
                    read.add(config_file);
                ++loads;
                auto p = std::make_unique<FakeProber>(script, &events);
                p->closed = idle_connection_closes || idle_connection_always_closes;
                p->closes_every_time = idle_connection_always_closes;
                p->loop_rounds = loop_rounds;
                p->kept_fails_once = kept_fails_once;
                p->loop_round_hangs_for = loop_round_hangs_for;
                p->servers_by_round = servers_by_round;
                p->verdict = verdict;
                p->diagnostic = diagnostic;
                prober = p.get();
                return p;
            },
            notifier, events, runner, reloader, log);
        if (daemon_setup)
            daemon_setup(*daemon);
        return daemon->run();
    }
};

} // namespace

TEST(Daemon, ReadyOnlyAfterFirstGoodRoundThenWatchdogPerGoodRound) {
    Harness h;
    h.script = {true};
    h.events.signal_at(12s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    ASSERT_GE(h.notifier.messages.size(), 2u);
    EXPECT_EQ(h.notifier.messages[0].find("READY=1"), std::string::npos)
        << "the first message comes before any probe";
    EXPECT_NE(h.notifier.messages[1].find("READY=1"), std::string::npos);
    EXPECT_EQ(h.notifier.count("READY=1"), 1);
    // Rounds at 0, 5 and 10 s, stopped at 12 s.
    EXPECT_EQ(h.prober->rounds, 3u);
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 3);
    EXPECT_NE(h.notifier.messages.back().find("STOPPING=1"), std::string::npos);
}

TEST(Daemon, DownAtStartExitsUnavailableWithoutReady) {
    Harness h;
    h.script = {false};
    EXPECT_EQ(h.run(), exit_unavailable);
    EXPECT_EQ(h.notifier.count("READY=1"), 0);
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 0);
    EXPECT_EQ(h.prober->rounds, 3u);
    EXPECT_NE(h.log.text.find("LDAP unusable at start"), std::string::npos) << h.log.text;
}

TEST(Daemon, OutageExitsAfterFailuresWithinIntervalPlusRetries) {
    Harness h;
    h.script = {true, true, false};
    EXPECT_EQ(h.run(), exit_unavailable);
    // Good rounds at 0 and 5 s, failures at 10, 10.5 and 11 s.
    EXPECT_EQ(h.events.elapsed(), 11s);
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 2) << "failed rounds never feed the watchdog";
    EXPECT_NE(h.log.text.find("<2>LDAP unusable after 3 consecutive failed rounds"),
              std::string::npos)
        << h.log.text;
    EXPECT_NE(h.notifier.messages.back().find("STATUS=LDAP down: 3 of 3"), std::string::npos)
        << h.notifier.messages.back();
}

TEST(Daemon, TheOutageIsOneEventNamingServerTableAndStep) {
    Harness h;
    h.script = {true, false};
    EXPECT_EQ(h.run(), exit_unavailable);
    std::vector<Event> seen;
    for (auto &[e, f] : h.log.events)
        seen.push_back(e);
    EXPECT_EQ(seen, (std::vector<Event>{Event::ready, Event::round_failed, Event::round_failed,
                                        Event::round_failed, Event::down}));
    const EventFields &down = h.log.events.back().second;
    EXPECT_FALSE(down.server.empty());
    EXPECT_FALSE(down.table.empty());
    EXPECT_EQ(down.step, "connect");
    EXPECT_FALSE(down.result.empty());
}

TEST(Daemon, MetricsAfterEveryRoundAndTheOutageLast) {
    struct Sink final : MetricsSink {
        std::vector<std::string> texts;
        void write(const Metrics &m) override { texts.push_back(m.text()); }
    } sink;
    Harness h;
    h.script = {true, false};
    h.daemon_setup = [&](Daemon &d) { d.report_metrics_to(sink); };
    EXPECT_EQ(h.run(), exit_unavailable);
    ASSERT_EQ(sink.texts.size(), 4u) << "one good round and three failed ones";
    EXPECT_NE(sink.texts[0].find("\nldap_health_check_up 1\n"), std::string::npos);
    EXPECT_NE(sink.texts[3].find("\nldap_health_check_up 0\n"), std::string::npos);
    EXPECT_NE(sink.texts[3].find("\nldap_health_check_consecutive_failures 3\n"),
              std::string::npos);
}

TEST(Daemon, ADegradedListIsOneWarningAStatusOfItsOwnAndOneNoticeWhenBack) {
    Harness h;
    h.script = {true};
    ServerState one{"ldap://ldap1/", true, "", {}, {0}}, two{"ldap://ldap2/", true, "", {}, {0}};
    ServerState one_down{"ldap://ldap1/", false, "connect: Can't contact LDAP server", {}, {0}};
    h.servers_by_round = {
        {one, two}, {one_down, two}, {one_down, two}, {one_down, two}, {one, two}};
    h.events.signal_at(27s, Wakeup::terminate); // rounds at 0, 5, 10, 15, 20 and 25 s
    EXPECT_EQ(h.run(), exit_ok);
    std::vector<Event> seen;
    for (auto &[e, f] : h.log.events)
        if (e == Event::degraded || e == Event::server_back)
            seen.push_back(e);
    EXPECT_EQ(seen, (std::vector<Event>{Event::degraded, Event::server_back})) << h.log.text;
    EXPECT_NE(h.notifier.messages[2].find("STATUS=LDAP degraded: ldap://ldap1/: connect: Can't "
                                          "contact LDAP server, 1/2 servers answer, last round"),
              std::string::npos)
        << h.notifier.messages[2];
    EXPECT_NE(h.notifier.messages[5].find("STATUS=LDAP healthy: 1 search on 1 connection, 2/2 "
                                          "servers answer"),
              std::string::npos)
        << h.notifier.messages[5];
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 6) << "degraded is healthy, as for Postfix";
}

TEST(Daemon, ASingleServerThatFailsIsAnOutageNotDegraded) {
    Harness h;
    h.script = {true, false};
    h.servers_by_round = {{{"ldap://ldap1/", true, "", {}}},
                          {{"ldap://ldap1/", false, "connect: Can't contact LDAP server", {}}}};
    EXPECT_EQ(h.run(), exit_unavailable);
    for (auto &[e, f] : h.log.events)
        EXPECT_NE(e, Event::degraded) << h.log.text;
}

TEST(Daemon, SingleFailedRoundBetweenGoodOnesKeepsRunning) {
    Harness h;
    h.script = {true, false, true, false, true};
    h.events.signal_at(60s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    EXPECT_NE(h.log.text.find("LDAP answers again"), std::string::npos);
}

TEST(Daemon, StatusSaysWhatIsWatchedLatencyAndFailures) {
    Harness h;
    h.script = {true, false};
    h.run(Policy{5s, 500ms, 2});
    EXPECT_NE(h.notifier.messages[1].find("STATUS=LDAP healthy: 1 search on 1 connection, last "
                                          "round 0.0 ms, 0 consecutive failures"),
              std::string::npos)
        << h.notifier.messages[1];
    EXPECT_NE(h.notifier.messages[2].find("STATUS=LDAP failing: 1 of 2 consecutive failures, "
                                          "/etc/postfix/ldap-users.cf: connect"),
              std::string::npos)
        << h.notifier.messages[2];
}

TEST(Daemon, ReloadSendsReloadingThenReadyAndReloadsTheTables) {
    Harness h;
    h.script = {true};
    h.events.signal_at(7s, Wakeup::reload);
    h.events.signal_at(20s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    EXPECT_EQ(h.loads, 2);
    auto reloading = std::find_if(h.notifier.messages.begin(), h.notifier.messages.end(),
                                  [](auto &m) { return m.find("RELOADING=1") != m.npos; });
    ASSERT_NE(reloading, h.notifier.messages.end());
    EXPECT_NE(reloading->find("MONOTONIC_USEC="), std::string::npos);
    EXPECT_EQ((reloading + 1)->rfind("READY=1\n", 0), 0u) << *(reloading + 1);
}

// An error of ours (not a table Postfix cannot open: a canary, postconf) never stops mail.
TEST(Daemon, ConfigErrorOnReloadKeepsTheOldConfigurationAndRuns) {
    Harness h;
    h.script = {true};
    h.events.signal_at(7s, Wakeup::reload);
    h.events.signal_at(30s, Wakeup::terminate);
    Daemon d(
        Policy{5s, 500ms, 3},
        [&](ConfigFiles &) -> std::unique_ptr<Prober> {
            // The file breaks after the first load.
            if (h.loads++ > 0)
                throw ConfigError("/etc/postfix/ldap-users.cf", 7, "bad numerical value");
            auto p = std::make_unique<FakeProber>(h.script, &h.events);
            h.prober = p.get();
            return p;
        },
        h.notifier, h.events, h.runner, h.reloader, h.log);
    EXPECT_EQ(d.run(), exit_ok);
    EXPECT_NE(h.log.text.find("<3>reload failed, keeping the previous configuration: "
                              "/etc/postfix/ldap-users.cf:7: bad numerical value"),
              std::string::npos)
        << h.log.text;
    // Rounds at 0, 5, then 7 (right after the reload), 12, 17, 22, 27.
    EXPECT_EQ(h.prober->rounds, 7u) << "the old prober keeps probing";
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 7);
}

// After a change on disk Postfix opens the new file; where it cannot, its lookups fail, and so
// does every round, named as such.
TEST(Daemon, TableThatPostfixCannotOpenAfterAReloadFailsEveryRound) {
    Harness h;
    h.script = {true};
    h.events.signal_at(7s, Wakeup::reload);
    Daemon d(
        Policy{5s, 500ms, 3},
        [&](ConfigFiles &) -> std::unique_ptr<Prober> {
            if (h.loads++ > 0)
                throw UnusableTable(
                    ConfigError("/etc/postfix/ldap-users.cf", 7, "bad numerical value"));
            auto p = std::make_unique<FakeProber>(h.script, &h.events);
            h.prober = p.get();
            return p;
        },
        h.notifier, h.events, h.runner, h.reloader, h.log);
    EXPECT_EQ(d.run(), exit_unavailable);
    // Good rounds at 0 and 5 s; the reload at 7 s; failed rounds at 7, 7.5 and 8 s.
    EXPECT_EQ(h.events.elapsed(), 8s);
    const std::string why = "/etc/postfix/ldap-users.cf: a new Postfix process cannot open this "
                            "table, so its lookups fail: /etc/postfix/ldap-users.cf:7: bad "
                            "numerical value";
    EXPECT_NE(h.log.text.find("<3>reloaded: /etc/postfix/ldap-users.cf:7: bad numerical value; "
                              "Postfix cannot open this table either"),
              std::string::npos)
        << h.log.text;
    EXPECT_NE(h.log.text.find("<4>probe failed (1 of 3): " + why), std::string::npos) << h.log.text;
    EXPECT_NE(
        h.notifier.messages.back().find("STATUS=LDAP down: 3 of 3 consecutive failures, " + why),
        std::string::npos)
        << h.notifier.messages.back();
}

// A migration: the table now names the new server, and the old one is switched off. The
// rounds of the old file fail, but they are not counted: the file is read again first.
TEST(Daemon, FailedRoundsOfATableChangedOnDiskWaitForItToBeReadAgain) {
    char dir[] = "/tmp/lhc-daemon-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    std::string table = std::string(dir) + "/ldap-users.cf";
    std::ofstream(table) << "server_host = ldap://old/\n";
    Harness h;
    h.config_file = table;
    h.events.signal_at(20s, Wakeup::terminate);
    h.verdict = [&](ProbeMode, std::size_t round) {
        if (h.loads > 1)
            return true; // the new server answers
        if (round < 2)
            return true;
        if (round == 2) // edited in place, then the old server goes away
            std::ofstream(table) << "server_host = ldap://new.example/\n";
        return false;
    };
    EXPECT_EQ(h.run(), exit_ok);
    EXPECT_EQ(h.loads, 2) << h.log.text;
    EXPECT_EQ(h.log.text.find("probe failed"), std::string::npos) << h.log.text;
    EXPECT_NE(h.log.text.find(table + " changed: reloading"), std::string::npos) << h.log.text;
    std::remove(table.c_str());
    rmdir(dir);
}

TEST(Daemon, RefusesToStartWhenARoundCannotFitHalfTheWatchdog) {
    Harness h;
    h.script = {true};
    h.notifier.watchdog = std::chrono::microseconds(30s);
    // FakeProber's worst case is 10 s (< 15 s): fits.
    h.events.signal_at(1s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);

    Harness tight;
    tight.script = {true};
    tight.notifier.watchdog = std::chrono::microseconds(19s);
    try {
        tight.run();
        FAIL() << "a 10 s round must not fit in half of a 19 s watchdog";
    } catch (const ConfigError &e) {
        EXPECT_NE(std::string(e.what()).find("watchdog period"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tight.notifier.count("READY=1"), 0);
}

TEST(Daemon, RefusesAnIntervalLongerThanHalfTheWatchdog) {
    Harness h;
    h.script = {true};
    h.notifier.watchdog = std::chrono::microseconds(60s);
    EXPECT_THROW(h.run(Policy{31s, 500ms, 3}), ConfigError);
}

TEST(Daemon, HungServerRoundsOverlapSoTheOutageTakesAboutOneTimeout) {
    Harness h;
    h.script = {true, false};
    // The first round is quick; from the second on the server is hung: 10 s timeouts.
    h.runner.duration = [](std::size_t i) { return i == 0 ? Duration::zero() : Duration(10s); };
    EXPECT_EQ(h.run(), exit_unavailable);
    // Round 2 starts at 5 s; as it is still out at 5.5 and 6 s, two more start then.
    // Their timeouts end at 15, 15.5 and 16 s: 3 failures after one timeout, not three.
    EXPECT_EQ(h.events.elapsed(), 16s);
    EXPECT_EQ(h.runner.max_in_flight, 3u) << "never more rounds in flight than --failures";
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 1);
}

TEST(Daemon, SlowButAnsweringServerStaysHealthy) {
    Harness h;
    h.script = {true};
    h.runner.duration = [](std::size_t) { return Duration(3s); }; // below any timeout
    h.events.signal_at(60s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    EXPECT_EQ(h.notifier.count("READY=1"), 1);
    EXPECT_EQ(h.log.text.find("probe failed"), std::string::npos) << h.log.text;
}

TEST(Daemon, ClosedKeptConnectionTriggersAFullProbeAtOnce) {
    Harness h;
    h.script = {true, false};
    h.idle_connection_closes = true;
    h.events.signal_at(2s, Wakeup::io);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 60s}), exit_unavailable);
    // Without the wakeup the outage would be seen at 5 s and given up at 6 s.
    EXPECT_EQ(h.events.elapsed(), 3s) << "failures at 2, 2.5 and 3 s";
    EXPECT_NE(h.log.text.find("closed the kept connection"), std::string::npos);
    ASSERT_GE(h.runner.modes.size(), 2u);
    EXPECT_EQ(h.runner.modes[1], ProbeMode::full)
        << "the round after the close takes the full path";
}

// The directory sees a new connection only at the first round, after a failed round, and once
// every full_interval; the rounds in between search on the kept connection.
TEST(Daemon, FullPathOnlyAtStartAfterAFailureAndOnSchedule) {
    Harness h;
    h.script = {true, true, true, false, true, true, true, true, true, true, true, true, true};
    h.events.signal_at(61s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 20s}), exit_ok);
    // Rounds at 0, 5, 10, 15 (fails), 15.5 (full: after the failure), 20.5, 25.5, 30.5, 35.5
    // (full: 20 s after 15.5), ..., 55.5 (full), 60.5 s.
    using M = ProbeMode;
    std::vector<ProbeMode> want = {M::full, M::kept, M::kept, M::kept, M::full, M::kept, M::kept,
                                   M::kept, M::full, M::kept, M::kept, M::kept, M::full, M::kept};
    EXPECT_EQ(h.runner.modes, want);
}

TEST(Daemon, FullIntervalZeroTakesTheFullPathEveryRound) {
    Harness h;
    h.script = {true};
    h.events.signal_at(21s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3}), exit_ok);
    EXPECT_EQ(h.runner.modes, std::vector<ProbeMode>(5, ProbeMode::full));
}

TEST(Daemon, ReloadThatNeverFinishesLeavesRoundsWatchdogAndSigtermAlone) {
    Harness h;
    h.script = {true};
    h.reloader.delay.reset(); // a table replaced by a FIFO, a postconf that hangs
    h.events.signal_at(7s, Wakeup::reload);
    h.events.signal_at(30s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    EXPECT_EQ(h.events.elapsed(), 30s) << "SIGTERM handled at once";
    EXPECT_EQ(h.loads, 1) << "the reload must not run in the loop";
    EXPECT_TRUE(h.reloader.pending());
    // Rounds at 0, 5, then on the old prober at 10, 15, 20 and 25 s.
    EXPECT_EQ(h.prober->rounds, 6u);
    auto reloading = std::find_if(h.notifier.messages.begin(), h.notifier.messages.end(),
                                  [](auto &m) { return m.find("RELOADING=1") != m.npos; });
    ASSERT_NE(reloading, h.notifier.messages.end());
    EXPECT_EQ(std::count_if(reloading, h.notifier.messages.end(),
                            [](auto &m) { return m.find("WATCHDOG=1") != m.npos; }),
              4);
    EXPECT_NE(h.notifier.messages.back().find("STOPPING=1"), std::string::npos);
}

TEST(Daemon, SighupsDuringAPendingReloadMakeExactlyOneMore) {
    Harness h;
    h.script = {true};
    h.reloader.delay = 3s;
    h.events.signal_at(7s, Wakeup::reload);
    h.events.signal_at(8s, Wakeup::reload);
    h.events.signal_at(9s, Wakeup::reload);
    h.events.signal_at(30s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    // The first load, the reload at 7 s, and one more for the SIGHUPs at 8 and 9 s.
    EXPECT_EQ(h.loads, 3);
    EXPECT_EQ(h.reloader.started, 2u);
    EXPECT_EQ(h.notifier.count("RELOADING=1"), 2);
    EXPECT_EQ(h.notifier.count("READY=1"), 3) << "the first good round and each reload";
}

TEST(Daemon, FailedReloadShowsInEveryStatusUntilAGoodReload) {
    Harness h;
    h.script = {true};
    h.events.signal_at(7s, Wakeup::reload);
    h.events.signal_at(20s, Wakeup::reload);
    h.events.signal_at(30s, Wakeup::terminate);
    Daemon d(
        Policy{5s, 500ms, 3},
        [&](ConfigFiles &) -> std::unique_ptr<Prober> {
            // Broken for the first reload, fixed for the second.
            if (h.loads++ == 1)
                throw ConfigError("/etc/postfix/ldap-users.cf", 7, "bad numerical value");
            auto p = std::make_unique<FakeProber>(h.script, &h.events);
            h.prober = p.get();
            return p;
        },
        h.notifier, h.events, h.runner, h.reloader, h.log);
    EXPECT_EQ(d.run(), exit_ok);
    const std::string failure =
        "; last reload failed: /etc/postfix/ldap-users.cf:7: bad numerical value";
    auto &m = h.notifier.messages;
    auto reloads = std::vector<std::size_t>{};
    for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i].find("RELOADING=1") != std::string::npos)
            reloads.push_back(i);
    ASSERT_EQ(reloads.size(), 2u);
    for (std::size_t i = 0; i < m.size(); ++i) {
        bool failed_meanwhile = i > reloads[0] && i <= reloads[1];
        EXPECT_EQ(m[i].find(failure) != std::string::npos, failed_meanwhile) << i << ": " << m[i];
    }
    EXPECT_GE(reloads[1] - reloads[0], 3u) << "rounds ran between the reloads";
    auto at = h.log.text.find("<3>reload failed");
    ASSERT_NE(at, std::string::npos) << h.log.text;
    EXPECT_EQ(h.log.text.find("reload failed", at + 4), std::string::npos) << "logged once";
}

TEST(Daemon, RoundsInFlightAreCappedWhateverFailuresSays) {
    Harness h;
    h.script = {false};
    h.runner.duration = [](std::size_t) { return Duration(std::chrono::hours(1000)); };
    h.events.signal_at(60s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 1000}), exit_ok);
    EXPECT_EQ(h.runner.max_in_flight, max_rounds_in_flight);
    EXPECT_EQ(h.runner.started, max_rounds_in_flight);
}

// One connection: the rounds between full paths are one search run by the loop itself, no
// thread; only the full paths go to the runner.
TEST(Daemon, KeptRoundsRunInTheLoopAndFullPathsOnTheRunner) {
    Harness h;
    h.script = {true};
    h.loop_rounds = true;
    h.events.signal_at(46s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 20s}), exit_ok);
    // Full paths at 0, 20 and 40 s; the 7 rounds in between in the loop.
    EXPECT_EQ(h.runner.modes, std::vector<ProbeMode>(3, ProbeMode::full));
    EXPECT_EQ(h.prober->loop_rounds_started, 7u);
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 10);
}

// A kept connection the server closed is no verdict: the full path runs at once, and only its
// outcome counts.
TEST(Daemon, KeptConnectionFoundClosedTakesTheFullPathAtOnceWithoutAFailure) {
    Harness h;
    h.script = {true};
    h.loop_rounds = true;
    h.kept_fails_once = true;
    h.events.signal_at(6s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 20s}), exit_ok);
    ASSERT_EQ(h.runner.modes.size(), 2u)
        << "full at 0 s, and again at 5 s right after the loop round";
    EXPECT_EQ(h.runner.modes[1], ProbeMode::full);
    EXPECT_EQ(h.log.text.find("probe failed"), std::string::npos) << h.log.text;
    EXPECT_EQ(h.notifier.count("WATCHDOG=1"), 2);
}

// A hung server: the loop round waits for its timeout, and the rounds that must start beside it
// every --retry-interval (so that a hang is confirmed after about one timeout) still start.
TEST(Daemon, ALoopRoundWaitingForAnAnswerDoesNotHoldUpTheRoundsBesideIt) {
    Harness h;
    h.script = {true};
    h.loop_rounds = true;
    h.loop_round_hangs_for = 2s;
    h.events.signal_at(6s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 60s}), exit_ok);
    // Full at 0 s; the loop round from 5 s waits until 7 s; a round beside it at 5.5 s.
    EXPECT_EQ(h.prober->loop_rounds_started, 1u);
    EXPECT_EQ(h.runner.modes, (std::vector<ProbeMode>{ProbeMode::full, ProbeMode::kept}));
}

// Issue 19, item 1: new connections take 3 s and then fail (slapd at its connection limit, a
// changed password behind a slow link) while the kept connection still answers. The rounds
// started beside the slow full path must take it too, or their good verdicts hide it forever.
TEST(Daemon, AFullPathThatFailsSlowlyIsNotHiddenByKeptRoundsBesideIt) {
    for (bool in_loop : {false, true}) {
        Harness h;
        h.loop_rounds = in_loop;
        h.verdict = [](ProbeMode mode, std::size_t round) {
            return round == 0 || mode == ProbeMode::kept;
        };
        h.runner.duration = [&h](std::size_t i) {
            return i > 0 && h.runner.modes[i] == ProbeMode::full ? Duration(3s) : Duration(0s);
        };
        h.events.signal_at(120s, Wakeup::terminate);
        EXPECT_EQ(h.run(Policy{1s, 250ms, 3, 5s}), exit_unavailable) << h.log.text;
        // The first full path after the start is due at 5 s; it and the two started beside it
        // at 5.25 and 5.5 s fail 3 s later.
        EXPECT_EQ(h.events.elapsed(), 8500ms) << (in_loop ? "loop" : "threaded") << h.log.text;
        EXPECT_EQ(h.log.text.find("LDAP answers again"), std::string::npos) << h.log.text;
    }
}

// A kept round still out when a full path fails (it started before) answers well after the
// failure: that says nothing about a new Postfix process, so it must not reset the count.
TEST(Daemon, AGoodKeptRoundThatEndsAfterAFailedFullPathDoesNotResetTheCount) {
    Harness h;
    h.verdict = [](ProbeMode mode, std::size_t round) {
        return round == 0 || mode == ProbeMode::kept;
    };
    // The kept round started at 15 s answers only at 21 s; the full path due at 20 s fails.
    h.runner.duration = [](std::size_t i) { return i == 3 ? Duration(6s) : Duration(0s); };
    h.events.signal_at(60s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 20s}), exit_unavailable) << h.log.text;
    // Full paths fail at 20.x, +0.5 and +1 s, whatever the kept round said at 21 s.
    EXPECT_LE(h.events.elapsed(), 21500ms) << h.log.text;
    EXPECT_EQ(h.log.text.find("LDAP answers again"), std::string::npos) << h.log.text;
}

namespace {

// The fields of one notify datagram that are not STATUS=, in order.
std::vector<std::string> control_fields(const std::string &datagram) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at <= datagram.size()) {
        auto end = std::min(datagram.find('\n', at), datagram.size());
        auto field = datagram.substr(at, end - at);
        if (!field.empty() && field.rfind("STATUS=", 0) != 0)
            out.push_back(field);
        at = end + 1;
    }
    return out;
}

} // namespace

// Issue 19, item 3: a server that answers a bind with "denied\nWATCHDOG=trigger\nREADY=1" made
// the daemon send READY=1 before any good round.
TEST(Daemon, NothingAServerSaysBecomesANotifyField) {
    Harness h;
    h.script = {false, false, true};
    h.diagnostic = "denied\nWATCHDOG=trigger\nREADY=1\rSTOPPING=1";
    h.events.signal_at(3s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    std::vector<std::vector<std::string>> fields;
    for (const auto &m : h.notifier.messages)
        fields.push_back(control_fields(m));
    ASSERT_GE(fields.size(), 4u);
    EXPECT_TRUE(fields[1].empty()) << h.notifier.messages[1];
    EXPECT_TRUE(fields[2].empty()) << h.notifier.messages[2];
    EXPECT_EQ(fields[3], (std::vector<std::string>{"READY=1", "WATCHDOG=1"}))
        << "READY=1 only with the first good round";
    EXPECT_NE(h.notifier.messages[1].find("denied WATCHDOG=trigger READY=1 STOPPING=1"),
              std::string::npos)
        << "the text is still shown, on one line: " << h.notifier.messages[1];
}

// A degraded server's diagnostic of any length: the datagram with the round's WATCHDOG=1 must
// stay under the 4 KiB that systemd reads, or systemd drops it and its watchdog fires.
TEST(Daemon, AHugeDiagnosticCannotCostTheWatchdogPing) {
    Harness h;
    h.script = {true};
    std::string why(100000, 'x');
    h.servers_by_round = {{{"ldap://a", false, "bind: " + why, {}}, {"ldap://b", true, "", {}}}};
    h.events.signal_at(1s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    ASSERT_GE(h.notifier.messages.size(), 2u);
    const auto &first = h.notifier.messages[1];
    EXPECT_NE(first.find("WATCHDOG=1"), std::string::npos);
    EXPECT_NE(first.find("LDAP degraded"), std::string::npos) << first.substr(0, 200);
    EXPECT_LE(first.size(), 2048u);
}

// Issue 19, item 6: two tables with one server each are two lists of one, not a list of two:
// one of them failing is the outage the rounds report, never "degraded, Postfix still works".
TEST(Daemon, ServersAreCountedWithinTheirOwnServerHostList) {
    Harness h;
    h.script = {true, false};
    ServerState a{"ldap://a/", true, "", {}, {0}}, b{"ldap://b/", true, "", {}, {1}};
    ServerState a_down{"ldap://a/", false, "connect: Can't contact LDAP server", {}, {0}};
    h.servers_by_round = {{a, b}, {a_down, b}};
    EXPECT_EQ(h.run(), exit_unavailable);
    for (auto &[e, f] : h.log.events)
        EXPECT_NE(e, Event::degraded) << h.log.text;
    EXPECT_EQ(h.log.text.find("still works"), std::string::npos) << h.log.text;
}

// Issue 19, item 6: slapd's idletimeout below --interval closes the kept connection before
// every round; one line a round would be tens of thousands of journal lines a day.
TEST(Daemon, AServerThatClosesEveryIdleConnectionIsSaidOnceThenHourly) {
    Harness h;
    h.script = {true};
    h.idle_connection_always_closes = true;
    for (int i = 0; i <= 2 * 3600; ++i) // a close a second for two hours
        h.events.signal_at(std::chrono::seconds(i) + 500ms, Wakeup::io);
    h.events.signal_at(7201s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{1s, 250ms, 3, 120s}), exit_ok);
    std::size_t lines = 0;
    for (std::size_t at = 0;
         (at = h.log.text.find("closed the kept connection", at)) != std::string::npos; ++at)
        ++lines;
    EXPECT_EQ(lines, 3u) << "once at the first, then once an hour";
    EXPECT_NE(h.log.text.find("closed the kept connection 3600 times"), std::string::npos)
        << h.log.text.substr(0, 2000);
}

// A full path that bound before the password changed can end well after the ones started
// beside it failed: it must not reset their count (nor clear the need for a full path).
TEST(Daemon, AGoodRoundThatEndsAfterALaterOneFailedIsNotCounted) {
    Harness h;
    h.verdict = [](ProbeMode, std::size_t round) { return round <= 4; };
    // Full path 4 starts at 20 s and ends well at 22.2 s; 5 and 6 start beside it at 20.5 and
    // 21 s and fail 1 s later, 7 starts a retry interval after that and fails at 23.5 s.
    h.runner.duration = [](std::size_t i) {
        return i == 4 ? Duration(2200ms) : i > 4 ? Duration(1s) : Duration(0s);
    };
    h.events.signal_at(60s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 20s}), exit_unavailable) << h.log.text;
    EXPECT_EQ(h.events.elapsed(), 23500ms) << h.log.text;
    EXPECT_EQ(h.log.text.find("LDAP answers again"), std::string::npos) << h.log.text;
}

// New tables: a round of the old ones still out does not count for them, and the first round
// of the new ones takes the full path (and so probes every server of their lists).
TEST(Daemon, AfterAReloadRoundsOfTheOldTablesDoNotCountAndTheNextTakesTheFullPath) {
    Harness h;
    h.verdict = [](ProbeMode, std::size_t round) { return round != 1; };
    h.runner.duration = [](std::size_t i) { return i == 1 ? Duration(2s) : Duration(0s); };
    h.events.signal_at(5500ms, Wakeup::reload);
    h.events.signal_at(8s, Wakeup::terminate);
    EXPECT_EQ(h.run(Policy{5s, 500ms, 3, 60s}), exit_ok) << h.log.text;
    EXPECT_EQ(h.loads, 2);
    ASSERT_GE(h.runner.modes.size(), 3u);
    EXPECT_EQ(h.runner.modes[2], ProbeMode::full) << "the first round of the new tables";
    EXPECT_EQ(h.log.text.find("probe failed"), std::string::npos) << h.log.text;
}

// A server named by a list of two and by a table of its own: it failing is not "Postfix still
// works", for that table fails; and a list of two whose other member is counted first in
// another list is still a list of two.
TEST(Daemon, AServerInSeveralListsIsCountedInEach) {
    Harness h;
    h.script = {true};
    ServerState s1{"ldap://s1/", true, "", {}, {0, 1}}, s2{"ldap://s2/", true, "", {}, {1, 2}};
    ServerState s2_down{"ldap://s2/", false, "connect: Can't contact LDAP server", {}, {1, 2}};
    h.servers_by_round = {{s1, s2}, {s1, s2_down}};
    h.events.signal_at(6s, Wakeup::terminate);
    EXPECT_EQ(h.run(), exit_ok);
    std::vector<Event> seen;
    for (auto &[e, f] : h.log.events)
        if (e == Event::degraded)
            seen.push_back(e);
    EXPECT_EQ(seen.size(), 1u) << "s2 is in the list {s1, s2}: " << h.log.text;
    EXPECT_EQ(h.log.text.find("still works"), std::string::npos)
        << "s2 is the only server of list 2" << h.log.text;
}

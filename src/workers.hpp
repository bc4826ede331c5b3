// Threads kept for reuse. A round and each of its connection probes run on threads of their
// own (so that the loop and the step deadlines stay in charge), and starting a thread costs
// more than a whole probe on a kept connection: measured here, about half a millisecond of
// CPU each, twice a round, for a probe that is one search. Idle threads wait for the next job;
// a job stuck in libldap keeps its thread, and the next job gets another.
#pragma once

#include <cstddef>
#include <functional>

namespace lhc {

// Runs `job` on an idle pooled thread, or a new one. Never blocks on a running job.
void run_on_worker(std::function<void()> job);

// Idle threads kept for the next jobs; more than this end. A round on each of a few
// connections, and the rounds side by side against a slow server, fit.
inline constexpr std::size_t max_idle_workers = 8;

} // namespace lhc

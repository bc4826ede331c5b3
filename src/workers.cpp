#include "workers.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace lhc {

namespace {

// Never destroyed: detached threads may use it until the process ends (a job stuck on a hung
// server at exit), and the daemon ends with _Exit() or return from main either way.
struct Pool {
    std::mutex mutex;
    std::condition_variable work;
    std::deque<std::function<void()>> jobs;
    std::size_t idle = 0;

    void serve() {
        std::unique_lock lock(mutex);
        for (;;) {
            while (jobs.empty()) {
                ++idle;
                work.wait(lock);
                --idle;
            }
            auto job = std::move(jobs.front());
            jobs.pop_front();
            lock.unlock();
            job();
            job = nullptr; // what the job held goes before the thread waits again
            lock.lock();
            if (idle >= max_idle_workers)
                return;
        }
    }
};

Pool &pool() {
    static Pool *p = new Pool;
    return *p;
}

} // namespace

void run_on_worker(std::function<void()> job) {
    Pool &p = pool();
    std::unique_lock lock(p.mutex);
    p.jobs.push_back(std::move(job));
    // Queued jobs beyond the idle threads get a thread of their own: a job must never wait
    // behind one stuck in libldap.
    if (p.jobs.size() <= p.idle) {
        p.work.notify_one();
        return;
    }
    lock.unlock();
    std::thread([&p] { p.serve(); }).detach();
}

} // namespace lhc

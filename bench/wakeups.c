/* wakeups PERIOD N SECONDS: sleeps and wakes N times per PERIOD seconds (ppoll on nothing) for
 * SECONDS, then prints "cpu_seconds wall_seconds". The least CPU any process can spend that
 * wakes as often as the daemon must: a floor for its CPU per day on this machine. */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: wakeups PERIOD N SECONDS\n");
        return 64;
    }
    double step = atof(argv[1]) / atoi(argv[2]), seconds = atof(argv[3]);
    double wall0 = now(CLOCK_MONOTONIC), cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    for (double t = step; t <= seconds; t += step) {
        double left = wall0 + t - now(CLOCK_MONOTONIC);
        if (left <= 0)
            continue;
        struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
        ppoll(NULL, 0, &ts, NULL);
    }
    printf("%.9f %.9f\n", now(CLOCK_PROCESS_CPUTIME_ID) - cpu0, now(CLOCK_MONOTONIC) - wall0);
    return 0;
}

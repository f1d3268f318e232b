/* runstat — runs a command and writes its wall time, CPU time and peak
 * resident memory (getrusage of the child: ru_maxrss), like GNU time -v
 * without needing it installed.
 *
 *   runstat OUT COMMAND [ARG…]
 *
 * OUT gets one line: "elapsed_s user_s sys_s maxrss_kb exit_status".
 * The command's exit status is passed on; TERM, INT and HUP are passed on to
 * the command (a harness that stops runstat stops what it measures).
 * Build: cc -O2 -o runstat runstat.c */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;
static void pass_on(int sig) { if (child > 0) kill(child, sig); }

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: runstat OUT COMMAND [ARG...]\n"); return 2; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("runstat: fork"); return 127; }
    if (pid == 0) { execvp(argv[2], argv + 2); perror("runstat: exec"); _exit(127); }
    child = pid;
    struct sigaction sa = {.sa_handler = pass_on};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); sigaction(SIGHUP, &sa, NULL);
    int st = 0;
    struct rusage ru;
    pid_t w;
    while ((w = wait4(pid, &st, 0, &ru)) < 0 && errno == EINTR) {}
    if (w < 0) { perror("runstat: wait4"); return 127; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror("runstat: output"); return code ? code : 127; }
    fprintf(f, "%.3f %.3f %.3f %ld %d\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
            ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
            ru.ru_maxrss, code);
    fclose(f);
    return code;
}

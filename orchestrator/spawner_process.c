/* spawner_process.c - workers as child processes (fork/exec of WORKER_BIN).
 *
 * One thread of ours (the "keeper") does every fork and every waitpid. Forking there
 * matters: PR_SET_PDEATHSIG fires when the *thread* that forked exits, so children forked
 * from a short-lived HTTP thread would die with it; the keeper lives as long as the
 * spawner. Reaping there means no child stays a zombie, without a SIGCHLD handler in a
 * multi-threaded program and without waitpid(-1) stealing other children's statuses. */
#include "spawner_impl.h"

#include "clock.h"

#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REAP_INTERVAL_MS 100

struct child {
    char id[MEMBER_ID_MAX];
    char role[8];
    pid_t pid;
    int running;
    int exit_code;
    char *db_path;
};

/* A fork the keeper does on a caller's behalf. */
struct fork_req {
    char **argv;
    char **envp;
    pid_t pid;   /* result: > 0, or -1 with err */
    int err;
    int done;
    struct fork_req *next;
};

struct pspawner {
    char *bin;
    char *data_dir;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct child *kids;
    size_t n, cap;
    struct fork_req *reqs;
    int stop;
    pthread_t keeper;
};

static struct pspawner *impl(struct spawner *sp)
{
    return sp->impl;
}

static struct child *find_locked(struct pspawner *ps, const char *id)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strcmp(ps->kids[i].id, id) == 0)
            return &ps->kids[i];
    return NULL;
}

static void record_exit(struct child *c, int status)
{
    c->running = 0;
    c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    log_info("spawner: worker %s (pid %d) exited with %d", c->id, (int)c->pid, c->exit_code);
}

/* Collects every child that has exited; mu held. */
static void reap_locked(struct pspawner *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        struct child *c = &ps->kids[i];
        int status;
        if (c->running && waitpid(c->pid, &status, WNOHANG) == c->pid)
            record_exit(c, status);
    }
}

/* In the keeper: fork, and exec in the child. A close-on-exec pipe tells the parent
 * whether exec worked, so a bad WORKER_BIN is an error now rather than a dead child later. */
static void do_fork(struct fork_req *r)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        r->pid = -1;
        r->err = errno;
        return;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)  /* the orchestrator died before prctl took effect */
            _exit(127);
        close_range(3, (unsigned)pfd[1] - 1, 0);  /* our sockets are not the worker's business */
        close_range((unsigned)pfd[1] + 1, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(r->argv[0], r->argv, r->envp);
        int e = errno;
        ssize_t w = write(pfd[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) {
        r->pid = -1;
        r->err = errno;
        close(pfd[0]);
        return;
    }
    int e = 0;
    ssize_t got;
    do
        got = read(pfd[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    close(pfd[0]);
    if (got == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);  /* it has _exit'ed already */
        r->pid = -1;
        r->err = e;
        return;
    }
    r->pid = pid;
    r->err = 0;
}

static void *keeper(void *arg)
{
    struct pspawner *ps = arg;
    pthread_mutex_lock(&ps->mu);
    while (!ps->stop) {
        while (ps->reqs) {
            struct fork_req *r = ps->reqs;
            ps->reqs = r->next;
            do_fork(r);  /* fast (no waiting on the child), fine under mu */
            r->done = 1;
            pthread_cond_broadcast(&ps->cond);
        }
        reap_locked(ps);
        struct timespec until;
        clock_deadline(&until, REAP_INTERVAL_MS);
        if (!ps->reqs && !ps->stop)
            pthread_cond_timedwait(&ps->cond, &ps->mu, &until);
    }
    pthread_mutex_unlock(&ps->mu);
    return NULL;
}

static int mkdir_p(const char *dir)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                log_error("spawner: mkdir %s: %s", p, strerror(errno));
                rc = -1;
                break;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return rc;
}

static void fill(const struct child *c, struct spawner_worker *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", c->id);
    snprintf(out->role, sizeof out->role, "%s", c->role);
    out->pid = c->running ? (long)c->pid : 0;
    out->running = c->running;
    out->exit_code = c->exit_code;
}

static int p_start(struct spawner *sp, const char *id, const char *role, const char *const *extra_env,
                   struct spawner_worker *out)
{
    struct pspawner *ps = impl(sp);
    if (mkdir_p(ps->data_dir) < 0)
        return SPAWNER_ERR;
    char *db_path = xasprintf("%s/%s.db", ps->data_dir, id);
    char *argv[] = {ps->bin, NULL};
    struct fork_req r = {.argv = argv, .envp = spawner_env(id, role, db_path, extra_env)};

    pthread_mutex_lock(&ps->mu);
    r.next = ps->reqs;
    ps->reqs = &r;
    pthread_cond_broadcast(&ps->cond);
    while (!r.done)
        pthread_cond_wait(&ps->cond, &ps->mu);
    int rc = SPAWNER_OK;
    if (r.pid < 0) {
        log_error("spawner: cannot run %s: %s", ps->bin, strerror(r.err));
        rc = SPAWNER_ERR;
    } else {
        if (ps->n == ps->cap) {
            ps->cap = ps->cap ? 2 * ps->cap : 8;
            ps->kids = xrealloc(ps->kids, ps->cap * sizeof *ps->kids);
        }
        struct child *c = &ps->kids[ps->n++];
        memset(c, 0, sizeof *c);
        snprintf(c->id, sizeof c->id, "%s", id);
        snprintf(c->role, sizeof c->role, "%s", role);
        c->pid = r.pid;
        c->running = 1;
        c->db_path = db_path;
        db_path = NULL;
        fill(c, out);
    }
    pthread_mutex_unlock(&ps->mu);
    spawner_env_free(r.envp);
    free(db_path);
    return rc;
}

static int p_inspect(struct spawner *sp, const char *id, struct spawner_worker *out)
{
    struct pspawner *ps = impl(sp);
    pthread_mutex_lock(&ps->mu);
    reap_locked(ps);  /* fresh, not up to REAP_INTERVAL_MS old */
    struct child *c = find_locked(ps, id);
    if (c)
        fill(c, out);
    pthread_mutex_unlock(&ps->mu);
    return c ? SPAWNER_OK : SPAWNER_ENOTFOUND;
}

static int p_kill(struct spawner *sp, const char *id, int sig)
{
    struct pspawner *ps = impl(sp);
    pthread_mutex_lock(&ps->mu);
    reap_locked(ps);
    struct child *c = find_locked(ps, id);
    int rc = !c ? SPAWNER_ENOTFOUND : !c->running ? SPAWNER_ENOTRUNNING : SPAWNER_OK;
    /* Not yet reaped, so the pid is still ours and cannot have been reused. */
    if (rc == SPAWNER_OK && kill(c->pid, sig) < 0) {
        log_error("spawner: kill %d: %s", (int)c->pid, strerror(errno));
        rc = SPAWNER_ERR;
    }
    pthread_mutex_unlock(&ps->mu);
    return rc;
}

static int p_remove(struct spawner *sp, const char *id)
{
    struct pspawner *ps = impl(sp);
    pthread_mutex_lock(&ps->mu);
    struct child *c = find_locked(ps, id);
    if (!c) {
        pthread_mutex_unlock(&ps->mu);
        return SPAWNER_ENOTFOUND;
    }
    if (c->running) {
        int status;
        kill(c->pid, SIGKILL);
        if (waitpid(c->pid, &status, 0) == c->pid)  /* SIGKILL: prompt, fine under mu */
            record_exit(c, status);
    }
    /* The database stays: if every live copy is lost at once, the next master seeds
     * from the freshest file left here (worker/seed.c), as on the docker volume. */
    free(c->db_path);
    *c = ps->kids[--ps->n];
    pthread_mutex_unlock(&ps->mu);
    return SPAWNER_OK;
}

static int p_list(struct spawner *sp, struct spawner_worker **out, size_t *n)
{
    struct pspawner *ps = impl(sp);
    pthread_mutex_lock(&ps->mu);
    reap_locked(ps);
    if (ps->n) {
        *out = xcalloc(ps->n, sizeof **out);
        for (size_t i = 0; i < ps->n; i++)
            fill(&ps->kids[i], &(*out)[i]);
    }
    *n = ps->n;
    pthread_mutex_unlock(&ps->mu);
    return SPAWNER_OK;
}

/* Stops every child: SIGTERM, up to two seconds to go, then SIGKILL; all reaped. */
static void p_free(struct spawner *sp)
{
    struct pspawner *ps = impl(sp);
    pthread_mutex_lock(&ps->mu);
    ps->stop = 1;
    pthread_cond_broadcast(&ps->cond);
    pthread_mutex_unlock(&ps->mu);
    pthread_join(ps->keeper, NULL);

    for (size_t i = 0; i < ps->n; i++)
        if (ps->kids[i].running)
            kill(ps->kids[i].pid, SIGTERM);
    for (int t = 0; t < 2000 / REAP_INTERVAL_MS; t++) {
        reap_locked(ps);
        int left = 0;
        for (size_t i = 0; i < ps->n; i++)
            left += ps->kids[i].running;
        if (!left)
            break;
        struct timespec pause = {0, REAP_INTERVAL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
    for (size_t i = 0; i < ps->n; i++) {
        struct child *c = &ps->kids[i];
        if (c->running) {
            int status;
            kill(c->pid, SIGKILL);
            if (waitpid(c->pid, &status, 0) == c->pid)
                record_exit(c, status);
        }
        free(c->db_path);
    }
    free(ps->kids);
    pthread_cond_destroy(&ps->cond);
    pthread_mutex_destroy(&ps->mu);
    free(ps->data_dir);
    free(ps->bin);
    free(ps);
}

static const struct spawner_ops process_ops = {
    .name = "process",
    .start = p_start,
    .inspect = p_inspect,
    .kill = p_kill,
    .remove = p_remove,
    .list = p_list,
    .free = p_free,
};

int spawner_process_init(struct spawner *sp, const struct spawner_cfg *cfg)
{
    const char *bin = cfg->worker_bin && *cfg->worker_bin ? cfg->worker_bin : "build/rel/worker";
    if (access(bin, X_OK) != 0) {
        log_error("spawner: WORKER_BIN %s is not executable: %s", bin, strerror(errno));
        return SPAWNER_ERR;
    }
    struct pspawner *ps = xcalloc(1, sizeof *ps);
    /* An absolute path, so that a later chdir cannot make exec miss it. */
    char *abs = realpath(bin, NULL);
    ps->bin = abs ? xstrdup(abs) : xstrdup(bin);
    free(abs);
    ps->data_dir = xstrdup(cfg->data_dir && *cfg->data_dir ? cfg->data_dir : "/tmp/rideshare-data");
    pthread_mutex_init(&ps->mu, NULL);
    clock_cond_init(&ps->cond);
    if (pthread_create(&ps->keeper, NULL, keeper, ps) != 0) {
        log_error("spawner: cannot start the keeper thread");
        pthread_cond_destroy(&ps->cond);
        pthread_mutex_destroy(&ps->mu);
        free(ps->data_dir);
        free(ps->bin);
        free(ps);
        return SPAWNER_ERR;
    }
    sp->ops = &process_ops;
    sp->impl = ps;
    return SPAWNER_OK;
}

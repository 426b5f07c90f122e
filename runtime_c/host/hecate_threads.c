/* hecate_threads.c — the worker pool of hecate_threads.h: POSIX threads, the GCC/Clang __atomic
 * builtins for the hand-offs, a mutex and condition variable for sleeping between runs. */
#define _POSIX_C_SOURCE 200112L
#include "hecate_threads.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

/* An idle worker spins (HECATE_THREADS_PAUSE_NS with the CPU's pause hint, then yielding its
 * core at each look, which keeps a pool with more workers than free cores moving) for
 * HECATE_THREADS_SPIN_NS, longer than the serial work between two training steps (~0.5 ms), and
 * then sleeps; the caller waits for the others' last tasks the same way, without the sleep. */
#define HECATE_THREADS_PAUSE_NS 50000L
#define HECATE_THREADS_SPIN_NS 2000000L

struct hecate_threads {
    size_t n;             /* workers, the caller included */
    pthread_t *threads;   /* n - 1 */
    pthread_mutex_t lock; /* guards sleepers, stop and failures; with `wake` for sleeping */
    pthread_cond_t wake;
    int sleepers;
    int stop; /* written under lock, read by spinning workers too (atomic) */
    /* the current run: written by the caller before it bumps `generation` */
    hecate_task_fn fn;
    void *ctx;
    size_t n_tasks;
    size_t next;              /* the next task to take (atomic) */
    size_t finished;          /* workers other than the caller done with this run (atomic) */
    unsigned long generation; /* run counter (atomic) */
    size_t failed_task;       /* lowest failed task of the run, n_tasks if none (under lock) */
    hecate_status failed_status;
};

typedef struct worker_arg {
    hecate_threads *pool;
    size_t index;
} worker_arg;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("pause");
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Takes tasks of the current run until none is left. */
static void work(hecate_threads *pool, size_t worker) {
    const size_t n_tasks = pool->n_tasks;
    for (;;) {
        const size_t task = __atomic_fetch_add(&pool->next, 1, __ATOMIC_RELAXED);
        if (task >= n_tasks) return;
        const hecate_status status = pool->fn(pool->ctx, task, worker);
        if (status != HECATE_OK) {
            pthread_mutex_lock(&pool->lock);
            if (task < pool->failed_task) pool->failed_task = task, pool->failed_status = status;
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* One look of a spinning wait that began at `start`: a pause, or a yield of the core once
 * HECATE_THREADS_PAUSE_NS have passed.  False once HECATE_THREADS_SPIN_NS have passed. */
static int spin_on(long long start, unsigned spins) {
    if (spins % 64) {
        cpu_relax();
        return 1;
    }
    const long long waited = now_ns() - start;
    if (waited > HECATE_THREADS_PAUSE_NS) sched_yield();
    return waited <= HECATE_THREADS_SPIN_NS;
}

/* Waits for a run after `seen`: spinning, then asleep.  Returns its generation, or `seen` when the
 * pool stops. */
static unsigned long await_run(hecate_threads *pool, unsigned long seen) {
    const long long start = now_ns();
    for (unsigned spins = 1;; spins++) {
        const unsigned long gen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE);
        if (gen != seen) return gen;
        if (__atomic_load_n(&pool->stop, __ATOMIC_ACQUIRE)) return seen;
        if (!spin_on(start, spins)) break;
    }
    pthread_mutex_lock(&pool->lock);
    pool->sleepers++;
    unsigned long gen;
    while ((gen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE)) == seen && !pool->stop)
        pthread_cond_wait(&pool->wake, &pool->lock);
    pool->sleepers--;
    const int stop = pool->stop;
    pthread_mutex_unlock(&pool->lock);
    return stop ? seen : gen;
}

static void *worker_main(void *p) {
    const worker_arg arg = *(worker_arg *)p;
    free(p);
    hecate_threads *pool = arg.pool;
    unsigned long seen = 0;
    for (;;) {
        const unsigned long gen = await_run(pool, seen);
        if (gen == seen) return NULL;
        seen = gen;
        work(pool, arg.index);
        __atomic_fetch_add(&pool->finished, 1, __ATOMIC_RELEASE);
    }
}

static void stop_and_join(hecate_threads *pool, size_t started) {
    pthread_mutex_lock(&pool->lock);
    __atomic_store_n(&pool->stop, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (size_t t = 0; t < started; t++) pthread_join(pool->threads[t], NULL);
}

int hecate_threads_new(size_t n_workers, hecate_threads **out) {
    if (!out) return EINVAL;
    *out = NULL;
    if (n_workers < 1 || n_workers > HECATE_THREADS_MAX) return EINVAL;
    hecate_threads *pool = calloc(1, sizeof *pool);
    if (!pool) return ENOMEM;
    pool->n = n_workers;
    pool->threads = n_workers > 1 ? calloc(n_workers - 1, sizeof *pool->threads) : NULL;
    if (n_workers > 1 && !pool->threads) {
        free(pool);
        return ENOMEM;
    }
    int err = pthread_mutex_init(&pool->lock, NULL);
    if (err == 0 && (err = pthread_cond_init(&pool->wake, NULL)) != 0) pthread_mutex_destroy(&pool->lock);
    if (err != 0) {
        free(pool->threads);
        free(pool);
        return err;
    }
    for (size_t t = 0; t + 1 < n_workers; t++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) arg->pool = pool, arg->index = t + 1;
        err = arg ? pthread_create(&pool->threads[t], NULL, worker_main, arg) : ENOMEM;
        if (err != 0) {
            free(arg);
            pool->n = t + 1; /* what hecate_threads_free joins */
            hecate_threads_free(pool);
            return err;
        }
    }
    *out = pool;
    return 0;
}

size_t hecate_threads_count(const hecate_threads *pool) { return pool ? pool->n : 0; }

hecate_status hecate_threads_run(hecate_threads *pool, hecate_task_fn fn, void *ctx, size_t n_tasks) {
    if (!pool || !fn) return HECATE_E_NULL_ARG;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_tasks = n_tasks;
    pool->failed_task = n_tasks;
    pool->failed_status = HECATE_OK;
    __atomic_store_n(&pool->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->finished, 0, __ATOMIC_RELAXED);
    /* the release publishes the run's fields to every worker that sees the new generation */
    __atomic_fetch_add(&pool->generation, 1, __ATOMIC_RELEASE);
    if (pool->n > 1) {
        pthread_mutex_lock(&pool->lock);
        if (pool->sleepers) pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
    work(pool, 0);
    /* every worker has seen this run and left it before the next may begin */
    const long long start = now_ns();
    for (unsigned spins = 1; __atomic_load_n(&pool->finished, __ATOMIC_ACQUIRE) < pool->n - 1; spins++)
        if (!spin_on(start, spins)) sched_yield();
    pthread_mutex_lock(&pool->lock);
    const hecate_status status = pool->failed_status;
    pthread_mutex_unlock(&pool->lock);
    return status;
}

void hecate_threads_free(hecate_threads *pool) {
    if (!pool) return;
    stop_and_join(pool, pool->n - 1);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool);
}

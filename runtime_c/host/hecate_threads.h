/* hecate_threads.h — a pool of worker threads for hosted platforms (POSIX threads), built as its
 * own small library (libhecate_threads) beside the runtime: it runs the n tasks of a C function,
 * each once, the calling thread taking part as worker 0.  It knows nothing of models: the
 * runtime's hecate_batch_job, hecate_batch_mean and hecate_adamw_task (hecate.h) are such task
 * functions, so that a training step's chunks, its mean gradient and its updates run on every
 * core without the caller's language handing each piece to a thread (DECISIONS D81).
 *
 * Between runs the workers wait spinning for a short while (HECATE_THREADS_SPIN_NS), so that a
 * run that follows soon after the last one, as a training loop's steps do, starts without an OS
 * wake-up; after that they sleep.  One run at a time per pool: calls from several threads at
 * once must be serialized by the caller. */
#ifndef HECATE_THREADS_H
#define HECATE_THREADS_H
#ifndef HECATE_CDEF /* hecate_edge/_cdef.py reads this header (after hecate.h) as the binding's declarations */
#include <stddef.h>
#include "hecate.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A task: task index in 0 .. n_tasks - 1, worker index in 0 .. n_workers - 1 (0: the thread that
 * called hecate_threads_run).  Returns HECATE_OK or an error status. */
typedef hecate_status (*hecate_task_fn)(void *ctx, size_t task, size_t worker);

typedef struct hecate_threads hecate_threads;

enum { HECATE_THREADS_MAX = 1024 };

/* A pool of n_workers workers (the calling thread and n_workers - 1 new threads), 1 <= n_workers
 * <= HECATE_THREADS_MAX.  Returns 0, EINVAL for a count out of range, or the errno of the
 * allocation or pthread call that failed (nothing is left running or allocated then). */
int hecate_threads_new(size_t n_workers, hecate_threads **out);

/* Workers of the pool, the caller included. */
size_t hecate_threads_count(const hecate_threads *pool);

/* Runs fn(ctx, task, worker) for every task in 0 .. n_tasks - 1, each exactly once, on any
 * worker, and returns when all have returned: HECATE_OK, or the status of the lowest-numbered
 * task that failed (the others still run); HECATE_E_NULL_ARG without a pool or function. */
hecate_status hecate_threads_run(hecate_threads *pool, hecate_task_fn fn, void *ctx, size_t n_tasks);

/* Stops and joins the threads, frees the pool (NULL: nothing). */
void hecate_threads_free(hecate_threads *pool);

#ifdef __cplusplus
}
#endif
#endif

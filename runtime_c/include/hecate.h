/* hecate.h — public API of the hecate_edge C99 runtime.
 *
 * The runtime never allocates: the caller asks for sizes and hands in memory.
 * Model weights are read in place from a caller buffer (an mmap'd file, a
 * browser ArrayBuffer, microcontroller flash).  Every call returns a status;
 * hecate_status_str() explains it.  The math is in docs/MATH.md, the file and
 * state layouts in docs/FORMAT.md.
 *
 * This header is also the source of the Python binding (hecate_edge/_cdef.py
 * feeds it to cffi after dropping preprocessor lines), so it keeps to plain
 * declarations: no function-like macros, no inline code.
 *
 * Threads: distinct sessions may run concurrently on one model.  One session
 * must not be used from two threads at once.
 */
#ifndef HECATE_H
#define HECATE_H

#ifndef HECATE_CDEF
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this runtime (the hecate-edge package's version, pyproject.toml;
 * model files and state blobs carry their own format versions,
 * docs/FORMAT.md).  hecate_version() returns the string the library was
 * built with, to compare with the header a program was compiled against. */
#define HECATE_VERSION_MAJOR 0
#define HECATE_VERSION_MINOR 1
#define HECATE_VERSION_PATCH 0
#define HECATE_VERSION_STRING "0.1.0"

/* Scalar type of the build: float (default) or double (-DHECATE_REAL=double,
 * used for gradient checking).  Model tensors must be stored in this type,
 * or as int8 with row scales where docs/FORMAT.md allows it. */
#ifndef HECATE_REAL
#define HECATE_REAL float
#endif
typedef HECATE_REAL hecate_real;

/* Status codes.  0 is success.  1xx: caller arguments; 2xx: model file;
 * 3xx: session state blob; 4xx: numerical trouble at run time; 5xx: an
 * accelerator backend (cuda/include/hecate_cuda.h). */
typedef enum hecate_status {
    HECATE_OK = 0,

    HECATE_E_NULL_ARG = 101,         /* a required pointer is NULL, or a handle is not valid */
    HECATE_E_BAD_ARG = 102,          /* an argument is out of its documented range */
    HECATE_E_BUFFER_TOO_SMALL = 103, /* caller memory smaller than the size query said */
    HECATE_E_BUFFER_ALIGN = 104,     /* caller memory not aligned as documented */
    HECATE_E_TOKEN_RANGE = 105,      /* an input token id >= vocab */
    HECATE_E_CHUNK_TOO_LONG = 106,   /* training chunk longer than max_train_tokens */
    HECATE_E_NOT_TRAINABLE = 107,    /* session created with max_train_tokens = 0, or training asked of int8 weights */
    HECATE_E_IO = 108,               /* the optional host layer could not read a file or allocate */

    HECATE_E_FILE_TRUNCATED = 201,     /* fewer bytes than the header or a tensor needs */
    HECATE_E_FILE_MAGIC = 202,         /* not a hecate model file */
    HECATE_E_FILE_VERSION = 203,       /* format version this runtime does not read */
    HECATE_E_FILE_ENDIAN = 204,        /* endianness marker does not match */
    HECATE_E_FILE_SIZE = 205,          /* recorded file size differs from the buffer */
    HECATE_E_FILE_CRC = 206,           /* CRC32 mismatch: the file is corrupt */
    HECATE_E_FILE_RESERVED = 207,      /* a reserved header field is not zero */
    HECATE_E_FILE_CONFIG = 208,        /* a config value is out of range or inconsistent */
    HECATE_E_FILE_RULE = 209,          /* unknown memory rule id */
    HECATE_E_FILE_COMPOSITION = 210,   /* unknown composition id */
    HECATE_E_FILE_TENSOR_COUNT = 211,  /* tensor count differs from what the config needs */
    HECATE_E_FILE_TENSOR_NAME = 212,   /* tensor name unexpected, misplaced or not NUL-padded */
    HECATE_E_FILE_TENSOR_DTYPE = 213,  /* unknown dtype, or not this build's real type */
    HECATE_E_FILE_TENSOR_SHAPE = 214,  /* rank or shape differs from the config */
    HECATE_E_FILE_TENSOR_RANGE = 215,  /* offset/size overflows or leaves the file */
    HECATE_E_FILE_TENSOR_ALIGN = 216,  /* tensor offset not 64-byte aligned */
    HECATE_E_FILE_TENSOR_OVERLAP = 217,/* tensor overlaps the header, directory or another tensor */
    HECATE_E_FILE_NONFINITE = 218,     /* a weight is NaN or Inf */
    HECATE_E_FILE_TENSOR_SIZE = 219,   /* byte size differs from shape x dtype size */
    HECATE_E_FILE_RETENTION = 220,     /* unknown retention id, or one the rule's math does not allow */
    HECATE_E_FILE_TENSOR_SCALE = 221,  /* an int8 tensor's row scale is not finite and > 0 */

    HECATE_E_STATE_TRUNCATED = 301,  /* blob shorter than its header or payload */
    HECATE_E_STATE_MAGIC = 302,      /* not a hecate state blob */
    HECATE_E_STATE_VERSION = 303,    /* state version this runtime does not read */
    HECATE_E_STATE_ENDIAN = 304,     /* endianness marker does not match */
    HECATE_E_STATE_MODEL = 305,      /* blob belongs to another model or another build type */
    HECATE_E_STATE_SIZE = 306,       /* recorded sizes differ from this session's */
    HECATE_E_STATE_CRC = 307,        /* CRC32 mismatch: the blob is corrupt */
    HECATE_E_STATE_NONFINITE = 308,  /* the blob holds NaN or Inf */
    HECATE_E_STATE_RESERVED = 309,   /* a reserved field is not zero */

    HECATE_E_NONFINITE = 401,        /* a computation produced NaN/Inf; the failing block was not committed */

    HECATE_E_DEVICE = 501,           /* no usable GPU or driver, or a device call failed */
    HECATE_E_UNSUPPORTED = 502       /* the backend does not implement this rule, option or shape */
} hecate_status;

/* Human-readable text for a status (never NULL; static storage). */
const char *hecate_status_str(hecate_status status);

/* HECATE_VERSION_STRING of the library's build (never NULL; static storage). */
const char *hecate_version(void);

/* Opaque handles.  Both live in caller memory. */
typedef struct hecate_model hecate_model;
typedef struct hecate_session hecate_session;

/* Model configuration as read from the file header (docs/FORMAT.md). */
typedef struct hecate_model_info {
    uint32_t format_version;
    uint32_t vocab;        /* V: byte-level models use 256 */
    uint32_t d_model;      /* d */
    uint32_t n_heads;      /* attention heads H; head dim d/H */
    uint32_t window;       /* sliding attention window w (tokens, current included) */
    uint32_t composition;  /* 0 = MAG, 1 = MAL, 2 = MAC (docs/MATH.md §4) */
    uint32_t rule;         /* memory rule id, 0 = delta (the ids: docs/FORMAT.md) */
    uint32_t n_levels;     /* memory levels k */
    uint32_t flags;        /* bit 0: L2-normalize memory q and k; bit 1: learned frequency gates;
                            * bit 2: short convolution in the memory front end (conv_kernel);
                            * bit 3: rotary positions in window attention; bit 4: bounded inner steps */
    uint32_t n_tensors;
    uint32_t real_bytes;   /* 4 or 8: the scalar type the tensors are stored in */
    uint32_t file_crc32;   /* CRC32 recorded in (and checked against) the file */
    uint64_t n_params;     /* scalar parameter count = length of a gradient buffer */
    uint32_t n_layers;     /* stacked blocks (MATH §4.3) */
} hecate_model_info;

/* One parameter tensor, in file (and gradient buffer) order. */
typedef struct hecate_tensor_info {
    char name[40];             /* NUL-terminated, e.g. "blk0.mem0.wk" */
    uint32_t ndim;             /* 1..4 */
    uint32_t shape[4];         /* unused dims are 1 */
    uint64_t n_elems;
    uint64_t grad_offset;      /* element offset of this tensor in a gradient buffer */
    uint64_t file_offset;      /* byte offset of the data in the model file */
    uint32_t dtype;            /* 0 float32, 1 float64, 2 int8 with row scales, 3 the same with int16
                                  activations (docs/FORMAT.md) */
} hecate_tensor_info;

/* Bytes of caller memory a model handle needs (a constant of the build;
 * the one query that returns a size instead of a status).  The memory must
 * be 16-byte aligned. */
size_t hecate_model_bytes(void);

/* Validate a model file held in `file` (file_bytes long) and build a model
 * handle in `mem`.  The file buffer must stay alive and unmoved while the
 * model or any of its sessions is in use: weights are read from it in place.
 * The caller may overwrite weight values in place between calls (outer
 * training does); the recorded CRC then describes the file as opened.
 * `file` must be 8-byte aligned.  On error *out is left NULL and nothing is
 * kept.  Every check of docs/FORMAT.md is made here, once. */
hecate_status hecate_model_open(void *mem, size_t mem_bytes,
                                const void *file, size_t file_bytes,
                                hecate_model **out);

hecate_status hecate_model_get_info(const hecate_model *model, hecate_model_info *out);

/* Describe tensor `index` (0 <= index < n_tensors). */
hecate_status hecate_model_tensor(const hecate_model *model, uint32_t index,
                                  hecate_tensor_info *out);

/* Session options.  max_chunk: tokens per internal block of hecate_process
 * (0 means 16, at most HECATE_MAX_CHUNK); hecate_process accepts any number
 * of tokens, larger blocks use more arena and batch projections better.
 * max_train_tokens: longest chunk hecate_train_chunk accepts (at most
 * HECATE_MAX_TRAIN_TOKENS; 0: the session cannot train, and is smaller;
 * above 0 on a model with int8 tensors: HECATE_E_NOT_TRAINABLE).
 * Values out of range give HECATE_E_BAD_ARG, as does an arena larger than
 * size_t can count (on 32-bit targets).
 * flags: HECATE_SESSION_FREEZE_MEMORY reads memory but never writes it
 * (an ablation of test-time learning); HECATE_SESSION_FIXED_SCHEDULE opens
 * every learned frequency gate (docs/MATH.md §6.2: each level fires at the
 * end of every block, as without gates, and the gates get no gradient;
 * outer training anneals from it). */
typedef struct hecate_session_opts {
    uint32_t max_chunk;
    uint32_t max_train_tokens;
    uint32_t flags;
} hecate_session_opts;

enum { HECATE_SESSION_FREEZE_MEMORY = 1, HECATE_SESSION_FIXED_SCHEDULE = 2 };
enum { HECATE_MAX_CHUNK = 65536, HECATE_MAX_TRAIN_TOKENS = 1048576 };

/* Bytes of arena a session needs for this model and options (opts may be
 * NULL for defaults). */
hecate_status hecate_session_bytes(const hecate_model *model,
                                   const hecate_session_opts *opts, size_t *bytes);

/* Build a session in `mem` (16-byte aligned, at least the queried size) and
 * reset it.  The session refers to `model`, which must outlive it. */
hecate_status hecate_session_init(void *mem, size_t mem_bytes, const hecate_model *model,
                                  const hecate_session_opts *opts, hecate_session **out);

/* Back to the initial state: every memory level at its rule's init state,
 * empty attention window, empty convolution state (MATH §3.1), position 0. */
hecate_status hecate_session_reset(hecate_session *session);

/* Tokens consumed since the last reset. */
hecate_status hecate_session_position(const hecate_session *session, uint64_t *position);

/* Read-only view of one memory's state (rule-defined layout, docs/MATH.md;
 * a CMS level's accumulated state, MATH §6.1);
 * valid until the next call that changes the session.  `level` counts the
 * memories layer-major: layer * n_levels + level, < n_layers * n_levels. */
hecate_status hecate_session_memory(const hecate_session *session, uint32_t level,
                                    const hecate_real **state, size_t *n_elems);

/* Read-only view of what memory `level`'s reads see (same indexing and
 * lifetime as hecate_session_memory): a CMS level of period C > 1 (docs/
 * MATH.md §6.1) reads the state of its last block end until its current
 * block ends; for period 1 this is the state itself. */
hecate_status hecate_session_memory_read(const hecate_session *session, uint32_t level,
                                         const hecate_real **state, size_t *n_elems);

/* Feed one token; write its next-token logits (vocab values) to `logits`
 * unless it is NULL.  On error the session is unchanged.  Non-finite values
 * as hecate_process: HECATE_E_NONFINITE, never an OK with NaN/Inf inside. */
hecate_status hecate_step(hecate_session *session, uint32_t token, hecate_real *logits);

/* Feed n tokens; logits (n x vocab, row-major) unless NULL.  Results and the
 * state afterwards are bit-identical to n calls of hecate_step (MATH §6).
 * All tokens are checked before any is consumed.  Tokens are consumed in
 * blocks of max_chunk: on HECATE_E_NONFINITE the earlier blocks stay consumed
 * (hecate_session_position tells how many tokens) and the failing block is
 * not; logits of the failing block are unspecified.
 * Non-finite values (docs/DECISIONS.md D10, D39): an OK call leaves every
 * value of the session finite (memories, CMS block-start states and gate
 * sums, convolution states, window keys and values), so its saved state
 * always loads.  A block whose new state holds NaN/Inf, or whose logits do
 * when they are asked for, is HECATE_E_NONFINITE and not committed; this
 * holds with logits NULL, under HECATE_SESSION_FREEZE_MEMORY (the window and
 * convolution states are still checked) and for every rule, retention and
 * composition: a NaN is never absorbed by a threshold, floor or gate, and
 * a norm that overflows gives NaN, not a zero vector.  With logits NULL the
 * last layer's output and the head are not computed, so a NaN that would
 * reach only the logits is not seen. */
hecate_status hecate_process(hecate_session *session, const uint32_t *tokens, size_t n,
                             hecate_real *logits);

/* Profile 2 (on-device outer learning).  Runs the forward over n tokens from
 * the current state exactly as hecate_process does (the session advances),
 * and writes the mean cross-entropy of predicting targets[t] after
 * tokens[0..t] to *loss (targets >= vocab are ignored; 0 if none is valid)
 * and d loss / d parameter for every parameter into `grads` (n_params
 * values, laid out as hecate_tensor_info.grad_offset says; overwritten, not
 * accumulated).  The incoming state is a constant (truncated BPTT at the
 * chunk start, MATH §7).  1 <= n <= max_train_tokens.  HECATE_E_NONFINITE,
 * with the session unchanged, when the forward's new state or logits (as
 * hecate_process), the loss or a gradient hold NaN/Inf. */
hecate_status hecate_train_chunk(hecate_session *session, const uint32_t *tokens,
                                 const uint32_t *targets, size_t n,
                                 hecate_real *grads, hecate_real *loss);

/* The mean of n_sets gradient vectors of n values each (hecate_train_chunk's
 * grads of a batch's chunks) into out (n doubles): the sets added in order in
 * double precision, then divided by n_sets (when above 1), so the mean's
 * bits do not depend on which thread computed which set.  HECATE_E_NULL_ARG
 * for a NULL pointer with n > 0; HECATE_E_BAD_ARG for n_sets = 0. */
hecate_status hecate_grads_mean(size_t n_sets, const hecate_real *const *sets, size_t n, double *out);

/* A training batch laid out for a thread pool (runtime_c/host/hecate_threads.h): job j (0 <= j <
 * n_jobs) resets a session, feeds burn_in[j] (burn_len tokens, no gradient; NULL when burn_len is
 * 0) and trains on tokens[j] against targets[j] (n_tokens each), into row j of grads (n_jobs x
 * n_params), losses[j] and status[j]; then the mean of the rows goes into mean (n_params
 * doubles).  sessions: n_sessions sessions of one model (n_params gradient values) that can train
 * n_tokens, one per worker: a worker uses only its own.  Every array is the caller's and must
 * stay valid and unshared while the batch runs. */
typedef struct hecate_batch {
    hecate_session *const *sessions;
    size_t n_sessions;
    size_t n_jobs;
    size_t burn_len, n_tokens, n_params;
    const uint32_t *burn_in, *tokens, *targets;
    hecate_real *grads, *losses;
    hecate_status *status;
    double *mean;
} hecate_batch;

/* Elements of the mean a hecate_batch_mean part covers. */
enum { HECATE_BATCH_MEAN_PART = 4096 };

/* Job `job` of `batch` (a hecate_batch *; void * so that a pool can call it as a task) on
 * sessions[worker]: what the batch comment says, its status also written to status[job] (the
 * session reset; hecate_train_chunk's grads and loss unspecified on error).  Jobs on different
 * workers may run at once.  HECATE_E_BAD_ARG for a job or worker out of range. */
hecate_status hecate_batch_job(void *batch, size_t job, size_t worker);

/* Part `part` of the batch's mean gradient: mean[p P .. (p + 1) P) (P = HECATE_BATCH_MEAN_PART,
 * the last part shorter) as hecate_grads_mean of the grads rows gives it, bit for bit; parts may
 * run at once.  Run it after every job succeeded.  Parts: (n_params + P - 1) / P.
 * HECATE_E_NONFINITE when the part holds a NaN or Inf (it is written all the same: the caller
 * decides what to do with the step).  `worker` is not used (a pool task's signature). */
hecate_status hecate_batch_mean(void *batch, size_t part, size_t worker);

/* Profile 2's outer update: one AdamW step (MATH §10) of n parameters,
 * param -= decay param + lr mhat / (sqrt(vhat) + eps), in double precision
 * and rounded once to hecate_real, with m, v (double, n each) updated in
 * place from grad (double) times grad_scale (the clipping factor, 1 for
 * none); mhat = m (1 / bias1), vhat = v (1 / bias2) (MATH §10, D78).  Every operation in the order of hecate_edge.optim.AdamW, so a
 * tensor updated here equals the numpy reference bit for bit.  Bias
 * corrections come in as numbers (no pow on the device).  HECATE_E_NULL_ARG
 * for a NULL array or step with n > 0; HECATE_E_UNSUPPORTED on a core whose
 * FPU has no double precision (the Cortex-M4F: its float64 square root would
 * need libm). */
typedef struct {
    double lr;                 /* this step's learning rate */
    double decay;              /* lr * weight_decay for a decayed tensor, else 0 */
    double beta1, beta2, eps;
    double bias1, bias2;       /* 1 - beta1^t and 1 - beta2^t of this step t */
    double grad_scale;
} hecate_adamw_step;

hecate_status hecate_adamw_update(const hecate_adamw_step *step, size_t n, const double *grad, double *m,
                                  double *v, hecate_real *param);

/* A step's AdamW updates of several tensors as thread-pool tasks (as hecate_batch_job): tensor i
 * is hecate_adamw_update with `step`, its decay replaced by the tensor's own. */
typedef struct {
    size_t n;
    const double *grad;
    double *m, *v;
    hecate_real *param;
    double decay; /* lr * weight_decay for a decayed tensor, else 0 */
} hecate_adamw_tensor;

typedef struct {
    hecate_adamw_step step;
    size_t n_tensors;
    const hecate_adamw_tensor *tensors;
} hecate_adamw_batch;

/* Tensor `task` of `batch` (a hecate_adamw_batch *; `worker` not used): hecate_adamw_update's
 * status; HECATE_E_BAD_ARG for a task out of range. */
hecate_status hecate_adamw_task(void *batch, size_t task, size_t worker);

/* Size of a saved state blob for this session. */
hecate_status hecate_state_bytes(const hecate_session *session, size_t *bytes);

/* Write the whole session state (position, attention window, every memory
 * level, each level's convolution state) as a versioned blob with CRC (docs/FORMAT.md) into buf.
 * Its values are finite (hecate_process), so hecate_state_load accepts it. */
hecate_status hecate_state_save(const hecate_session *session, void *buf, size_t buf_bytes,
                                size_t *written);

/* Restore a blob written by hecate_state_save for the same model file and
 * build type.  Everything is validated first: on any error the session is
 * left exactly as it was. */
hecate_status hecate_state_load(hecate_session *session, const void *buf, size_t buf_bytes);

/* ---- Low-level ops: one memory rule's recurrence on raw arrays ----------
 * For using the runtime as an op library (hecate_edge.ops, docs/OPS.md):
 * no model, no projections, no normalization: the caller passes the
 * memory's keys, values and queries as they enter the rule (MATH §3.2 ff.)
 * and the rule's gate values after their activations. */

/* Which rule, at which width, with which hyper-parameters and retention:
 * the same values a model file header holds (docs/FORMAT.md: rule id, d,
 * rule_params with unused slots 0, retention id and its parameter).  hecate_edge.ops fills in each rule's defaults. */
enum { HECATE_RULE_PARAMS = 8 };
typedef struct hecate_rule_spec {
    uint32_t rule;                       /* rule id, docs/FORMAT.md */
    uint32_t d;                          /* width of k, v, q: 1 .. 4096 */
    float params[HECATE_RULE_PARAMS];    /* the rule's hyper-parameters */
    uint32_t retention;                  /* retention id (docs/FORMAT.md); 0: the rule's default */
    float retention_param;               /* elastic net: lambda_1 > 0; other retentions: 0 */
    uint32_t period;                     /* CMS period C (docs/MATH.md §6.1): 0 or 1 = every
                                          * token writes; C > 1: writes at the end of each block
                                          * of C tokens, and the op's state is the rule's state
                                          * followed by the block-start state */
    uint64_t position;                   /* global index of token 0 (selects the CMS blocks) */
} hecate_rule_spec;

/* Gates of the rule in *n_gates, and the scalar counts of the op's state
 * (with period > 1: twice the rule's) and of the scratch hecate_rule_forward
 * needs in *state_len and *scratch_len.
 * HECATE_E_BAD_ARG for an unknown rule, d outside 1..4096, invalid
 * hyper-parameters or a retention the rule does not allow. */
hecate_status hecate_rule_shape(const hecate_rule_spec *spec, uint32_t *n_gates, size_t *state_len,
                                size_t *scratch_len);

/* The scalar count of the rule's parameter tensor `index` (rules that own
 * tensors: the selective SSM's A_log, dt_bias, in that order; docs/OPS.md)
 * in *len.  HECATE_E_BAD_ARG when index is not below the rule's tensor count
 * (every index, for a rule with none). */
hecate_status hecate_rule_tensor_len(const hecate_rule_spec *spec, uint32_t index, size_t *len);

/* The rule's initial state (MATH §3) into state (state_len scalars; with
 * period > 1 both copies). */
hecate_status hecate_rule_init(const hecate_rule_spec *spec, hecate_real *state);

/* Run T tokens: k, v, q are (T, d) row-major; x (T, d) is the level input a
 * rule may compress (Trellis, MATH §3.9; NULL: x = k; the other rules ignore
 * it); gates (T, n_gates) in the rule's gate order; tensors: one pointer
 * per parameter tensor of the rule (hecate_rule_tensor_len), NULL for a rule
 * without any; state (state_len) is read as the state before token 0
 * and overwritten with the state after token T-1; y (T, d) receives the
 * memory read of every token.  scratch: scratch_len scalars.  Bit-identical
 * to the same tokens inside a session.  HECATE_E_NONFINITE (state left as
 * it was) when the incoming state is not finite.  Non-finite inputs are not
 * refused: they propagate into the state or the reads they feed, never
 * absorbed by a rule's or retention's threshold, floor or clip, and a norm
 * that overflows gives NaN (DECISIONS D39). */
hecate_status hecate_rule_forward(const hecate_rule_spec *spec, uint32_t T, const hecate_real *k,
                                  const hecate_real *v, const hecate_real *q, const hecate_real *x,
                                  const hecate_real *gates, const hecate_real *const *tensors,
                                  hecate_real *state, hecate_real *y, hecate_real *scratch);

/* hecate_rule_forward over `n` independent sequences laid out one after
 * another (e.g. the (batch, head) slices of a (B, H, T, d) array, n = B H):
 * sequence i reads k, v, q, x + i T d, gates + i T n_gates, updates
 * state + i state_len and writes y + i T d; tensors and scratch are shared.
 * One call instead of n, bit-identical to them.  On an error in sequence i
 * the status is returned, sequences before i are done and i onwards untouched
 * (the incoming states are all checked first: a non-finite one is
 * HECATE_E_NONFINITE before any sequence runs). */
hecate_status hecate_rule_forward_batch(const hecate_rule_spec *spec, uint32_t n, uint32_t T,
                                        const hecate_real *k, const hecate_real *v, const hecate_real *q,
                                        const hecate_real *x, const hecate_real *gates,
                                        const hecate_real *const *tensors, hecate_real *state, hecate_real *y,
                                        hecate_real *scratch);

/* Scalars of `work` hecate_rule_backward needs for T tokens (the forward's
 * tape, the rule's backward work, a y and an x gradient) in *work_len.
 * HECATE_E_BAD_ARG as hecate_rule_shape. */
hecate_status hecate_rule_backward_len(const hecate_rule_spec *spec, uint32_t T, size_t *work_len);

/* Gradients of sum(y * dy) for the hecate_rule_forward call with the same
 * spec, T, k, v, q, x, gates, tensors and incoming `state` (not modified):
 * dk, dv, dq (T, d) and dgates (T, n_gates) are overwritten; the incoming
 * state is a constant (MATH §7, as in hecate_train_chunk).  dx (T, d):
 * x's gradient (0 except for Trellis), or NULL to skip it; with x NULL
 * (x = k) it is added to dk instead.  dtensors: one pointer per rule tensor,
 * accumulated (+=), NULL for a rule without any.  work:
 * hecate_rule_backward_len scalars.  The exact backward the model's
 * training runs (the C reference the CUDA backend is tested against). */
hecate_status hecate_rule_backward(const hecate_rule_spec *spec, uint32_t T, const hecate_real *k,
                                   const hecate_real *v, const hecate_real *q, const hecate_real *x,
                                   const hecate_real *gates, const hecate_real *const *tensors,
                                   const hecate_real *state, const hecate_real *dy, hecate_real *dk,
                                   hecate_real *dv, hecate_real *dq, hecate_real *dx, hecate_real *dgates,
                                   hecate_real *const *dtensors, hecate_real *work);

/* hecate_rule_backward over `n` sequences laid out as in
 * hecate_rule_forward_batch (dy, dk, dv, dq, dx advance by T d per sequence,
 * dgates by T n_gates, state by state_len); dtensors accumulate over all of
 * them, in sequence order.  One call instead of n, bit-identical to them.
 * On an error in sequence i the status is returned and the gradients of
 * sequences i onwards are not written. */
hecate_status hecate_rule_backward_batch(const hecate_rule_spec *spec, uint32_t n, uint32_t T,
                                         const hecate_real *k, const hecate_real *v, const hecate_real *q,
                                         const hecate_real *x, const hecate_real *gates,
                                         const hecate_real *const *tensors, const hecate_real *state,
                                         const hecate_real *dy, hecate_real *dk, hecate_real *dv, hecate_real *dq,
                                         hecate_real *dx, hecate_real *dgates, hecate_real *const *dtensors,
                                         hecate_real *work);

#ifdef __cplusplus
}
#endif
#endif /* HECATE_H */

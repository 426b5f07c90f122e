/* internal.h — types shared by the runtime's source files (never installed).
 * Owns the model handle, the weight view (one pointer per parameter tensor,
 * used for weights and for gradients alike) and the session layout. */
#ifndef HECATE_INTERNAL_H
#define HECATE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "hecate.h"

typedef hecate_real real;

#include <float.h>
/* Largest finite value of the build's scalar type. */
#define HCT_REAL_MAX ((real)(sizeof(real) == 8 ? DBL_MAX : FLT_MAX))

/* HCT_ASSERT(cond): a debug check of an internal contract (call order,
 * buffer sizes) that no caller input can break, so it is no status.  Active
 * without NDEBUG or with HECATE_DEBUG: a false cond traps (the compiler's
 * trap instruction, no libc: SIGILL on a host, a fault on Cortex-M,
 * `unreachable` in wasm).  With NDEBUG alone it is compiled out and cond
 * is not evaluated. */
#if !defined(NDEBUG) || defined(HECATE_DEBUG)
#if defined(__GNUC__) || defined(__clang__)
#define HCT_ASSERT(cond) ((cond) ? (void)0 : __builtin_trap())
#else
#define HCT_ASSERT(cond) ((cond) ? (void)0 : (void)(*(volatile int *)0 = 0))
#endif
#else
#define HCT_ASSERT(cond) ((void)sizeof((cond) ? 1 : 0))
#endif

/* Compile-time knobs of the handle size (a small target may lower them; a
 * file needing more is refused with HECATE_E_FILE_CONFIG). */
#ifndef HCT_MAX_LAYERS
#define HCT_MAX_LAYERS 4         /* stacked blocks (MATH §4.3) */
#endif
#ifndef HCT_MAX_LEVELS
#define HCT_MAX_LEVELS 4         /* CMS memory levels per block (MATH §6.1) */
#endif
#define HCT_MAX_PERIOD 65536u    /* longest CMS level period */
#define HCT_MAX_MEMS (HCT_MAX_LAYERS * HCT_MAX_LEVELS)
#define HCT_MAX_GATES 4
#define HCT_MAX_RULE_TENSORS 4   /* parameter tensors a rule may own (rules/rule.h) */
#define HCT_MAX_COMPOSE_TENSORS 2 /* parameter tensors a composition may own (compose/compose.h) */
#define HCT_MAX_ENTRIES 2         /* window entries per token a composition may have (compose/compose.h) */
#define HCT_CONV_STREAMS 3        /* the short convolution runs over memory k, v, q (MATH §3.1) */
#define HCT_MIN_CONV 2u           /* its kernel sizes K when on */
#define HCT_MAX_CONV 8u
/* emb, head, and per block 4 attention, the composition's own, per level 5
 * front-end, 3 convolution, the rule's own and 2 frequency-gate tensors */
#define HCT_MAX_TENSORS \
    (2 + HCT_MAX_LAYERS * (4 + HCT_MAX_COMPOSE_TENSORS + HCT_MAX_LEVELS * (10 + HCT_MAX_RULE_TENSORS)))
#define HCT_HEADER_BYTES 256u
#define HCT_DIR_ENTRY_BYTES 80u
#define HCT_ALIGN 64u

struct hct_rule;        /* rules/rule.h */
struct hct_composition; /* compose/compose.h */

/* Configuration read from the model file header (docs/FORMAT.md). */
typedef struct hct_config {
    uint32_t vocab, d, n_heads, window, composition, rule, n_levels, flags;
    uint32_t n_layers, retention;
    uint32_t periods[8];
    float rule_params[8];
    float retention_param;   /* elastic net: lambda_1 (MATH §3.8); other retentions: 0 */
    uint32_t conv_k;         /* taps K of the front end's short convolution (MATH §3.1); 0: none */
} hct_config;

/* FREQ_GATES: MATH §6.2, needs n_levels >= 2; CONV: MATH §3.1, K in conv_k; ROPE: rotary positions
 * in window attention (MATH §2), needs an even head width.  BOUNDED_STEP: every softplus step gate
 * is HCT_THETA_MAX * sigmoid instead (MATH §3.1 "Bounded inner steps"). */
enum { HCT_FLAG_QK_NORM = 1u, HCT_FLAG_FREQ_GATES = 2u, HCT_FLAG_CONV = 4u, HCT_FLAG_ROPE = 8u,
       HCT_FLAG_BOUNDED_STEP = 16u };
#define HCT_THETA_MAX 1

/* Projections are stored input-major, (d_in, d_out): y = x W (MATH notation). */

/* Parameters of one memory level (MATH §3.1). */
typedef struct hct_level_w {
    real *wk, *wv, *wq; /* (d, d) */
    real *conv[HCT_CONV_STREAMS]; /* (K, d) each: taps over k, v, q, tap K-1 the current token
                                   * (MATH §3.1); NULL without the convolution */
    real *gate_w;       /* (G, 2d) */
    real *gate_b;       /* (G) */
    real *rule_t[HCT_MAX_RULE_TENSORS]; /* the rule's own tensors (rule->tensor_shape), e.g. the SSM's A_log */
    real *freq_w, *freq_b; /* (d), (1): the level's frequency gate (MATH §6.2); NULL without one */
} hct_level_w;

/* Parameters of one block (MATH §2-§4). */
typedef struct hct_layer_w {
    real *wq, *wk, *wv, *wo;     /* (d, d)  MATH §2, §4 */
    real *compose_t[HCT_MAX_COMPOSE_TENSORS]; /* (n_levels) each: the composition's own
                                               * (MAC's level mixing, MATH §4.4) */
    hct_level_w level[HCT_MAX_LEVELS];
} hct_layer_w;

/* Every parameter tensor of the model.  The same struct points either at
 * the weights (inside the caller's file buffer) or into a gradient buffer. */
typedef struct hct_weights {
    real *emb;                   /* (V, d)  MATH §1 */
    hct_layer_w layer[HCT_MAX_LAYERS]; /* blocks 0 .. n_layers-1, MATH §4.3 */
    real *head;                  /* (d, V)  MATH §4 */
} hct_weights;

/* Tensor dtypes of the model file (docs/FORMAT.md dtype table). */
enum { HCT_DTYPE_F32 = 0, HCT_DTYPE_F64 = 1, HCT_DTYPE_I8 = 2, HCT_DTYPE_I8_A16 = 3 };

/* An int8 tensor (rows, cols) in the file: rows float32 scales, then the
 * row-major int8 values; weight = scale[row] * q (qweights.h). */
typedef struct hct_q8 {
    const float *scale;          /* (rows) finite, > 0 */
    const int8_t *q;             /* (rows, cols); also the tensor's weight-view pointer */
    bool a16;                    /* dtype 3: products through int16 activations (w8a16.c) */
} hct_q8;

/* A matrix the model-weight kernels read (qweights.h: the embedding, the
 * head and the projections, the tensors that may be int8), resolved once at
 * open to its real values or its int8 rows: no call looks its kernel up. */
typedef struct hct_mat {
    const real *w;               /* (rows, cols) real; NULL when int8 */
    hct_q8 q8;                   /* int8 rows and scales; q8.q NULL when real */
} hct_mat;

typedef struct hct_level_mats { hct_mat wk, wv, wq; } hct_level_mats;           /* MATH §3.1 */
typedef struct hct_layer_mats {
    hct_mat wq, wk, wv, wo;                                                      /* MATH §2, §4 */
    hct_level_mats level[HCT_MAX_LEVELS];
} hct_layer_mats;
typedef struct hct_mats {
    hct_mat emb, head;                                                           /* MATH §1, §4 */
    hct_layer_mats layer[HCT_MAX_LAYERS];
} hct_mats;

/* What the handle keeps of a tensor; its name and shape follow from the
 * config (format.c rebuilds them for hecate_model_tensor). */
typedef struct hct_tensor {
    uint64_t file_offset, bytes; /* where its data lies in the file */
    uint64_t grad_offset;        /* element offset in a gradient buffer */
    uint32_t field;              /* byte offset of its pointer inside hct_weights */
    uint16_t dtype;
    bool linear_grad;            /* its gradient is a linear map's dW (MATH §7): every matrix but the
                                  * embedding (whose rows are scattered); train.c needs no zeroing pass */
} hct_tensor;

struct hecate_model {
    uint32_t magic;              /* HCT_MODEL_MAGIC while valid */
    hct_config cfg;
    uint32_t file_crc;
    uint32_t n_tensors;
    uint64_t n_params;
    hct_tensor tensors[HCT_MAX_TENSORS];
    hct_weights w;               /* pointers into the file buffer */
    hct_mats mat;                /* the matrices of w as their kernels read them (qweights.h) */
    uint32_t n_q8;               /* how many of them are int8 */
    const struct hct_rule *rule;
    const struct hct_composition *composition;
};

#define HCT_MODEL_MAGIC 0x4d544348u   /* "HCTM" */
#define HCT_SESSION_MAGIC 0x53544348u /* "HCTS" */

/* Session: a header followed by arena regions carved at init. */
struct hecate_session {
    uint32_t magic;
    const hecate_model *model;
    hecate_session_opts opts;
    uint32_t block;              /* tokens per internal block of process */
    uint64_t position;
    /* memories, layer-major: index layer * n_levels + level (hct_mem_index) */
    real *mem_state[HCT_MAX_MEMS]; /* current state of each memory */
    real *mem_spare[HCT_MAX_MEMS]; /* same size: a block writes here, commit swaps */
    real *mem_at[HCT_MAX_MEMS];    /* CMS block-start state of a level of period > 1 (what its
                                    * reads see, MATH §6.1); NULL for period 1 */
    real *mem_at_spare[HCT_MAX_MEMS];
    real *mem_sum[HCT_MAX_MEMS];   /* (d) a gated level's input summed over its current block (MATH
                                    * §6.2); NULL without a gate */
    real *mem_sum_spare[HCT_MAX_MEMS];
    real *conv_state[HCT_MAX_MEMS]; /* (3, K-1, d) each level's last K-1 projections of k, v, q
                                     * before the convolution, oldest first (MATH §3.1); NULL without */
    real *conv_spare[HCT_MAX_MEMS];
    size_t mem_len[HCT_MAX_MEMS];
    real *ring_k[HCT_MAX_LAYERS], *ring_v[HCT_MAX_LAYERS]; /* (window, E, d) attention window cache
                                                             * of each block, slot = pos mod w, E the
                                                             * composition's entries per token */
    real *rope;                  /* (window, 2, h) per offset o: cos (o theta_i) per entry, then the
                                  * signed sin, -sin and +sin per pair (MATH §2 rotary positions; swa.c;
                                  * constant, not state); NULL without */
    /* scratch, sized for max(block, max_train_tokens) tokens */
    unsigned char *scratch;
    size_t scratch_bytes;
};

/* Memories of a model: one per level of every block. */
static inline uint32_t hct_n_mems(const hct_config *c) { return c->n_layers * c->n_levels; }

/* Index of (layer, level) in the session's memory arrays. */
static inline uint32_t hct_mem_index(const hct_config *c, uint32_t layer, uint32_t level) {
    return layer * c->n_levels + level;
}

/* CMS period of (any layer's) level `level`: 1 .. HCT_MAX_PERIOD. */
static inline uint32_t hct_period(const hct_config *c, uint32_t level) { return c->periods[level]; }

/* Scalars of one block's window cache of keys (or values): window x the
 * composition's entries per token x d (swa.c, MATH §2, §4.4). */
size_t hct_ring_len(const hecate_model *m);

/* Level `level` has a learned frequency gate (MATH §6.2: every level but 0 when the flag is set). */
static inline bool hct_gated(const hct_config *c, uint32_t level) {
    return (c->flags & HCT_FLAG_FREQ_GATES) && level > 0;
}

/* Scalars of one level's convolution state: 3 streams x (K-1) rows x d; 0 without the convolution. */
static inline size_t hct_conv_len(const hct_config *c) {
    return c->conv_k ? (size_t)HCT_CONV_STREAMS * (c->conv_k - 1) * c->d : 0;
}

/* Level `level` keeps a block-start state apart from its state (MATH §6.1, §6.2). */
static inline bool hct_keeps_block_start(const hct_config *c, uint32_t level) {
    return hct_period(c, level) > 1 || hct_gated(c, level);
}

/* Window attention turns queries by the key's offset (MATH §2 rotary positions). */
static inline bool hct_rope(const hct_config *c) { return (c->flags & HCT_FLAG_ROPE) != 0; }

/* Bind a weights view: base + tensor offsets (grad_offset elements). */
void hct_bind_weights(const hecate_model *m, real *base, hct_weights *out);

/* Library-wide small helpers. */
void hct_zero(real *x, size_t n);
void hct_copy(real *dst, const real *src, size_t n);
void hct_bytes_copy(void *dst, const void *src, size_t n);
void hct_bytes_zero(void *dst, size_t n);
uint32_t hct_crc32(const void *data, size_t n);
bool hct_all_finite(const real *x, size_t n);

/* out[begin .. end) = the mean of n_sets gradient vectors, summed in set order in double (the
 * bits of hecate_grads_mean whatever the range): set s is sets[s], or rows + s * stride when
 * sets is NULL.  Arguments checked by the caller. */
void hct_grads_mean_range(size_t n_sets, const real *const *sets, const real *rows, size_t stride, size_t begin,
                          size_t end, double *out);

#endif

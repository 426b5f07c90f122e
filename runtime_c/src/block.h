/* block.h — the per-block working set: every intermediate of MATH §1-§5 for T
 * tokens, carved from the session scratch by one layout function (and the
 * composition's own layout), and the block forward shared by step, process
 * and train (so they cannot differ). */
#ifndef HECATE_BLOCK_H
#define HECATE_BLOCK_H
#include "internal.h"
#include "rules/rule.h"

/* The arrays of one block of the stack (MATH §4.3) for T tokens.  Training
 * keeps one set per layer (backward walks them in reverse); inference shares
 * one set between layers except the window entries k and v (the window
 * caches take them at commit).  A composition's own arrays are not here: its
 * layout carves them (compose/compose.h) and b->own points at them. */
/* The arrays of one memory level of a block (MATH §3.1, §6.1).  Inference
 * shares one set between the levels (each level's read is summed at once). */
typedef struct hct_level_buf {
    real *km, *vm, *qm;       /* (T, d) memory key/value/query after normalization, MATH §3.1 */
    real *pre[HCT_CONV_STREAMS];  /* (T, d) with the convolution: k, v, q before it (the level's own) */
    real *dpre[HCT_CONV_STREAMS]; /* (T, d) training, with the convolution: their gradients */
    real *knorm, *qnorm;      /* (T) norms before normalization */
    real *gate_pre, *gates;   /* (T, G) */
    real *y;                  /* (T, d) the level's read */
    real *consts;             /* the rule's per-call constants (its own, even when the arrays are shared) */
    real *rule_tape;          /* training only */
    real *rule_work;          /* training only: hct_rule_work_len (the level's backward state gradients) */
    hct_rule_io rule_io;      /* the rule call, kept for backward */
} hct_level_buf;

typedef struct hct_layer_buf {
    real *x;                  /* (T, d) the layer's input h_l: embeddings for layer 0, MATH §1, §4.3 */
    real *q;                  /* (T, d) attention queries, MATH §2 */
    real *k[HCT_MAX_ENTRIES], *v[HCT_MAX_ENTRIES]; /* (T, d) keys and values of each token's window
                               * entries (E of them, the composition's; entry 0: the attention input's) */
    real *a;                  /* (T, d) attention output */
    real *probs;              /* (T, H, w E) attention weights; training only */
    hct_level_buf lev[HCT_MAX_LEVELS];
    real *y;                  /* (T, d) memory output: the levels' reads summed (MATH §6.1; lev[0].y
                               * when k = 1 unless the composition carves its own) */
    real *p;                  /* (T, d) the layer output, MATH §4 */
} hct_layer_buf;

typedef struct hct_block {
    uint32_t T;
    uint64_t p0;              /* global position of token 0 */
    const uint32_t *tokens;
    uint32_t layer;           /* the layer being run: L = &lay[layer], weights m->w.layer[layer] */
    hct_layer_buf *L;
    hct_layer_buf lay[HCT_MAX_LAYERS];
    void *own;                /* the composition's own arrays: a struct its file defines and its
                               * layout carves (compose/compose.h); NULL when only measuring */
    real *scores;             /* (H w E) every head's softmax row of a token (E: the composition's window entries) */
    const real **rows;        /* (2 w E) the window's key rows, then its value rows (swa.c) */
    real *turned;             /* (4 h) a query turned by one offset, the query's pairs swapped, and
                               * their gradients (swa.c, MATH §2 rotary positions); NULL without */
    real *logits;             /* (T, V) training only (else the caller's buffer) */
    real *rule_scratch;       /* (scratch_len) the rule's per-token temporaries */
    /* gradients, training only; shared by the layers (backward runs one at a time) */
    real *dx, *dq, *da, *dkm, *dvm, *dqm, *dy, *dyl, *dp, *dgates;
    real *dk[HCT_MAX_ENTRIES], *dv[HCT_MAX_ENTRIES]; /* of L->k, L->v */
    real *lin_work;           /* (T (d + V)) hct_linear_backward's transposes */
    real *grads;              /* training: the caller's gradient buffer (n_params) */
    uint32_t grad_unwritten[(HCT_MAX_TENSORS + 31) / 32]; /* training: bit i set while tensor i, a
                               * linear_grad one, is not yet written (train.c) */
} hct_block;

/* Carving a block's arrays from the session scratch, in order, each
 * HCT_ALIGN-aligned; with base NULL it only counts the bytes (every take
 * then gives NULL). */
typedef struct hct_carver { unsigned char *base; uint64_t used; } hct_carver;
void *hct_take_bytes(hct_carver *cv, uint64_t bytes);
real *hct_take(hct_carver *cv, uint64_t n); /* n scalars */

/* b->own: `bytes` from cv for the composition's own struct, which its
 * layout fills; when cv only measures, b->own is NULL and the layout fills
 * `measuring`, a throwaway (the return value is the one to fill). */
void *hct_take_own(hct_carver *cv, hct_block *b, uint64_t bytes, void *measuring);

/* A session made with HECATE_SESSION_FREEZE_MEMORY: memories read, never write. */
static inline bool hct_memory_frozen(const hecate_session *s) {
    return (s->opts.flags & HECATE_SESSION_FREEZE_MEMORY) != 0;
}

/* Make `layer` the block's current layer (b->layer, b->L). */
static inline void hct_block_select(hct_block *b, uint32_t layer) {
    b->layer = layer;
    b->L = &b->lay[layer];
}

/* Carve the arrays of a block of T tokens from `base` (NULL: only measure),
 * the shared ones, then the composition's (its layout); returns the bytes
 * used (64-bit: callers check it against SIZE_MAX). */
uint64_t hct_block_layout(const hecate_model *m, uint32_t T, bool training, unsigned char *base,
                          hct_block *b);

/* The backward of a linear map whose weight gradient dW is a linear_grad
 * tensor of b->grads (MATH §7): dX[t] += W dY[t] (if dX); the first call for
 * a tensor stores dW = X^T dY, later ones add, so train.c zeroes none of
 * these tensors beforehand (the same bits as adding to zeros). */
void hct_grad_linear_backward(const hecate_model *m, hct_block *b, const real *W, const real *X, const real *dY,
                              uint32_t T, uint32_t din, uint32_t dout, real *dW, real *dX);

/* Forward over b->T tokens from the session's current state (MATH §1-§4).
 * Writes logits (T, V) to `logits` when non-NULL (or to b->logits when
 * training).  Does not change the session: hct_block_commit does.
 * HECATE_E_NONFINITE when anything the commit would make session state (new
 * memories, convolution states, window rows) or the logits it wrote hold
 * NaN/Inf (D10, D39); the block must then not be committed. */
hecate_status hct_block_forward(hecate_session *s, hct_block *b, real *logits, bool training);

/* Make the block's results the session state: memories, window caches, position. */
void hct_block_commit(hecate_session *s, const hct_block *b);

/* Attention for token t of the block's current layer (MATH §2) over every
 * window entry of the last w positions.  Keys before the block come from the
 * layer's window cache, the block's own from L->k[e] / L->v[e]. */
void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t);

/* Backward of hct_swa_forward for token t: accumulates into b->dq[t] and
 * b->dk[e], b->dv[e] of block positions (earlier positions are constants). */
void hct_swa_backward(const hecate_session *s, hct_block *b, uint32_t t);

/* The memory of the current layer on its input `in` (T, d): every level's
 * front end (MATH §3.1) and rule call, their reads summed into L->y (MATH
 * §6.1, 1/sqrt(k) for k > 2); backward from b->dy (din += the input's gradient). */
void hct_memory_forward(const hecate_session *s, hct_block *b, const real *in, bool training);
void hct_memory_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din);

/* A level's queries of rows other than its input, as its front end makes
 * them (the q projection, the q stream's convolution over the level's own
 * earlier rows, normalization): a composition's reads before the write
 * (MATH §4.4).
 * The caller owns the arrays; hct_pre_queries_layout carves them. */
typedef struct hct_pre_queries {
    real *proj;               /* (T, d) the rows' query projections before the convolution (q without one) */
    real *q;                  /* (T, d) the queries */
    real *norm;               /* (T) their norms before normalization */
    real *dq;                 /* (T, d) training only: d loss / d q */
    real *dproj;              /* (T, d) training only: d loss / d proj (dq without the convolution) */
} hct_pre_queries;

void hct_pre_queries_layout(hct_carver *cv, const hecate_model *m, uint32_t T, bool training,
                            hct_pre_queries *pq);

/* One level of the current layer a part at a time (for a composition that
 * interleaves it with attention token by token, MATH §4.4; the
 * memory above is begin, front(0, T) and hct_rule_forward): begin sets up
 * the level's rule call on input `in` (T, d) whose rows may be filled
 * later; front computes the front end (MATH §3.1) of rows t0 .. t1-1 (the
 * call that reaches T also writes the session's spare convolution state);
 * pre_queries projects rows x (T, d) into pq->proj, pre_query finishes
 * token t's query (convolution over the level's q stream, whose rows before
 * t front has made; normalization) into pq->q.
 * Backward: the rule call's hct_rule_grad (dy: the level's read gradient),
 * the front end's backward of rows t0 .. t1-1 from b->dkm/dvm/dqm/dgates
 * (din += the input's gradient; calls run from the last rows to the first,
 * the first reaching T), pre_query_backward of token t (from pq->dq, into
 * pq->dproj and the q stream's earlier rows: before front_backward of those
 * rows), and the projection's (from pq->dproj; dx += x's gradient). */
void hct_level_begin(const hecate_session *s, hct_block *b, uint32_t level, const real *in, bool training);
void hct_level_front(const hecate_session *s, hct_block *b, uint32_t level, const real *in, uint32_t t0,
                     uint32_t t1);
void hct_level_pre_queries(const hecate_session *s, const hct_block *b, uint32_t level, const real *x,
                           const hct_pre_queries *pq);
void hct_level_pre_query(const hecate_session *s, const hct_block *b, uint32_t level, uint32_t t,
                         const hct_pre_queries *pq);
void hct_level_pre_query_backward(const hecate_session *s, hct_block *b, uint32_t level, uint32_t t,
                                  const hct_pre_queries *pq, hct_weights *grad);
hct_rule_grad hct_level_grad(hct_block *b, uint32_t level, const real *dy, hct_weights *grad, real *din);
void hct_level_front_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *in,
                              hct_weights *grad, real *din, uint32_t t0, uint32_t t1);
void hct_level_pre_queries_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *x,
                                    const hct_pre_queries *pq, hct_weights *grad, real *dx);

/* 1/sqrt(k) for k > 2 levels, else 1 (MATH §6.1). */
real hct_level_scale(const hct_config *c);

#endif

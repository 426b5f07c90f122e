/* block.h — the per-block working set: every intermediate of MATH §1-§5 for T
 * tokens, carved from the session scratch by one layout function, and the
 * block forward shared by step, process and train (so they cannot differ). */
#ifndef HECATE_BLOCK_H
#define HECATE_BLOCK_H
#include "internal.h"
#include "rules/rule.h"

/* The arrays of one block of the stack (MATH §4.3) for T tokens.  Training
 * keeps one set per layer (backward walks them in reverse); inference shares
 * one set between layers except k and v (the window caches take them at commit). */
/* The arrays of one memory level of a block (MATH §3.1, §6.1).  Inference
 * shares one set between the levels (each level's read is summed at once). */
typedef struct hct_level_buf {
    real *km, *vm, *qm;       /* (T, d) memory key/value/query after normalization, MATH §3.1 */
    real *pre[HCT_CONV_STREAMS];  /* (T, d) with the convolution: k, v, q before it (the level's own) */
    real *dpre[HCT_CONV_STREAMS]; /* (T, d) training, with the convolution: their gradients */
    real *knorm, *qnorm;      /* (T) norms before normalization */
    real *gate_pre, *gates;   /* (T, G) */
    real *y;                  /* (T, d) the level's read */
    real *state, *at;         /* the state and CMS block-start state after the block (the session's spares) */
    real *consts;             /* the rule's per-call constants (its own, even when the arrays are shared) */
    real *rule_tape;          /* training only */
    real *rule_work;          /* training only: hct_rule_work_len (the level's backward state gradients) */
    real *dy;                 /* (T, d) training only, MAC: d loss / d the level's read */
    /* MAC (MATH §4.4): the read before each token's write from the block input x */
    real *qx, *qxnorm;        /* (T, d), (T): its query after normalization and the norm before */
    real *qxp;                /* (T, d) x's query projection before the convolution (qx without one) */
    real *hy;                 /* (T, d) the read */
    real *dqx;                /* (T, d) training only: d loss / d qx */
    real *dqxp;               /* (T, d) training only: d loss / d qxp (dqx without the convolution) */
    hct_rule_io rule_io;      /* the rule call, kept for backward */
} hct_level_buf;

typedef struct hct_layer_buf {
    real *x;                  /* (T, d) the layer's input h_l: embeddings for layer 0, MATH §1, §4.3 */
    real *q, *k, *v;          /* (T, d) attention projections, MATH §2 */
    real *a;                  /* (T, d) attention output */
    real *probs;              /* (T, H, w) attention weights; training only */
    hct_level_buf lev[HCT_MAX_LEVELS];
    real *y;                  /* (T, d) memory output: the levels' reads summed (MATH §6.1; lev[0].y
                               * when k = 1, but MAC mixes even one level) */
    real *gy;                 /* (T, d) sigmoid(y), MATH §4 */
    real *o, *p;              /* (T, d) MAG's and MAC's gated attention; the layer output Wo gives */
    real *z;                  /* (T, d) MAL's residual y + x, attention's input */
    real *h, *kh, *vh;        /* (T, d) MAC's mixed pre-write reads and their attention key/value, MATH §4.4 */
} hct_layer_buf;

typedef struct hct_block {
    uint32_t T;
    uint64_t p0;              /* global position of token 0 */
    const uint32_t *tokens;
    uint32_t layer;           /* the layer being run: L = &lay[layer], weights m->w.layer[layer] */
    hct_layer_buf *L;
    hct_layer_buf lay[HCT_MAX_LAYERS];
    real *scores;             /* (w E) scratch for one softmax row (E: the composition's window entries) */
    const real **rows;        /* (2 w E) the window's key rows, then its value rows (swa.c) */
    real *turned;             /* (4 h) a query turned by one offset, the query's pairs swapped, and
                               * their gradients (swa.c, MATH §2 rotary positions); NULL without */
    real *logits;             /* (T, V) training only (else the caller's buffer) */
    real *rule_scratch;       /* (scratch_len) the rule's per-token temporaries */
    /* gradients, training only; shared by the layers (backward runs one at a time) */
    real *dx, *dq, *dk, *dv, *da, *dkm, *dvm, *dqm, *dy, *dyl, *do_, *dp, *dgates;
    real *dh, *dkh, *dvh;     /* MAC: d loss / d h, kh, vh */
    real *lin_work;           /* (T (d + V)) hct_linear_backward's transposes */
} hct_block;

/* A session made with HECATE_SESSION_FREEZE_MEMORY: memories read, never write. */
static inline bool hct_memory_frozen(const hecate_session *s) {
    return (s->opts.flags & HECATE_SESSION_FREEZE_MEMORY) != 0;
}

/* Make `layer` the block's current layer (b->layer, b->L). */
static inline void hct_block_select(hct_block *b, uint32_t layer) {
    b->layer = layer;
    b->L = &b->lay[layer];
}

/* Carve the arrays of a block of T tokens from `base` (NULL: only measure);
 * returns the bytes used (64-bit: callers check it against SIZE_MAX). */
uint64_t hct_block_layout(const hecate_model *m, uint32_t T, bool training, unsigned char *base,
                          hct_block *b);

/* Forward over b->T tokens from the session's current state (MATH §1-§4).
 * Writes logits (T, V) to `logits` when non-NULL (or to b->logits when
 * training).  Does not change the session: hct_block_commit does. */
hecate_status hct_block_forward(hecate_session *s, hct_block *b, real *logits, bool training);

/* Make the block's results the session state: memories, window caches, position. */
void hct_block_commit(hecate_session *s, const hct_block *b);

/* Attention for token t of the block's current layer (MATH §2).  Keys before
 * the block come from the layer's window cache, the block's own from L->k / L->v. */
void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t);

/* Backward of hct_swa_forward for token t: accumulates into b->dq[t] and
 * b->dk, b->dv of block positions (earlier positions are constants). */
void hct_swa_backward(const hecate_session *s, hct_block *b, uint32_t t);

/* The memory of the current layer on its input `in` (T, d): every level's
 * front end (MATH §3.1) and rule call, their reads summed into L->y (MATH
 * §6.1, 1/sqrt(k) for k > 2); backward from b->dy (din += the input's gradient). */
void hct_memory_forward(const hecate_session *s, hct_block *b, const real *in, bool training);
void hct_memory_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din);

/* One level of the current layer a part at a time (MAC, MATH §4.4; the
 * memory above is begin, front(0, T) and hct_rule_forward): begin sets up
 * the level's rule call on input `in` (T, d) whose rows may be filled
 * later; front computes the front end (MATH §3.1) of rows t0 .. t1-1 (the
 * call that reaches T also writes the session's spare convolution state);
 * pre_queries projects x to the queries of the read before the write
 * (L->lev[].qxp), pre_query finishes token t's (convolution over the level's
 * q stream, whose rows before t front has made; normalization) into qx.
 * Backward: the rule call's hct_rule_grad (dy: the level's read gradient),
 * the front end's backward of rows t0 .. t1-1 from b->dkm/dvm/dqm/dgates
 * (din += the input's gradient; calls run from the last rows to the first,
 * the first reaching T), pre_query_backward of token t (from lev[].dqx, into
 * dqxp and the q stream's earlier rows: before front_backward of those rows),
 * and the pre-read queries' projection (from lev[].dqxp). */
void hct_level_begin(const hecate_session *s, hct_block *b, uint32_t level, const real *in, bool training);
void hct_level_front(const hecate_session *s, hct_block *b, uint32_t level, const real *in, uint32_t t0,
                     uint32_t t1);
void hct_level_pre_queries(const hecate_session *s, hct_block *b, uint32_t level, const real *x);
void hct_level_pre_query(const hecate_session *s, hct_block *b, uint32_t level, uint32_t t);
void hct_level_pre_query_backward(const hecate_session *s, hct_block *b, uint32_t level, uint32_t t,
                                  hct_weights *grad);
hct_rule_grad hct_level_grad(hct_block *b, uint32_t level, const real *dy, hct_weights *grad, real *din);
void hct_level_front_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *in,
                              hct_weights *grad, real *din, uint32_t t0, uint32_t t1);
void hct_level_pre_queries_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *x,
                                    hct_weights *grad, real *dx);

/* 1/sqrt(k) for k > 2 levels, else 1 (MATH §6.1). */
real hct_level_scale(const hct_config *c);

#endif

/* rules/rule.h — the memory-rule vtable.  A rule owns only its recurrence
 * (MATH §3.2 ff.): the shared front end (projections, q/k normalization,
 * gates; MATH §3.1) lives in level.c.  Adding a rule = one file in rules/
 * plus one line in rules/registry.c. */
#ifndef HECATE_RULE_H
#define HECATE_RULE_H
#include "../internal.h"

/* Gate activations (MATH §3.1); IDENTITY hands the rule the pre-activation. */
/* BOUNDED: HCT_THETA_MAX * sigmoid, what a SOFTPLUS gate becomes under header flag bit 4 (MATH §3.1) */
enum { HCT_GATE_SIGMOID = 0, HCT_GATE_SOFTPLUS = 1, HCT_GATE_IDENTITY = 2, HCT_GATE_BOUNDED = 3 };

/* Retention ids of the model header (docs/FORMAT.md, MATH §3.8); 0 in a file
 * means the rule's default, which the reader resolves (cfg->retention is
 * never 0 after that). */
enum { HCT_RET_DEFAULT = 0, HCT_RET_L2 = 1, HCT_RET_KL = 2, HCT_RET_ELASTIC = 3, HCT_RET_SPHERE = 4,
       HCT_RET_COUNT = 5 };
#define HCT_RET_BIT(id) (1u << (id))

/* Inputs of a rule over T tokens; all arrays (T, d) row-major except gates (T, G). */
typedef struct hct_rule_io {
    const struct hct_rule *rule; /* the rule being run (its impl data included) */
    const hct_config *cfg;
    uint32_t d, T;
    const real *k, *v, *q;  /* memory key (normalized if the flag is set), value, query */
    const real *x;          /* the level's input (T, d): what Trellis compresses; others ignore it */
    const real *gates;      /* post-activation, in the rule's gate order */
    const real *const *tensors; /* the rule's own parameter tensors (n_tensors of them) */
    const real *state_in;   /* state before token 0 (left unchanged) */
    real *state;            /* out: state after token T-1, unless frozen (then untouched) */
    real *y;                /* out: (T, d) memory read per token */
    real *tape;             /* NULL for inference, else hct_rule_tape_len() scalars for backward */
    real *scratch;          /* scratch_len() scalars for the rule's per-token temporaries */
    real *consts;           /* consts_len() scalars: what prepare() derives once per call (kept for
                             * the backward; its own buffer per level, never shared) */
    bool frozen;            /* read only, never write (MATH §3.2 frozen) */
    /* CMS (MATH §6.1): a level of period C writes at the end of every block
     * of C tokens (global index n fires when (n + 1) mod C == 0) with every
     * inner gradient of the block taken at its block-start state P; tokens
     * that do not fire read P.  period 1 is the per-token rule (P is the
     * state itself, at_in/at_out unused). */
    uint32_t period;        /* C >= 1 */
    uint64_t pos0;          /* global index n of token 0 */
    const real *at_in;      /* P before token 0 (state_len; period > 1 or gated) */
    real *at_out;           /* out: P after token T-1 (may be at_in; period > 1 or gated) */
    /* Learned frequency gate (MATH §6.2; freq_w NULL: none): at each block's
     * last token a gate on the block's mean input x decides whether the
     * level publishes its accumulated state or keeps P.  A gated level
     * keeps P whatever its period; its backward needs dx. */
    const real *freq_w, *freq_b; /* (d), (1) */
    bool fixed_schedule;    /* every gate open and no gate gradient (annealing, MATH §6.2) */
    const real *sum_in;     /* (d) the current block's input sum before token 0 */
    real *sum_out;          /* out (d): after token T-1 (not sum_in) */
} hct_rule_io;

typedef struct hct_rule_grad {
    const hct_rule_io *fwd; /* the forward's inputs; tape as filled by forward */
    const real *dy;         /* (T, d) */
    real *dk, *dv, *dq;     /* out (T, d), overwritten */
    real *dx;               /* (T, d): a rule that reads io->x adds its gradient here */
    real *dgates;           /* out (T, G): d loss / d gate value, overwritten */
    real *const *dtensors;  /* gradients of the rule's tensors, accumulated (+=) */
    real *work;             /* work_len() scalars */
    real *dfreq_w, *dfreq_b; /* a gated level's gate gradients (d), (1), accumulated (+=) */
} hct_rule_grad;

/* One token of the backward of a rule's token() (the per-token interface). */
typedef struct hct_token_step {
    uint32_t t;
    const real *at, *in, *out; /* the gradient point, the state before and after the token */
    const real *extra;         /* what token() kept (extra_len scalars) */
    const real *dy;            /* (d) gradient of the read of `out`, NULL when that read is unused */
    real *ds;                  /* state_len: in: d loss / d out; out: d loss / d in */
    real *dat;                 /* state_len, +=: d loss / d at.  May be ds itself (at == in):
                                * every element of ds must be final before that element of
                                * dat is added to. */
} hct_token_step;

typedef struct hct_rule {
    uint32_t id;
    const char *name;
    uint32_t n_gates;
    uint8_t gate_kind[HCT_MAX_GATES];
    uint8_t retention_default; /* HCT_RET_* the rule uses when the file says 0 */
    uint8_t retention_ok;      /* HCT_RET_BIT of every retention the rule's math allows */
    /* validate the rule hyper-parameters (cfg->rule_params) and d: HECATE_OK
     * or HECATE_E_FILE_CONFIG.  Every size below may assume they passed. */
    hecate_status (*check_params)(const hct_config *cfg);
    /* sizes in scalars, 64-bit so that a 32-bit size_t cannot wrap */
    uint64_t (*state_len)(const hct_config *cfg);
    void (*state_init)(real *state, const hct_config *cfg);
    uint64_t (*scratch_len)(const hct_config *cfg);
    /* The per-token interface the shared loop (loop.c) runs, CMS periods
     * and frozen reads included (state_in and state may be the same
     * buffer: the ops API runs in place).  token: one write from `in` to `out`
     * (may alias) with the inner gradient taken at `at` (== in, or the CMS
     * block-start state; may alias in and out: read it before writing
     * out), then y = read(out); extra: extra_len scalars kept for the
     * backward.  read: y = read(state) for the query row q (d scalars: the
     * token's row of io->q, or MAC's pre-write query), no write (scratch:
     * io->scratch).  token_backward: overwrites dk, dv, dq (0 when s->dy
     * is NULL), dgates for token t; adds to dx and dtensors; g->work holds
     * work_len scalars.  read_backward: the read's backward for the same
     * q: dq += d/dq, ds += d/d state (ds may be NULL: not wanted). */
    uint64_t (*extra_len)(const hct_config *cfg);
    void (*token)(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                  real *extra);
    void (*read)(const hct_rule_io *io, const real *q, const real *state, real *y);
    uint64_t (*work_len)(const hct_config *cfg);
    void (*token_backward)(const hct_rule_grad *g, const hct_token_step *s);
    void (*read_backward)(const hct_rule_grad *g, const real *q, const real *state, const real *dy, real *ds,
                          real *dq);
    const void *impl;       /* data of a rule family's shared code (rules/mlp.h), else NULL */
    /* the rule's own parameter tensors, stored after the level's gate_b as
     * "blk0.mem<l>.<name>" (FORMAT.md); shape of tensor i for a config */
    uint32_t n_tensors;
    const char *const *tensor_names;
    void (*tensor_shape)(const hct_config *cfg, uint32_t i, uint32_t *ndim, uint32_t shape[2]);
    /* Optional (NULL: none): per-call constants derived from the config and
     * the rule's tensors (the MLP prior, the SSM's A), consts_len scalars
     * that prepare() writes before the call's first token; token, read and
     * their backwards read them from io->consts. */
    uint64_t (*consts_len)(const hct_config *cfg);
    void (*prepare)(const hct_rule_io *io, real *consts);
    /* Optional (NULL: token_backward token by token): tokens t1-1 down to t0
     * of a plain level (not frozen, no CMS period or gate; each token's step
     * as hct_plain_step gives it, ds their state gradient) with
     * token_backward's results for each in turn, bit for bit, free to
     * interleave neighbouring tokens' passes over the state.  Returns false,
     * having done nothing, where it does not apply. */
    bool (*tokens_backward)(const hct_rule_grad *g, real *ds, uint32_t t0, uint32_t t1);
    /* Optional (NULL: token token by token): tokens t0 .. t1-1 of a plain
     * level's forward (not frozen, no CMS period or gate; each token's
     * pointers as hct_plain_token_at gives them) with token's results for
     * each, bit for bit, free to interleave neighbouring tokens' passes over
     * the state.  Returns false, having done nothing, where it does not apply. */
    bool (*tokens_forward)(const hct_rule_io *io, uint32_t t0, uint32_t t1);
} hct_rule;

/* The rule over io->T tokens (the shared loop, loop.c) and its backward;
 * the tape, work and consts sizes these need. */
void hct_rule_forward(const hct_rule_io *io);
void hct_rule_backward(const hct_rule_grad *g);
uint64_t hct_rule_tape_len(const hct_rule *rule, const hct_config *cfg, uint32_t T);
uint64_t hct_rule_work_len(const hct_rule *rule, const hct_config *cfg);
uint64_t hct_rule_consts_len(const hct_rule *rule, const hct_config *cfg);

/* The same loop a range of tokens at a time, for a composition that needs
 * something between one token and the next (MAC, MATH §4.4):
 * hct_rule_run(io, t0, t1) runs tokens t0 .. t1-1 (calls must cover 0 .. T-1
 * in order; hct_rule_forward is run(0, T)).  hct_rule_pre_read: y (d) =
 * the read token t would see before its write (the state, or the CMS
 * block-start state), with the query row q (d) in place of io->q's; call it
 * after run(.., t) and before run(t, ..).  Backward: begin once, then
 * hct_rule_backward_tokens(g, t0, t1) in reverse ranges (t1 = T first),
 * and hct_rule_pre_read_backward for token t (dq (d) += d/dq, the state
 * gradient routed) after the range holding t and before the one before it. */
void hct_rule_run(const hct_rule_io *io, uint32_t t0, uint32_t t1);
void hct_rule_pre_read(const hct_rule_io *io, const real *q, uint32_t t, real *y);
void hct_rule_backward_begin(const hct_rule_grad *g);
void hct_rule_backward_tokens(const hct_rule_grad *g, uint32_t t0, uint32_t t1);
void hct_rule_pre_read_backward(const hct_rule_grad *g, const real *q, uint32_t t, const real *dy, real *dq);

/* NULL if the id is unknown. */
const hct_rule *hct_rule_by_id(uint32_t id);

/* Resolves cfg->retention (0: the rule's default) and checks it against the
 * rule and cfg->retention_param: HECATE_E_FILE_RETENTION when the rule does
 * not allow it, HECATE_E_FILE_CONFIG for a bad parameter. */
hecate_status hct_rule_check_retention(const hct_rule *rule, hct_config *cfg);

#endif

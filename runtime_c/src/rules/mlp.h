/* rules/mlp.h — what the MLP-memory rules share (MATH §3.5): the state
 * (W1, W2^T), both (h, d) row-major (row i = hidden unit i), M(x) =
 * silu(W1 x) W2; one inner gradient step per token on the rule's attentional
 * bias of e = M(k) - v taken at the gradient point (the state, or the CMS
 * block-start state: MATH §6.1), the rule's retention of the state
 * (forgetting pulls it back to the rule's init state W0, its prior), then
 * the read y = M(q) of the new state; exact BPTT including the silu'' term
 * (MATH §3.5).  The per-token interface of rule.h, run by the shared loop. */
#ifndef HECATE_RULES_MLP_H
#define HECATE_RULES_MLP_H
#include "loop.h"
#include "retention.h"

/* The retentions an MLP memory allows: L2 decay and the elastic net toward
 * its prior (and KL where the state lives on the simplex: MEMORA). */
#define HCT_MLP_RETENTIONS (HCT_RET_BIT(HCT_RET_L2) | HCT_RET_BIT(HCT_RET_ELASTIC))

/* What differs between the MLP rules. */
typedef struct hct_mlp_kind {
    /* the attentional bias g = b(e) and its derivative, elementwise over d */
    void (*bias)(const hct_config *cfg, const real *e, real *g, uint32_t d);
    void (*bias_grad)(const hct_config *cfg, const real *e, real *gp, uint32_t d);
    void (*init)(real *state, const hct_config *cfg); /* W0 */
    int lambda_2_param;    /* index of lambda_2 in rule_params (L2 only), -1: none */
    int grad_bound_param;  /* index of grad_bound (HCT_MLP_GRAD_BOUND), -1: none */
} hct_mlp_kind;

/* d_hidden = rule_params[0], an integer in 1..4096. */
uint32_t hct_mlp_hidden(const hct_config *cfg);
hecate_status hct_mlp_check_hidden(const hct_config *cfg);

uint64_t hct_mlp_state_len(const hct_config *cfg);
uint64_t hct_mlp_scratch_len(const hct_config *cfg);
uint64_t hct_mlp_work_len(const hct_config *cfg);
uint64_t hct_mlp_extra_len(const hct_config *cfg);

/* The rules that start from hct_mlp_hash_init keep its scale s in
 * rule_params[HCT_MLP_W1_SCALE]; 0 (files written before the parameter)
 * means the reference's s = 0.1 (MATH §3.5, DECISIONS D49). */
#define HCT_MLP_W1_SCALE 3
#define HCT_MLP_LEGACY_W1_SCALE ((real)0.1)

/* MATH §3.5 init: W1[i][j] = s sqrt(2/(d+h)) (hash(i d + j) - 0.5), W2 = 0. */
void hct_mlp_hash_init(real *state, const hct_config *cfg);

/* MONETA and YAAD keep the bound c of their inner gradient in
 * rule_params[HCT_MLP_GRAD_BOUND]: G~ = G / sqrt(1 + ||G||^2 / c^2) (MATH §3.5,
 * DECISIONS D51); 0 (files written before the parameter) leaves G as it is. */
#define HCT_MLP_GRAD_BOUND 4
/* w1_scale (0: legacy) and grad_bound (0: off), the consecutive slots
 * HCT_MLP_W1_SCALE .. HCT_MLP_GRAD_BOUND, each 0 or in (0, 1e6] */
hecate_status hct_mlp_check_scales(const hct_config *cfg);

/* The per-token interface (rule.h) of a rule whose vtable impl is its
 * hct_mlp_kind; its consts are the prior (prepare builds it). */
uint64_t hct_mlp_consts_len(const hct_config *cfg);
void hct_mlp_prepare(const hct_rule_io *io, real *prior);
void hct_mlp_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                   real *extra);
void hct_mlp_read(const hct_rule_io *io, const real *q, const real *state, real *y);
void hct_mlp_token_backward(const hct_rule_grad *g, const hct_token_step *s);
void hct_mlp_read_backward(const hct_rule_grad *g, const real *q, const real *state, const real *dy, real *ds,
                           real *dq);

/* The vtable fields (rule.h) every MLP rule shares, for its designated
 * initializer: two gates (alpha: sigmoid, theta: softplus), the sizes, the
 * per-token interface above and `kind` (an hct_mlp_kind) as impl.  The rule
 * adds its id, name, retentions, check_params and state_init (kind's init). */
#define HCT_MLP_RULE_FIELDS(kind)                                              \
    .n_gates = 2, .gate_kind = {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS},          \
    .state_len = hct_mlp_state_len, .scratch_len = hct_mlp_scratch_len,        \
    .extra_len = hct_mlp_extra_len, .token = hct_mlp_token,                    \
    .read = hct_mlp_read, .work_len = hct_mlp_work_len,                        \
    .token_backward = hct_mlp_token_backward,                                  \
    .read_backward = hct_mlp_read_backward, .impl = &(kind),                   \
    .consts_len = hct_mlp_consts_len, .prepare = hct_mlp_prepare

#endif

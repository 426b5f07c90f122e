/* rules/mlp.h — what the MLP-memory rules share (MATH §3.5-§3.7): the state
 * (W1, W2^T), both (h, d) row-major (row i = hidden unit i), M(x) =
 * silu(W1 x) W2; one inner gradient step per token on the rule's attentional
 * bias of e = M(k) - v, the rule's retention (forgetting pulls the state
 * back to the rule's init state W0, its prior), then the read y = M(q) of
 * the new state; exact BPTT including the silu'' term (MATH §3.5). */
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
} hct_mlp_kind;

/* d_hidden = rule_params[0], an integer in 1..4096. */
uint32_t hct_mlp_hidden(const hct_config *cfg);
hecate_status hct_mlp_check_hidden(const hct_config *cfg);

uint64_t hct_mlp_state_len(const hct_config *cfg);
uint64_t hct_mlp_scratch_len(const hct_config *cfg);
uint64_t hct_mlp_tape_len(const hct_config *cfg, uint32_t T);
uint64_t hct_mlp_work_len(const hct_config *cfg);

/* MATH §3.5 init: W1[i][j] = 0.1 sqrt(2/(d+h)) (hash(i d + j) - 0.5), W2 = 0. */
void hct_mlp_hash_init(real *state, const hct_config *cfg);

/* Forward over io->T tokens (frozen: reads only) and its exact backward, for
 * a rule whose vtable impl is its hct_mlp_kind. */
void hct_mlp_forward(const hct_rule_io *io);
void hct_mlp_backward(const hct_rule_grad *g);

#endif

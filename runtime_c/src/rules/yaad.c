/* rules/yaad.c — YAAD (MATH §3.5): 2-layer MLP memory, Huber attentional bias
 * g = e inside |e| < delta, delta sign(e) outside, L2 retention with
 * lambda_2.  Params: d_hidden, delta > 0, lambda_2 >= 0,
 * w1_scale (the init's scale), grad_bound (the inner gradient's bound; mlp.h). */
#include "mlp.h"

enum { P_HIDDEN = 0, P_DELTA = 1, P_LAMBDA = 2 };

/* outside the band delta sign(e) + (e - e): the added term is 0 for a finite e
 * and NaN for an infinite or NaN one, so an overflowed memory input poisons
 * the state and is refused instead of clipped (MATH §3.5 table, D80) */
static void huber_bias(const hct_config *cfg, const real *e, real *g, uint32_t d) {
    real delta = (real)cfg->rule_params[P_DELTA];
    for (uint32_t j = 0; j < d; j++)
        g[j] = e[j] < delta && e[j] > -delta ? e[j] : (e[j] > 0 ? delta : -delta) + (e[j] - e[j]);
}

static void huber_bias_grad(const hct_config *cfg, const real *e, real *gp, uint32_t d) {
    real delta = (real)cfg->rule_params[P_DELTA];
    for (uint32_t j = 0; j < d; j++) gp[j] = e[j] < delta && e[j] > -delta ? 1 : 0;
}

static const hct_mlp_kind YAAD = {
    .bias = huber_bias,
    .bias_grad = huber_bias_grad,
    .init = hct_mlp_hash_init,
    .lambda_2_param = P_LAMBDA,
    .grad_bound_param = HCT_MLP_GRAD_BOUND,
};

static hecate_status yaad_check(const hct_config *cfg) {
    const float *p = cfg->rule_params;
    if (hct_mlp_check_hidden(cfg) != HECATE_OK || !(p[P_DELTA] > 0.0f) || !(p[P_LAMBDA] >= 0.0f) ||
        hct_mlp_check_scales(cfg) != HECATE_OK)
        return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 5);
}

const hct_rule hct_rule_yaad = {
    .id = 4,
    .name = "yaad",
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MLP_RETENTIONS,
    .check_params = yaad_check,
    .state_init = hct_mlp_hash_init,
    HCT_MLP_RULE_FIELDS(YAAD),
};

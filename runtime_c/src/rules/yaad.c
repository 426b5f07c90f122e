/* rules/yaad.c — YAAD (MATH §3.5): 2-layer MLP memory, Huber attentional bias
 * g = e inside |e| < delta, delta sign(e) outside, L2 retention with
 * lambda_2.  Params: d_hidden, delta > 0, lambda_2 >= 0. */
#include "mlp.h"

enum { P_HIDDEN = 0, P_DELTA = 1, P_LAMBDA = 2 };

static void huber_bias(const hct_config *cfg, const real *e, real *g, uint32_t d) {
    real delta = (real)cfg->rule_params[P_DELTA];
    for (uint32_t j = 0; j < d; j++)
        g[j] = e[j] < delta && e[j] > -delta ? e[j] : (e[j] > 0 ? delta : e[j] < 0 ? -delta : 0);
}

static void huber_bias_grad(const hct_config *cfg, const real *e, real *gp, uint32_t d) {
    real delta = (real)cfg->rule_params[P_DELTA];
    for (uint32_t j = 0; j < d; j++) gp[j] = e[j] < delta && e[j] > -delta ? 1 : 0;
}

static const hct_mlp_kind YAAD = {huber_bias, huber_bias_grad, hct_mlp_hash_init, P_LAMBDA};

static hecate_status yaad_check(const hct_config *cfg) {
    const float *p = cfg->rule_params;
    if (hct_mlp_check_hidden(cfg) != HECATE_OK || !(p[P_DELTA] > 0.0f) || !(p[P_LAMBDA] >= 0.0f))
        return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 3);
}

const hct_rule hct_rule_yaad = {
    4, "yaad", 2, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, 0, 0}, HCT_RET_L2, HCT_MLP_RETENTIONS,
    yaad_check, hct_mlp_state_len, hct_mlp_hash_init, hct_mlp_scratch_len,
    hct_mlp_extra_len, hct_mlp_token, hct_mlp_read,
    hct_mlp_work_len, hct_mlp_token_backward, hct_mlp_read_backward,
    &YAAD, 0, NULL, NULL,
    hct_mlp_consts_len, hct_mlp_prepare,
};

/* rules/moneta.c — MONETA (MATH §3.5): 2-layer MLP memory, l_p attentional
 * bias g = p tanh(a e) (e^2 + eps)^((p-1)/2) (2 e for p = 2), L2 retention
 * with lambda_2.  Params: d_hidden, p in [1, 8], lambda_2 >= 0,
 * w1_scale (the init's scale), grad_bound (the inner gradient's bound; mlp.h). */
#include "mlp.h"
#include "../mathfn.h"

#define SHARPNESS ((real)10)  /* a: tanh(a e) smooths sign(e) */
#define LP_EPS ((real)1e-6)

enum { P_HIDDEN = 0, P_P = 1, P_LAMBDA = 2 };

static real tanh_(real x) {
    real t = hct_exp(-2 * (x < 0 ? -x : x)), r = ((real)1 - t) / ((real)1 + t);
    return x < 0 ? -r : r;
}

static void lp_bias(const hct_config *cfg, const real *e, real *g, uint32_t d) {
    real p = (real)cfg->rule_params[P_P];
    for (uint32_t j = 0; j < d; j++)
        g[j] = p == 2 ? 2 * e[j]
                      : p * tanh_(SHARPNESS * e[j]) * hct_exp((p - 1) / 2 * hct_log(e[j] * e[j] + LP_EPS));
}

/* d/de: p (a sech^2(a e) m + tanh(a e) (p-1) e m / (e^2+eps)), m = (e^2+eps)^((p-1)/2) */
static void lp_bias_grad(const hct_config *cfg, const real *e, real *gp, uint32_t d) {
    real p = (real)cfg->rule_params[P_P];
    for (uint32_t j = 0; j < d; j++) {
        if (p == 2) { gp[j] = 2; continue; }
        real s = e[j] * e[j] + LP_EPS, m = hct_exp((p - 1) / 2 * hct_log(s)), th = tanh_(SHARPNESS * e[j]);
        gp[j] = p * (SHARPNESS * ((real)1 - th * th) * m + th * (p - 1) * e[j] * m / s);
    }
}

static const hct_mlp_kind MONETA = {
    .bias = lp_bias,
    .bias_grad = lp_bias_grad,
    .init = hct_mlp_hash_init,
    .lambda_2_param = P_LAMBDA,
    .grad_bound_param = HCT_MLP_GRAD_BOUND,
};

static hecate_status moneta_check(const hct_config *cfg) {
    const float *p = cfg->rule_params;
    if (hct_mlp_check_hidden(cfg) != HECATE_OK || !(p[P_P] >= 1.0f && p[P_P] <= 8.0f) || !(p[P_LAMBDA] >= 0.0f) ||
        hct_mlp_check_scales(cfg) != HECATE_OK)
        return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 5);
}

const hct_rule hct_rule_moneta = {
    .id = 3,
    .name = "moneta",
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MLP_RETENTIONS,
    .check_params = moneta_check,
    .state_init = hct_mlp_hash_init,
    HCT_MLP_RULE_FIELDS(MONETA),
};

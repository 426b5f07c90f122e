/* rules/memora.c — MEMORA (MATH §3.5): 2-layer MLP memory whose rows of W1
 * and W2 are probability vectors, L2 bias g = e, KL retention
 * w' = softmax((1-alpha) log w - theta g).  Params: d_hidden. */
#include "mlp.h"
#include "../mathfn.h"

static void identity_bias(const hct_config *cfg, const real *e, real *g, uint32_t d) {
    (void)cfg;
    hct_copy(g, e, d);
}

static void identity_bias_grad(const hct_config *cfg, const real *e, real *gp, uint32_t d) {
    (void)cfg;
    (void)e;
    for (uint32_t j = 0; j < d; j++) gp[j] = 1;
}

static hecate_status memora_check(const hct_config *cfg) {
    if (hct_mlp_check_hidden(cfg) != HECATE_OK) return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 1);
}

/* MATH §3.5: rows of W1 = softmax(0.1 (hash(i d + j) - 0.5)), W2 = 1/h everywhere. */
static void memora_init(real *state, const hct_config *cfg) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    for (uint32_t i = 0; i < h; i++) {
        real *row = state + (size_t)i * d, sum = 0, mx = -HCT_REAL_MAX;
        for (uint32_t j = 0; j < d; j++) {
            row[j] = (real)0.1 * (hct_unit_hash((size_t)i * d + j) - (real)0.5);
            if (row[j] > mx) mx = row[j];
        }
        for (uint32_t j = 0; j < d; j++) sum += (row[j] = hct_exp(row[j] - mx));
        for (uint32_t j = 0; j < d; j++) row[j] /= sum;
    }
    for (size_t i = 0; i < n; i++) state[n + i] = (real)1 / (real)h;
}

static const hct_mlp_kind MEMORA = {
    .bias = identity_bias,
    .bias_grad = identity_bias_grad,
    .init = memora_init,
    .lambda_2_param = -1,
    .grad_bound_param = -1,
};

const hct_rule hct_rule_memora = {
    .id = 5,
    .name = "memora",
    .retention_default = HCT_RET_KL,
    .retention_ok = HCT_MLP_RETENTIONS | HCT_RET_BIT(HCT_RET_KL),
    .check_params = memora_check,
    .state_init = memora_init,
    HCT_MLP_RULE_FIELDS(MEMORA),
};

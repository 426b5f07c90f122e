/* rules/delta.c — the delta rule (MATH §3.2): S <- (1-alpha) S - theta k^T (k S - v),
 * read y = q S after the write; exact BPTT through the recurrence (MATH §7).
 * State: S (d, d) row-major, initial 0.  Gates: alpha (sigmoid), theta (softplus).
 * Every pass streams rows of S, so the loops vectorize without reductions. */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2 };

static uint64_t delta_work_len(const hct_config *cfg) { return (uint64_t)cfg->d * cfg->d + 2 * (uint64_t)cfg->d; }

/* One token: e = k S - v (a row-streaming linear map), then the fused update and read. */
static void delta_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *e) {
    uint32_t d = io->d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d, *g = io->gates + (size_t)t * N_GATES;
    hct_linear(in, k, 1, d, d, e);
    for (uint32_t i = 0; i < d; i++) e[i] -= v[i];
    hct_matrix_update_read(in, out, d, k, e, io->q + (size_t)t * d, (real)1 - g[G_ALPHA], g[G_THETA], y);
    hct_matrix_retain(io, out, io->q + (size_t)t * d, g[G_THETA], y);
}

static void delta_forward(const hct_rule_io *io) { hct_matrix_forward(io, delta_token, 1); }

/* Reverse pass of MATH §7 (delta rule BPTT), row by row of S. */
static void delta_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, T = io->T;
    size_t dd = (size_t)d * d;
    real *dS = g->work, *u = g->work + dd, *de = u + d, lambda = hct_shrink_lambda(io->cfg);
    hct_zero(dS, dd);
    for (uint32_t tt = T; tt-- > 0;) {
        if (io->frozen) {
            hct_matrix_frozen_backward(g, tt, N_GATES);
            continue;
        }
        hct_token_grad x = hct_token_slices(g, tt, N_GATES);
        const real *S0 = hct_matrix_tape_state(io, tt, 1), *S1 = S0 + dd, *e = hct_matrix_tape_e(io, tt, 1);
        /* dS += q^T dy ; dq = S_{t+1} dy ; (elastic net: through the shrink) ; dalpha = -<dS, S_t> */
        real dalpha = 0, dthr = 0;
        for (uint32_t j = 0; j < d; j++) {
            real *ds = dS + (size_t)j * d;
            hct_axpy(ds, x.q[j], x.dy, d);
            x.dq[j] = hct_dot(S1 + (size_t)j * d, x.dy, d);
            if (lambda != 0) dthr += hct_retain_shrink_backward(S1 + (size_t)j * d, NULL, ds, d);
            dalpha -= hct_dot(ds, S0 + (size_t)j * d, d);
        }
        x.dgates[G_ALPHA] = dalpha;
        x.dgates[G_THETA] = lambda * dthr +
            hct_matrix_error_step_backward(dS, S0, x.k, e, x.gates[G_THETA], d, u, de, x.dk, x.dv);
        /* dS <- (1 - alpha) dS + k^T de */
        real keep = (real)1 - x.gates[G_ALPHA];
        for (uint32_t j = 0; j < d; j++) {
            real *ds = dS + (size_t)j * d;
            for (uint32_t i = 0; i < d; i++) ds[i] = keep * ds[i] + x.k[j] * de[i];
        }
    }
}

const hct_rule hct_rule_delta = {
    0, "delta", N_GATES, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, 0, 0}, HCT_RET_L2, HCT_MATRIX_RETENTIONS,
    hct_rule_params_none, hct_matrix_state_len, hct_matrix_state_init, hct_matrix_scratch_len,
    delta_forward, hct_matrix_tape_len, delta_work_len, delta_backward, NULL,
    0, NULL, NULL,
};

/* rules/delta.c — the delta rule (MATH §3.2): S <- (1-alpha) S - theta k^T (k S - v),
 * read y = q S after the write; exact BPTT through the recurrence (MATH §7).
 * State: S (d, d) row-major, initial 0.  Gates: alpha (sigmoid), theta (softplus).
 * Every pass streams rows of S, so the loops vectorize without reductions. */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2 };

/* per-token backward: u, de (d each) */
static uint64_t delta_work_len(const hct_config *cfg) { return 2 * (uint64_t)cfg->d; }

/* One token: e = k S_at - v (a row-streaming linear map; S_at is S itself
 * except inside a CMS block), then the fused update of S and read. */
static void delta_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                        real *e) {
    uint32_t d = io->d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d, *g = io->gates + (size_t)t * N_GATES;
    hct_linear(at, k, 1, d, d, e);
    for (uint32_t i = 0; i < d; i++) e[i] -= v[i];
    hct_matrix_update_read(in, out, d, k, e, io->q + (size_t)t * d, (real)1 - g[G_ALPHA], g[G_THETA], y);
    hct_matrix_retain(io, out, io->q + (size_t)t * d, g[G_THETA], y);
}

/* One token of MATH §7 (delta rule BPTT), row by row of S: one pass for
 * everything row j of dS gives once it is final, one for what needs u. */
static void delta_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d;
    real *dS = s->ds, *u = g->work, *de = u + d, lambda = hct_shrink_lambda(io->cfg);
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
    /* dS += q^T dy ; dq = S_{t+1} dy ; (elastic net: through the shrink) ; dalpha = -<dS, S_t> ;
     * u = k dS and dS e (into dk) for the error step */
    real dalpha = 0, dthr = 0;
    hct_zero(u, d);
    for (uint32_t j = 0; j < d; j++) {
        real *ds = dS + (size_t)j * d;
        if (s->dy) {
            hct_axpy(ds, x.q[j], s->dy, d);
            x.dq[j] = hct_dot(s->out + (size_t)j * d, s->dy, d);
        }
        if (lambda != 0) dthr += hct_retain_shrink_backward(s->out + (size_t)j * d, NULL, ds, d);
        dalpha -= hct_dot(ds, s->in + (size_t)j * d, d);
        x.dk[j] = hct_matrix_error_row(ds, x.k[j], s->extra, u, d);
    }
    if (!s->dy) hct_zero(x.dq, d);
    x.dgates[G_ALPHA] = dalpha;
    x.dgates[G_THETA] = lambda * dthr + hct_matrix_error_step_finish(s->at, s->extra, x.gates[G_THETA], d, u, de,
                                                                     x.dk, x.dv);
    /* dS <- (1 - alpha) dS ; dS_at += k^T de */
    hct_matrix_keep_add(dS, s->dat, (real)1 - x.gates[G_ALPHA], x.k, de, d);
}

const hct_rule hct_rule_delta = {
    .id = 0,
    .name = "delta",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID, [G_THETA] = HCT_GATE_SOFTPLUS},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = hct_rule_params_none,
    .state_len = hct_matrix_state_len,
    .state_init = hct_matrix_state_init,
    .scratch_len = hct_matrix_scratch_len,
    .extra_len = hct_matrix_extra_len,
    .token = delta_token,
    .read = hct_matrix_read,
    .work_len = delta_work_len,
    .token_backward = delta_token_backward,
    .read_backward = hct_matrix_read_backward,
};

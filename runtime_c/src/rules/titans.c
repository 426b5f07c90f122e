/* rules/titans.c — Titans' long-term memory (MATH §3.3): gradient descent with
 * momentum on ||k M - v||^2 / 2.  Z <- eta Z - theta k^T (k M - v),
 * M <- (1-alpha) M + Z, read y = q M after the write; exact BPTT.
 * State: M then Z, each (d, d) row-major, initial 0; momentum persists across
 * calls.  Gates: alpha (sigmoid), theta (softplus), eta (sigmoid).  Under CMS
 * (MATH §6.1) the error k M - v takes M of the block-start state. */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, G_ETA = 2, N_GATES = 3 };

static uint64_t titans_state_len(const hct_config *cfg) { return 2 * (uint64_t)cfg->d * cfg->d; }

static void titans_state_init(real *state, const hct_config *cfg) { hct_zero(state, 2 * (size_t)cfg->d * cfg->d); }

/* per-token backward: u, de (d each) */
static uint64_t titans_work_len(const hct_config *cfg) { return 2 * (uint64_t)cfg->d; }

/* One token from (M, Z) `in` to `out` with e = k M_at - v, rows in order:
 * z_j <- eta z_j - (theta k_j) e ; m_j <- keep m_j + z_j ; y += q_j m_j. */
static void titans_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                         real *e) {
    uint32_t d = io->d;
    size_t dd = (size_t)d * d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d, *q = io->q + (size_t)t * d;
    const real *g = io->gates + (size_t)t * N_GATES;
    const real *M = in, *Z = in + dd;
    real *Mo = out, *Zo = out + dd;
    real keep = (real)1 - g[G_ALPHA], theta = g[G_THETA], eta = g[G_ETA];
    hct_linear(at, k, 1, d, d, e);
    for (uint32_t i = 0; i < d; i++) e[i] -= v[i];
    hct_zero(y, d);
    for (uint32_t j = 0; j < d; j++) {
        const real *m = M + (size_t)j * d, *z = Z + (size_t)j * d;
        real *mo = Mo + (size_t)j * d, *zo = Zo + (size_t)j * d;
        real c = theta * k[j], qj = q[j];
        for (uint32_t i = 0; i < d; i++) {
            zo[i] = eta * z[i] - c * e[i];
            mo[i] = keep * m[i] + zo[i];
            y[i] += qj * mo[i];
        }
    }
    hct_matrix_retain(io, Mo, q, theta, y);
}

/* dM <- keep dM, dM_at += k^T de, dZ <- eta dZ, row by row.  dM_at may be
 * dM (rule.h): that case, every token's at period 1, has its own loop so
 * that it vectorizes (same result, same rounding). */
static void titans_keep(real *dM, real *dZ, real *dMat, real keep, real eta, const real *k, const real *de,
                        uint32_t d) {
    for (uint32_t j = 0; j < d; j++) {
        real *dm = dM + (size_t)j * d, *dz = dZ + (size_t)j * d, *da = dMat + (size_t)j * d, kj = k[j];
        if (da == dm) {
            for (uint32_t i = 0; i < d; i++) {
                dm[i] = keep * dm[i] + kj * de[i];
                dz[i] *= eta;
            }
        } else {
            for (uint32_t i = 0; i < d; i++) {
                dm[i] *= keep;
                da[i] += kj * de[i];
                dz[i] *= eta;
            }
        }
    }
}

/* One token of the reverse pass (MATH §3.3): s->ds holds dM, dZ of (M, Z) after it. */
static void titans_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d;
    size_t dd = (size_t)d * d;
    real *dM = s->ds, *dZ = dM + dd, *u = g->work, *de = u + d, lambda = hct_shrink_lambda(io->cfg);
    const real *M0 = s->in, *Z0 = M0 + dd, *M1 = s->out;
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
    /* dM += q^T dy ; dq = M_{t+1} dy ; (elastic net: through the shrink) ; dZ += dM ;
     * dalpha = -<dM, M_t> ; deta = <dZ, Z_t> */
    real dalpha = 0, deta = 0, dthr = 0;
    for (uint32_t j = 0; j < d; j++) {
        real *dm = dM + (size_t)j * d, *dz = dZ + (size_t)j * d;
        if (s->dy) {
            hct_axpy(dm, x.q[j], s->dy, d);
            x.dq[j] = hct_dot(M1 + (size_t)j * d, s->dy, d);
        }
        if (lambda != 0) dthr += hct_retain_shrink_backward(M1 + (size_t)j * d, NULL, dm, d);
        hct_axpy(dz, 1, dm, d);
        dalpha -= hct_dot(dm, M0 + (size_t)j * d, d);
        deta += hct_dot(dz, Z0 + (size_t)j * d, d);
    }
    if (!s->dy) hct_zero(x.dq, d);
    x.dgates[G_ALPHA] = dalpha;
    x.dgates[G_ETA] = deta;
    /* the error e = k M_at - v: its M is the gradient point's */
    x.dgates[G_THETA] = lambda * dthr +
        hct_matrix_error_step_backward(dZ, s->at, x.k, s->extra, x.gates[G_THETA], d, u, de, x.dk, x.dv);
    titans_keep(dM, dZ, s->dat, (real)1 - x.gates[G_ALPHA], x.gates[G_ETA], x.k, de, d);
}

const hct_rule hct_rule_titans = {
    .id = 1,
    .name = "titans",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID, [G_THETA] = HCT_GATE_SOFTPLUS, [G_ETA] = HCT_GATE_SIGMOID},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = hct_rule_params_none,
    .state_len = titans_state_len,
    .state_init = titans_state_init,
    .scratch_len = hct_matrix_scratch_len,
    .extra_len = hct_matrix_extra_len,
    .token = titans_token,
    .read = hct_matrix_read,
    .work_len = titans_work_len,
    .token_backward = titans_token_backward,
    .read_backward = hct_matrix_read_backward,
};

/* rules/titans.c — Titans' long-term memory (MATH §3.3): gradient descent with
 * momentum on ||k M - v||^2 / 2.  Z <- eta Z - theta k^T (k M - v),
 * M <- (1-alpha) M + Z, read y = q M after the write; exact BPTT.
 * State: M then Z, each (d, d) row-major, initial 0; momentum persists across
 * calls.  Gates: alpha (sigmoid), theta (softplus), eta (sigmoid). */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, G_ETA = 2, N_GATES = 3 };

static uint64_t titans_state_len(const hct_config *cfg) { return 2 * (uint64_t)cfg->d * cfg->d; }

static void titans_state_init(real *state, const hct_config *cfg) { hct_zero(state, 2 * (size_t)cfg->d * cfg->d); }

/* Tape: (M_t, Z_t) for t = 0 .. T, then e_t (matrix.h layout with two matrices). */
static uint64_t titans_tape_len(const hct_config *cfg, uint32_t T) { return hct_matrix_tape_len_n(cfg, T, 2); }

static uint64_t titans_work_len(const hct_config *cfg) { return 2 * (uint64_t)cfg->d * cfg->d + 2 * (uint64_t)cfg->d; }

/* One token from (M, Z) `in` to `out`, rows in order:
 * z_j <- eta z_j - (theta k_j) e ; m_j <- keep m_j + z_j ; y += q_j m_j. */
static void titans_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *e) {
    uint32_t d = io->d;
    size_t dd = (size_t)d * d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d, *q = io->q + (size_t)t * d;
    const real *g = io->gates + (size_t)t * N_GATES;
    const real *M = in, *Z = in + dd;
    real *Mo = out, *Zo = out + dd;
    real keep = (real)1 - g[G_ALPHA], theta = g[G_THETA], eta = g[G_ETA];
    hct_linear(M, k, 1, d, d, e);
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

static void titans_forward(const hct_rule_io *io) { hct_matrix_forward(io, titans_token, 2); }

/* Reverse pass (MATH §3.3): dM and dZ are the gradients of M_{t+1}, Z_{t+1}. */
static void titans_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, T = io->T;
    size_t dd = (size_t)d * d, ss = 2 * dd;
    real *dM = g->work, *dZ = dM + dd, *u = dZ + dd, *de = u + d, lambda = hct_shrink_lambda(io->cfg);
    hct_zero(dM, ss);
    for (uint32_t tt = T; tt-- > 0;) {
        if (io->frozen) {
            hct_matrix_frozen_backward(g, tt, N_GATES);
            continue;
        }
        hct_token_grad x = hct_token_slices(g, tt, N_GATES);
        const real *M0 = hct_matrix_tape_state(io, tt, 2), *Z0 = M0 + dd, *M1 = M0 + ss;
        const real *e = hct_matrix_tape_e(io, tt, 2);
        /* dM += q^T dy ; dq = M_{t+1} dy ; (elastic net: through the shrink) ; dZ += dM ;
         * dalpha = -<dM, M_t> ; deta = <dZ, Z_t> */
        real dalpha = 0, deta = 0, dthr = 0;
        for (uint32_t j = 0; j < d; j++) {
            real *dm = dM + (size_t)j * d, *dz = dZ + (size_t)j * d;
            hct_axpy(dm, x.q[j], x.dy, d);
            x.dq[j] = hct_dot(M1 + (size_t)j * d, x.dy, d);
            if (lambda != 0) dthr += hct_retain_shrink_backward(M1 + (size_t)j * d, NULL, dm, d);
            hct_axpy(dz, 1, dm, d);
            dalpha -= hct_dot(dm, M0 + (size_t)j * d, d);
            deta += hct_dot(dz, Z0 + (size_t)j * d, d);
        }
        x.dgates[G_ALPHA] = dalpha;
        x.dgates[G_ETA] = deta;
        x.dgates[G_THETA] = lambda * dthr +
            hct_matrix_error_step_backward(dZ, M0, x.k, e, x.gates[G_THETA], d, u, de, x.dk, x.dv);
        /* dM <- keep dM + k^T de ; dZ <- eta dZ */
        real keep = (real)1 - x.gates[G_ALPHA], eta = x.gates[G_ETA];
        for (uint32_t j = 0; j < d; j++) {
            real *dm = dM + (size_t)j * d, *dz = dZ + (size_t)j * d;
            for (uint32_t i = 0; i < d; i++) {
                dm[i] = keep * dm[i] + x.k[j] * de[i];
                dz[i] *= eta;
            }
        }
    }
}

const hct_rule hct_rule_titans = {
    1, "titans", N_GATES, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, HCT_GATE_SIGMOID, 0}, HCT_RET_L2,
    HCT_MATRIX_RETENTIONS,
    hct_rule_params_none, titans_state_len, titans_state_init, hct_matrix_scratch_len,
    titans_forward, titans_tape_len, titans_work_len, titans_backward, NULL,
    0, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL,
};

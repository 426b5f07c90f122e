/* rules/delta.c — the delta rule (MATH §3.2): M <- (1-alpha) M - theta (M k - v) k^T,
 * read y = M q after the write; exact BPTT through the recurrence (MATH §7).
 * State: M (d, d) row-major, initial 0.  Gates: alpha (sigmoid), theta (softplus). */
#include "rule.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2 };

static size_t delta_state_len(uint32_t d) { return (size_t)d * d; }

static void delta_state_init(real *state, uint32_t d) { hct_zero(state, (size_t)d * d); }

static hecate_status delta_check_params(const hct_config *cfg) {
    for (int i = 0; i < 8; i++)
        if (cfg->rule_params[i] != 0.0f) return HECATE_E_FILE_CONFIG;
    return HECATE_OK;
}

/* Tape: M_0 .. M_T ((T+1) d^2), then e_t (T d). */
static size_t delta_tape_len(uint32_t d, uint32_t T) {
    return (size_t)(T + 1) * d * d + (size_t)T * d;
}

static size_t delta_work_len(uint32_t d) { return (size_t)d * d + 2 * (size_t)d; }

/* One token, one pass over the rows of M: e_i = M_i.k - v_i, then the row
 * update M_i <- (1-alpha) M_i - (theta e_i) k, then y_i = M_i.q. */
static void delta_token(real *M, uint32_t d, const real *k, const real *v, const real *q,
                        real alpha, real theta, real *y, real *e_out) {
    real keep = (real)1 - alpha;
    for (uint32_t i = 0; i < d; i++) {
        real *m = M + (size_t)i * d;
        real e = hct_dot(m, k, d) - v[i];
        real c = theta * e;
        for (uint32_t j = 0; j < d; j++) m[j] = keep * m[j] - c * k[j];
        y[i] = hct_dot(m, q, d);
        if (e_out) e_out[i] = e;
    }
}

static void delta_forward(const hct_rule_io *io) {
    uint32_t d = io->d;
    size_t dd = (size_t)d * d;
    for (uint32_t t = 0; t < io->T; t++) {
        const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d;
        const real *q = io->q + (size_t)t * d;
        real *y = io->y + (size_t)t * d;
        if (io->frozen) {
            for (uint32_t i = 0; i < d; i++) y[i] = hct_dot(io->state + (size_t)i * d, q, d);
            continue;
        }
        real *e_out = NULL;
        if (io->tape) {
            hct_copy(io->tape + (size_t)t * dd, io->state, dd);
            e_out = io->tape + (size_t)(io->T + 1) * dd + (size_t)t * d;
        }
        const real *g = io->gates + (size_t)t * N_GATES;
        delta_token(io->state, d, k, v, q, g[G_ALPHA], g[G_THETA], y, e_out);
    }
    if (io->tape && !io->frozen) hct_copy(io->tape + (size_t)io->T * dd, io->state, dd);
}

/* Reverse pass of MATH §7 (delta rule BPTT). */
static void delta_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, T = io->T;
    size_t dd = (size_t)d * d;
    real *dM = g->work, *u = g->work + dd, *de = u + d;
    hct_zero(dM, dd);
    for (uint32_t tt = T; tt-- > 0;) {
        const real *k = io->k + (size_t)tt * d, *q = io->q + (size_t)tt * d;
        const real *dy = g->dy + (size_t)tt * d;
        const real *gt = io->gates + (size_t)tt * N_GATES;
        real *dk = g->dk + (size_t)tt * d, *dv = g->dv + (size_t)tt * d, *dq = g->dq + (size_t)tt * d;
        real *dgt = g->dgates + (size_t)tt * N_GATES;
        if (io->frozen) { /* y = M q with the constant incoming M */
            hct_zero(dq, d);
            for (uint32_t i = 0; i < d; i++) hct_axpy(dq, dy[i], io->state + (size_t)i * d, d);
            hct_zero(dk, d);
            hct_zero(dv, d);
            dgt[G_ALPHA] = dgt[G_THETA] = 0;
            continue;
        }
        const real *M0 = io->tape + (size_t)tt * dd, *M1 = M0 + dd;
        const real *e = io->tape + (size_t)(T + 1) * dd + (size_t)tt * d;
        real alpha = gt[G_ALPHA], theta = gt[G_THETA];
        /* dM += dy q^T ; dq = M_{t+1}^T dy */
        hct_zero(dq, d);
        for (uint32_t i = 0; i < d; i++) {
            hct_axpy(dM + (size_t)i * d, dy[i], q, d);
            hct_axpy(dq, dy[i], M1 + (size_t)i * d, d);
        }
        /* dalpha = -<dM, M_t> ; u = dM k ; dtheta = -<u, e> ; de = -theta u */
        real dalpha = 0, dtheta = 0;
        for (uint32_t i = 0; i < d; i++) {
            const real *dm = dM + (size_t)i * d;
            dalpha -= hct_dot(dm, M0 + (size_t)i * d, d);
            u[i] = hct_dot(dm, k, d);
            dtheta -= u[i] * e[i];
            de[i] = -theta * u[i];
        }
        dgt[G_ALPHA] = dalpha;
        dgt[G_THETA] = dtheta;
        /* dk = -theta dM^T e + M_t^T de ; dv = -de */
        hct_zero(dk, d);
        for (uint32_t i = 0; i < d; i++) {
            hct_axpy(dk, -theta * e[i], dM + (size_t)i * d, d);
            hct_axpy(dk, de[i], M0 + (size_t)i * d, d);
            dv[i] = -de[i];
        }
        /* dM <- (1 - alpha) dM + de k^T */
        real keep = (real)1 - alpha;
        for (uint32_t i = 0; i < d; i++) {
            real *dm = dM + (size_t)i * d;
            for (uint32_t j = 0; j < d; j++) dm[j] = keep * dm[j] + de[i] * k[j];
        }
    }
}

const hct_rule hct_rule_delta = {
    0, "delta", N_GATES, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, 0, 0},
    delta_state_len, delta_state_init, delta_check_params,
    delta_forward, delta_tape_len, delta_work_len, delta_backward,
};

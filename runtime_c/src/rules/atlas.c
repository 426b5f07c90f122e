/* rules/atlas.c — Atlas' Omega rule (MATH §3.6): Titans' momentum on the inner
 * loss over a sliding window of the last c tokens,
 * sum_{i in window} ||k_i M - v_i||^2 / 2, so Z <- eta Z - theta K^T (K M - V),
 * M <- (1-alpha) M + Z, read y = q M after the write; exact BPTT (gradients
 * flow through the window into earlier tokens' k, v).  State: M, Z (d x d),
 * then the window K, V (c x d each, oldest row first, zero rows until filled).
 * Gates: alpha, theta, eta.  Params: c (window) in 1..64; ns_steps in 0..10:
 * with k > 0 Newton-Schulz steps the momentum is orthogonalized (Muon form):
 * Z <- eta Z + K^T (K M - V), M <- (1-alpha) M - theta NS_k(Z).  Under CMS
 * (MATH §6.1) the window errors K M - V take M of the block-start state. */
#include "matrix.h"
#include "newton_schulz.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, G_ETA = 2, N_GATES = 3, P_WINDOW = 0, P_NS = 1, MAX_WINDOW = 64, MAX_NS = 10 };

static uint32_t window(const hct_config *cfg) { return (uint32_t)cfg->rule_params[P_WINDOW]; }

static uint32_t ns_steps(const hct_config *cfg) { return (uint32_t)cfg->rule_params[P_NS]; }

static bool integer_in(float v, float lo, float hi) { return v >= lo && v <= hi && v == (float)(uint32_t)v; }

static hecate_status atlas_check(const hct_config *cfg) {
    if (!integer_in(cfg->rule_params[P_WINDOW], 1.0f, (float)MAX_WINDOW)) return HECATE_E_FILE_CONFIG;
    if (!integer_in(cfg->rule_params[P_NS], 0.0f, (float)MAX_NS)) return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 2);
}

static uint64_t atlas_state_len(const hct_config *cfg) {
    return 2 * (uint64_t)cfg->d * cfg->d + 2 * (uint64_t)window(cfg) * cfg->d;
}

static void atlas_state_init(real *state, const hct_config *cfg) { hct_zero(state, (size_t)atlas_state_len(cfg)); }

/* d^2 scalars per Newton-Schulz iterate X_0 .. X_k, plus ||Z'|| (none when k = 0) */
static uint64_t ns_len(const hct_config *cfg) {
    return ns_steps(cfg) ? ((uint64_t)ns_steps(cfg) + 1) * cfg->d * cfg->d + 1 : 0;
}

/* per token: the window errors E = K M_at - V (c x d), then the NS iterates and norm */
static uint64_t extra_len(const hct_config *cfg) { return (uint64_t)window(cfg) * cfg->d + ns_len(cfg); }

/* the extra, a row of K^T E (d), then the Newton-Schulz iteration's work (2 d^2, when on) */
static uint64_t atlas_scratch_len(const hct_config *cfg) {
    return extra_len(cfg) + cfg->d + (ns_steps(cfg) ? 2 * (uint64_t)cfg->d * cfg->d : 0);
}

/* per-token backward: de (c x d), a row of K^T de (d), then for NS: G (d x d) and its work (4 d^2) */
static uint64_t atlas_work_len(const hct_config *cfg) {
    return ((uint64_t)window(cfg) + 1) * cfg->d + (ns_steps(cfg) ? 5 * (uint64_t)cfg->d * cfg->d : 0);
}

/* Shift the window by one row and append (k, v); in and out may alias. */
static void push_window(const real *in, real *out, uint32_t c, uint32_t d, const real *k, const real *v) {
    size_t cd = (size_t)c * d;
    for (uint32_t w = 0; w < 2; w++) {
        const real *src = in + w * cd;
        real *dst = out + w * cd;
        for (size_t i = 0; i + d < cd; i++) dst[i] = src[i + d];
        hct_copy(dst + cd - d, w == 0 ? k : v, d);
    }
}

/* One token (MATH §3.6): the window takes (k, v), E = K M_at - V with M of
 * the gradient point (the state before the token, or the CMS block-start
 * state, MATH §6.1), then the momentum and M from `in`, and the read. */
static void atlas_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                        real *E) {
    uint32_t d = io->d, c = window(io->cfg);
    size_t dd = (size_t)d * d;
    const real *g = io->gates + (size_t)t * N_GATES, *q = io->q + (size_t)t * d;
    real keep = (real)1 - g[G_ALPHA], theta = g[G_THETA], eta = g[G_ETA];
    push_window(in + 2 * dd, out + 2 * dd, c, d, io->k + (size_t)t * d, io->v + (size_t)t * d);
    const real *K = out + 2 * dd, *V = K + (size_t)c * d;
    hct_linear(at, K, c, d, d, E); /* before out's M is written: `at` may alias it */
    for (size_t i = 0; i < (size_t)c * d; i++) E[i] -= V[i];
    uint32_t ns = ns_steps(io->cfg);
    /* plain: Z' = eta Z - theta G ; Muon form (ns > 0): Z' = eta Z + G, G = K^T E */
    real gscale = ns ? (real)1 : -theta, *grad = io->scratch + extra_len(io->cfg);
    hct_zero(y, d);
    for (uint32_t j = 0; j < d; j++) {
        const real *m = in + (size_t)j * d, *z = in + dd + (size_t)j * d;
        real *mo = out + (size_t)j * d, *zo = out + dd + (size_t)j * d;
        hct_zero(grad, d); /* (K^T E)[j], summed over the window in row order */
        for (uint32_t i = 0; i < c; i++) hct_axpy(grad, K[(size_t)i * d + j], E + (size_t)i * d, d);
        for (uint32_t o = 0; o < d; o++) {
            zo[o] = eta * z[o] + gscale * grad[o];
            if (!ns) mo[o] = keep * m[o] + zo[o];
        }
        if (!ns) hct_axpy(y, q[j], mo, d);
    }
    if (ns) { /* M' = keep M - theta NS(Z') */
        real *iter = E + (size_t)c * d, *O = iter + (size_t)ns * dd;
        iter[(size_t)(ns + 1) * dd] = hct_newton_schulz(out + dd, d, ns, iter, grad + d);
        for (size_t i = 0; i < dd; i++) out[i] = keep * in[i] - theta * O[i];
        hct_linear(out, q, 1, d, d, y);
    }
    hct_matrix_retain(io, out, q, theta, y);
}

/* The read and the shrink, then M' = keep M + (Z' | -theta NS(Z')): dM gets
 * q^T dy and the shrink's mask, dq = M' dy, dZ += the gradient through Z';
 * returns dalpha and adds the shrink's and NS's dtheta terms. */
static real write_backward(const hct_rule_grad *g, const hct_token_step *s, hct_token_grad *x, real *dtheta) {
    const hct_config *cfg = g->fwd->cfg;
    uint32_t d = g->fwd->d, c = window(cfg), ns = ns_steps(cfg);
    size_t dd = (size_t)d * d;
    real *dM = s->ds, *dZ = dM + dd, lambda = hct_shrink_lambda(cfg), dalpha = 0;
    for (uint32_t j = 0; j < d; j++) {
        real *dm = dM + (size_t)j * d;
        if (s->dy) {
            hct_axpy(dm, x->q[j], s->dy, d);
            x->dq[j] = hct_dot(s->out + (size_t)j * d, s->dy, d);
        }
        if (lambda != 0) *dtheta += lambda * hct_retain_shrink_backward(s->out + (size_t)j * d, NULL, dm, d);
        dalpha -= hct_dot(dm, s->in + (size_t)j * d, d);
    }
    if (!s->dy) hct_zero(x->dq, d);
    if (ns) {
        const real *iter = s->extra + (size_t)c * d, *O = iter + (size_t)ns * dd;
        real theta = x->gates[G_THETA], *G = g->work + (size_t)(c + 1) * d;
        *dtheta -= hct_dot(dM, O, (uint32_t)dd);
        for (size_t i = 0; i < dd; i++) G[i] = -theta * dM[i];
        hct_newton_schulz_backward(s->out + dd, iter[(size_t)(ns + 1) * dd], iter, d, ns, G, dZ, G + dd);
    } else {
        hct_axpy(dZ, 1, dM, (uint32_t)dd);
    }
    return dalpha;
}

/* Z' = eta Z + gscale K^T E: dE_i = gscale K_i[j] dZ[j] (into de), dK_i[j] +=
 * gscale <dZ[j], E_i>; returns deta and adds the plain form's dtheta. */
static real momentum_backward(const hct_rule_grad *g, const hct_token_step *s, real gscale, real *dtheta) {
    uint32_t d = g->fwd->d, c = window(g->fwd->cfg);
    size_t dd = (size_t)d * d, cd = (size_t)c * d;
    const real *K = s->out + 2 * dd, *E = s->extra, *Z0 = s->in + dd;
    real *dZ = s->ds + dd, *dK = dZ + dd, *de = g->work, deta = 0;
    bool plain = ns_steps(g->fwd->cfg) == 0;
    hct_zero(de, cd);
    for (uint32_t j = 0; j < d; j++) {
        real *dz = dZ + (size_t)j * d;
        deta += hct_dot(dz, Z0 + (size_t)j * d, d);
        for (uint32_t i = 0; i < c; i++) {
            real kij = K[(size_t)i * d + j], ez = hct_dot(dz, E + (size_t)i * d, d);
            if (plain) *dtheta -= kij * ez;
            dK[(size_t)i * d + j] += gscale * ez;
            hct_axpy(de + (size_t)i * d, gscale * kij, dz, d);
        }
    }
    return deta;
}

/* dm <- keep dm, da += row, dz <- eta dz over one row of d; da may be dm
 * (rule.h), every token's case at period 1, with its own loop so that it
 * vectorizes (same result, same rounding). */
static void keep_row(real *dm, real *da, real *dz, const real *row, real keep, real eta, uint32_t d) {
    if (da == dm) {
        for (uint32_t o = 0; o < d; o++) {
            dm[o] = keep * dm[o] + row[o];
            dz[o] *= eta;
        }
        return;
    }
    for (uint32_t o = 0; o < d; o++) {
        dm[o] *= keep;
        da[o] += row[o];
        dz[o] *= eta;
    }
}

/* E = K M_at - V: dV -= dE, dK += dE M_at^T, dM_at += K^T dE; with them
 * dM <- keep dM and dZ <- eta dZ. */
static void error_backward(const hct_rule_grad *g, const hct_token_step *s, real keep, real eta) {
    uint32_t d = g->fwd->d, c = window(g->fwd->cfg);
    size_t dd = (size_t)d * d, cd = (size_t)c * d;
    const real *K = s->out + 2 * dd, *de = g->work;
    real *dM = s->ds, *dZ = dM + dd, *dK = dZ + dd, *dV = dK + cd, *row = g->work + cd;
    for (uint32_t i = 0; i < c; i++) {
        const real *dei = de + (size_t)i * d;
        hct_axpy(dV + (size_t)i * d, -1, dei, d);
        for (uint32_t j = 0; j < d; j++) dK[(size_t)i * d + j] += hct_dot(s->at + (size_t)j * d, dei, d);
    }
    for (uint32_t j = 0; j < d; j++) {
        hct_zero(row, d); /* (K^T dE)[j], summed over the window in row order */
        for (uint32_t i = 0; i < c; i++) hct_axpy(row, K[(size_t)i * d + j], de + (size_t)i * d, d);
        keep_row(dM + (size_t)j * d, s->dat + (size_t)j * d, dZ + (size_t)j * d, row, keep, eta, d);
    }
}

/* The window push: the newest row is this token's k, v; the others move one row older. */
static void window_backward(real *dK, real *dV, uint32_t c, uint32_t d, real *dk, real *dv) {
    size_t cd = (size_t)c * d;
    hct_copy(dk, dK + cd - d, d);
    hct_copy(dv, dV + cd - d, d);
    for (uint32_t w = 0; w < 2; w++) {
        real *dW = w == 0 ? dK : dV;
        for (size_t i = cd; i-- > d;) dW[i] = dW[i - d];
        hct_zero(dW, d);
    }
}

/* One token of the reverse pass (MATH §3.6): s->ds holds dM, dZ, dK, dV of the state after it. */
static void atlas_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    uint32_t d = g->fwd->d, c = window(g->fwd->cfg);
    size_t dd = (size_t)d * d;
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
    real theta = x.gates[G_THETA], dtheta = 0, gscale = ns_steps(g->fwd->cfg) ? (real)1 : -theta;
    x.dgates[G_ALPHA] = write_backward(g, s, &x, &dtheta);
    x.dgates[G_ETA] = momentum_backward(g, s, gscale, &dtheta);
    x.dgates[G_THETA] = dtheta;
    error_backward(g, s, (real)1 - x.gates[G_ALPHA], x.gates[G_ETA]);
    window_backward(s->ds + 2 * dd, s->ds + 2 * dd + (size_t)c * d, c, d, x.dk, x.dv);
}

const hct_rule hct_rule_atlas = {
    .id = 8,
    .name = "atlas",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID, [G_THETA] = HCT_GATE_SOFTPLUS, [G_ETA] = HCT_GATE_SIGMOID},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = atlas_check,
    .state_len = atlas_state_len,
    .state_init = atlas_state_init,
    .scratch_len = atlas_scratch_len,
    .extra_len = extra_len,
    .token = atlas_token,
    .read = hct_matrix_read,
    .work_len = atlas_work_len,
    .token_backward = atlas_token_backward,
    .read_backward = hct_matrix_read_backward,
};

/* rules/atlas.c — Atlas' Omega rule (MATH §3.6): Titans' momentum on the inner
 * loss over a sliding window of the last c tokens,
 * sum_{i in window} ||k_i M - v_i||^2 / 2, so Z <- eta Z - theta K^T (K M - V),
 * M <- (1-alpha) M + Z, read y = q M after the write; exact BPTT (gradients
 * flow through the window into earlier tokens' k, v).  State: M, Z (d x d),
 * then the window K, V (c x d each, oldest row first, zero rows until filled).
 * Gates: alpha, theta, eta.  Params: c (window) in 1..64; ns_steps in 0..10:
 * with k > 0 Newton-Schulz steps the momentum is orthogonalized (Muon form):
 * Z <- eta Z + K^T (K M - V), M <- (1-alpha) M - theta NS_k(Z). */
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

/* per token: the window errors E = K M - V (c x d), then the NS iterates and norm */
static uint64_t extra_len(const hct_config *cfg) { return (uint64_t)window(cfg) * cfg->d + ns_len(cfg); }

/* the extra, then the Newton-Schulz iteration's work (2 d^2, when on) */
static uint64_t atlas_scratch_len(const hct_config *cfg) {
    return extra_len(cfg) + (ns_steps(cfg) ? 2 * (uint64_t)cfg->d * cfg->d : 0);
}

static uint64_t atlas_tape_len(const hct_config *cfg, uint32_t T) {
    return hct_tape_len(atlas_state_len(cfg), extra_len(cfg), T);
}

/* dM, dZ (d x d), dK, dV, de (c x d each), then for NS: G (d x d) and its work (4 d^2) */
static uint64_t atlas_work_len(const hct_config *cfg) {
    uint64_t dd = (uint64_t)cfg->d * cfg->d;
    return 2 * dd + 3 * (uint64_t)window(cfg) * cfg->d + (ns_steps(cfg) ? 5 * dd : 0);
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

static void atlas_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *E) {
    uint32_t d = io->d, c = window(io->cfg);
    size_t dd = (size_t)d * d;
    const real *g = io->gates + (size_t)t * N_GATES, *q = io->q + (size_t)t * d;
    real keep = (real)1 - g[G_ALPHA], theta = g[G_THETA], eta = g[G_ETA];
    push_window(in + 2 * dd, out + 2 * dd, c, d, io->k + (size_t)t * d, io->v + (size_t)t * d);
    const real *K = out + 2 * dd, *V = K + (size_t)c * d;
    hct_linear(in, K, c, d, d, E); /* E = K M - V, against the state before the token */
    for (size_t i = 0; i < (size_t)c * d; i++) E[i] -= V[i];
    uint32_t ns = ns_steps(io->cfg);
    /* plain: Z' = eta Z - theta G ; Muon form (ns > 0): Z' = eta Z + G, G = K^T E */
    real gscale = ns ? (real)1 : -theta;
    hct_zero(y, d);
    for (uint32_t j = 0; j < d; j++) {
        const real *m = in + (size_t)j * d, *z = in + dd + (size_t)j * d;
        real *mo = out + (size_t)j * d, *zo = out + dd + (size_t)j * d;
        for (uint32_t o = 0; o < d; o++) {
            real grad = 0; /* (K^T E)[j][o] */
            for (uint32_t i = 0; i < c; i++) grad += K[(size_t)i * d + j] * E[(size_t)i * d + o];
            zo[o] = eta * z[o] + gscale * grad;
            if (!ns) mo[o] = keep * m[o] + zo[o];
        }
        if (!ns) hct_axpy(y, q[j], mo, d);
    }
    if (ns) { /* M' = keep M - theta NS(Z') */
        real *iter = E + (size_t)c * d, *O = iter + (size_t)ns * dd;
        iter[(size_t)(ns + 1) * dd] = hct_newton_schulz(out + dd, d, ns, iter, io->scratch + extra_len(io->cfg));
        for (size_t i = 0; i < dd; i++) out[i] = keep * in[i] - theta * O[i];
        hct_linear(out, q, 1, d, d, y);
    }
    hct_matrix_retain(io, out, q, theta, y);
}

static void atlas_forward(const hct_rule_io *io) {
    if (io->frozen) {
        hct_linear(io->state_in, io->q, io->T, io->d, io->d, io->y);
        return;
    }
    hct_rule_loop(io, atlas_token, atlas_state_len(io->cfg), extra_len(io->cfg));
}

/* Reverse pass (MATH §3.6); dM, dZ, dK, dV are the gradients of the state after the token. */
static void atlas_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, T = io->T, c = window(cfg);
    size_t dd = (size_t)d * d, cd = (size_t)c * d;
    uint64_t slen = atlas_state_len(cfg), elen = extra_len(cfg);
    real *dM = g->work, *dZ = dM + dd, *dK = dZ + dd, *dV = dK + cd, *de = dV + cd;
    real lambda = hct_shrink_lambda(cfg), *G = de + cd, *ns_work = G + dd;
    uint32_t ns = ns_steps(cfg);
    hct_zero(dM, 2 * dd + 2 * cd);
    for (uint32_t tt = T; tt-- > 0;) {
        if (io->frozen) {
            hct_matrix_frozen_backward(g, tt, N_GATES);
            continue;
        }
        hct_token_grad x = hct_token_slices(g, tt, N_GATES);
        const real *M0 = hct_tape_state(io, tt, slen), *Z0 = M0 + dd, *M1 = hct_tape_state(io, tt + 1, slen);
        const real *K = M1 + 2 * dd, *E = hct_tape_extra(io, tt, slen, elen);
        real keep = (real)1 - x.gates[G_ALPHA], theta = x.gates[G_THETA], eta = x.gates[G_ETA];
        real dalpha = 0, deta = 0, dtheta = 0, gscale = ns ? (real)1 : -theta;
        hct_zero(de, cd);
        /* the read and the shrink, then M' = keep M + (Z' | -theta NS(Z')) */
        for (uint32_t j = 0; j < d; j++) {
            real *dm = dM + (size_t)j * d;
            hct_axpy(dm, x.q[j], x.dy, d);
            x.dq[j] = hct_dot(M1 + (size_t)j * d, x.dy, d);
            if (lambda != 0) dtheta += lambda * hct_retain_shrink_backward(M1 + (size_t)j * d, NULL, dm, d);
            dalpha -= hct_dot(dm, M0 + (size_t)j * d, d);
        }
        if (ns) {
            const real *iter = E + cd, *O = iter + (size_t)ns * dd;
            dtheta -= hct_dot(dM, O, (uint32_t)dd);
            for (size_t i = 0; i < dd; i++) G[i] = -theta * dM[i];
            hct_newton_schulz_backward(M1 + dd, iter[(size_t)(ns + 1) * dd], iter, d, ns, G, dZ, ns_work);
        } else {
            hct_axpy(dZ, 1, dM, (uint32_t)dd);
        }
        /* Z' = eta Z + gscale K^T E: dE_i += gscale K_i[j] dZ[j], dK_i[j] += gscale <dZ[j], E_i> */
        for (uint32_t j = 0; j < d; j++) {
            real *dz = dZ + (size_t)j * d;
            deta += hct_dot(dz, Z0 + (size_t)j * d, d);
            for (uint32_t i = 0; i < c; i++) {
                real kij = K[(size_t)i * d + j], ez = hct_dot(dz, E + (size_t)i * d, d);
                if (!ns) dtheta -= kij * ez;
                dK[(size_t)i * d + j] += gscale * ez;
                hct_axpy(de + (size_t)i * d, gscale * kij, dz, d);
            }
        }
        x.dgates[G_ALPHA] = dalpha;
        x.dgates[G_ETA] = deta;
        x.dgates[G_THETA] = dtheta;
        /* E = K M_t - V: dV -= dE, dK += dE M_t^T, dM_t += K^T dE */
        for (uint32_t i = 0; i < c; i++) {
            const real *dei = de + (size_t)i * d;
            hct_axpy(dV + (size_t)i * d, -1, dei, d);
            for (uint32_t j = 0; j < d; j++) dK[(size_t)i * d + j] += hct_dot(M0 + (size_t)j * d, dei, d);
        }
        for (uint32_t j = 0; j < d; j++) {
            real *dm = dM + (size_t)j * d, *dz = dZ + (size_t)j * d;
            for (uint32_t o = 0; o < d; o++) {
                real acc = 0;
                for (uint32_t i = 0; i < c; i++) acc += K[(size_t)i * d + j] * de[(size_t)i * d + o];
                dm[o] = keep * dm[o] + acc;
                dz[o] *= eta;
            }
        }
        /* the window push: the newest row is this token's k, v; the others move one row older */
        hct_copy(x.dk, dK + cd - d, d);
        hct_copy(x.dv, dV + cd - d, d);
        for (uint32_t w = 0; w < 2; w++) {
            real *dW = w == 0 ? dK : dV;
            for (size_t i = cd; i-- > d;) dW[i] = dW[i - d];
            hct_zero(dW, d);
        }
    }
}

const hct_rule hct_rule_atlas = {
    8, "atlas", N_GATES, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, HCT_GATE_SIGMOID, 0}, HCT_RET_L2,
    HCT_MATRIX_RETENTIONS,
    atlas_check, atlas_state_len, atlas_state_init, atlas_scratch_len,
    atlas_forward, atlas_tape_len, atlas_work_len, atlas_backward, NULL,
    0, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL,
};

/* rules/mlp.c — shared machinery of the MLP-memory rules (see mlp.h). */
#include "mlp.h"
#include "retention.h"
#include "../mathfn.h"

static real silu_grad2(real z) { /* silu''(z) = s (1 - s) (2 + z (1 - 2 s)) */
    real s = hct_sigmoid(z);
    return s * ((real)1 - s) * ((real)2 + z * ((real)1 - (real)2 * s));
}

uint32_t hct_mlp_hidden(const hct_config *cfg) { return (uint32_t)cfg->rule_params[0]; }

hecate_status hct_mlp_check_hidden(const hct_config *cfg) {
    float h = cfg->rule_params[0];
    return (h >= 1.0f && h <= 4096.0f && h == (float)(uint32_t)h) ? HECATE_OK : HECATE_E_FILE_CONFIG;
}

/* n = h d scalars per matrix */
static uint64_t mat_len(const hct_config *cfg) { return (uint64_t)hct_mlp_hidden(cfg) * cfg->d; }

/* per token kept: z (h), zq (h), e (d), g (d) */
static uint64_t extra_len(const hct_config *cfg) { return 2 * (uint64_t)hct_mlp_hidden(cfg) + 2 * (uint64_t)cfg->d; }

uint64_t hct_mlp_state_len(const hct_config *cfg) { return 2 * mat_len(cfg); }

/* extras, then G (2n), the prior (2n), hidden h, r, hq (h each) */
uint64_t hct_mlp_scratch_len(const hct_config *cfg) {
    return extra_len(cfg) + 4 * mat_len(cfg) + 3 * (uint64_t)hct_mlp_hidden(cfg);
}

uint64_t hct_mlp_tape_len(const hct_config *cfg, uint32_t T) {
    return hct_tape_len(hct_mlp_state_len(cfg), extra_len(cfg), T);
}

/* D, P, G, the prior (2n each), then h-vectors hv, sp, u, dr, dz, dh (h each), dg, de (d each) */
uint64_t hct_mlp_work_len(const hct_config *cfg) {
    return 8 * mat_len(cfg) + 6 * (uint64_t)hct_mlp_hidden(cfg) + 2 * (uint64_t)cfg->d;
}

/* The prior the retention pulls toward: W0 (L2) or log max(W0, 1e-8) (KL), 2n scalars. */
static void make_prior(const hct_mlp_kind *kind, const hct_config *cfg, real *prior) {
    kind->init(prior, cfg);
    if (cfg->retention == HCT_RET_KL) hct_log_floor(prior, prior, (size_t)hct_mlp_state_len(cfg));
}

void hct_mlp_hash_init(real *state, const hct_config *cfg) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    real scale = (real)0.1 * hct_sqrt((real)2 / (real)(d + h));
    for (size_t i = 0; i < n; i++) state[i] = scale * (hct_unit_hash(i) - (real)0.5);
    hct_zero(state + n, n);
}

/* y = M(x) = sum_i hct_silu(W1[i] . x) W2^T[i]; z (h) receives W1 x, hv (h) hct_silu(z). */
static void mlp_apply(const real *w1, const real *w2t, uint32_t d, uint32_t h, const real *x, real *z, real *hv,
                      real *y) {
    hct_zero(y, d);
    for (uint32_t i = 0; i < h; i++) {
        z[i] = hct_dot(w1 + (size_t)i * d, x, d);
        hv[i] = hct_silu(z[i]);
        hct_axpy(y, hv[i], w2t + (size_t)i * d, d);
    }
}

static real lambda_2(const hct_mlp_kind *kind, const hct_config *cfg) {
    return kind->lambda_2_param < 0 ? 0 : (real)cfg->rule_params[kind->lambda_2_param];
}

/* MATH §3.5/§3.7 retention toward the prior: L2 W' = (1-alpha-2 theta lambda_2) W
 * + alpha W0 - theta G (elastic net: then W' = W0 + shrink(W' - W0, lambda_1
 * theta)); KL per simplex vector softmax((1-alpha) log w + alpha log w0 - theta g). */
static void retain(const hct_mlp_kind *kind, const hct_config *cfg, const real *in, const real *prior,
                   const real *G, real *out, const real *gates) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    real alpha = gates[0], theta = gates[1];
    if (cfg->retention == HCT_RET_KL) {
        hct_groups rows = {h, d, d, 1}, cols = {d, h, 1, d};
        hct_retain_kl(&rows, in, prior, G, out, (real)1 - alpha, alpha, theta);
        hct_retain_kl(&cols, in + n, prior + n, G + n, out + n, (real)1 - alpha, alpha, theta);
    } else {
        real keep = (real)1 - alpha - (real)2 * theta * lambda_2(kind, cfg);
        hct_retain_l2(in, prior, G, out, 2 * n, keep, alpha, theta);
        real lambda = hct_shrink_lambda(cfg);
        if (lambda != 0) hct_retain_shrink(out, prior, 2 * n, lambda * theta);
    }
}

static const hct_mlp_kind *kind_of(const hct_rule_io *io) { return (const hct_mlp_kind *)io->rule->impl; }

static void mlp_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *extra) {
    const hct_mlp_kind *kind = kind_of(io);
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d, *q = io->q + (size_t)t * d;
    const real *gates = io->gates + (size_t)t * 2;
    real *z = extra, *zq = z + h, *e = zq + h, *g = e + d;
    real *G = io->scratch + extra_len(cfg), *prior = G + 2 * n, *hv = prior + 2 * n, *r = hv + h, *hq = r + h;
    const real *w1 = in, *w2t = in + n;
    mlp_apply(w1, w2t, d, h, k, z, hv, e);
    for (uint32_t j = 0; j < d; j++) e[j] -= v[j];
    kind->bias(cfg, e, g, d);
    /* inner gradient (MATH §3.5): G1[i] = (W2^T[i] . g) silu'(z_i) k, G2^T[i] = h_i g */
    for (uint32_t i = 0; i < h; i++) {
        r[i] = hct_dot(w2t + (size_t)i * d, g, d) * hct_silu_grad(z[i]);
        for (uint32_t j = 0; j < d; j++) {
            G[(size_t)i * d + j] = r[i] * k[j];
            G[n + (size_t)i * d + j] = hv[i] * g[j];
        }
    }
    retain(kind, cfg, in, prior, G, out, gates);
    mlp_apply(out, out + n, d, h, q, zq, hq, y);
}

void hct_mlp_forward(const hct_rule_io *io) {
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, h = hct_mlp_hidden(cfg);
    if (io->frozen) {
        real *z = io->scratch, *hv = z + h;
        for (uint32_t t = 0; t < io->T; t++)
            mlp_apply(io->state_in, io->state_in + (size_t)h * d, d, h, io->q + (size_t)t * d, z, hv,
                      io->y + (size_t)t * d);
        return;
    }
    make_prior(kind_of(io), cfg, io->scratch + extra_len(cfg) + 2 * (size_t)h * d);
    hct_rule_loop(io, mlp_token, hct_mlp_state_len(cfg), extra_len(cfg));
}

/* Backward of the read y = M(x) at state (w1, w2t) with z = W1 x: adds the
 * state gradient into (D1, D2) when given (non-NULL) and writes dx. */
static void read_backward(const real *w1, const real *w2t, uint32_t d, uint32_t h, const real *x, const real *z,
                          const real *dy, real *D1, real *D2, real *dx) {
    hct_zero(dx, d);
    for (uint32_t i = 0; i < h; i++) {
        real dz = hct_dot(w2t + (size_t)i * d, dy, d) * hct_silu_grad(z[i]);
        if (D2) hct_axpy(D2 + (size_t)i * d, hct_silu(z[i]), dy, d);
        if (D1) hct_axpy(D1 + (size_t)i * d, dz, x, d);
        hct_axpy(dx, dz, w1 + (size_t)i * d, d);
    }
}

static void frozen_backward(const hct_rule_grad *g, uint32_t h) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d;
    real *z = g->work;
    for (uint32_t t = 0; t < io->T; t++) {
        hct_token_grad x = hct_token_slices(g, t, 2);
        for (uint32_t i = 0; i < h; i++) z[i] = hct_dot(io->state_in + (size_t)i * d, x.q, d);
        read_backward(io->state_in, io->state_in + (size_t)h * d, d, h, x.q, z, x.dy, NULL, NULL, x.dq);
        hct_zero(x.dk, d);
        hct_zero(x.dv, d);
        x.dgates[0] = x.dgates[1] = 0;
    }
}

void hct_mlp_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    const hct_mlp_kind *kind = kind_of(io);
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, h = hct_mlp_hidden(cfg), T = io->T;
    size_t n = (size_t)h * d;
    uint64_t slen = hct_mlp_state_len(cfg), elen = extra_len(cfg);
    if (io->frozen) {
        frozen_backward(g, h);
        return;
    }
    real *D = g->work, *P = D + 2 * n, *G = P + 2 * n, *prior = G + 2 * n;
    real *hv = prior + 2 * n, *sp = hv + h, *u = sp + h, *dr = u + h, *dz = dr + h, *dh = dz + h;
    real *dg = dh + h, *de = dg + d;
    real *D1 = D, *D2 = D + n, *P1 = P, *P2 = P + n;
    hct_zero(D, 2 * n);
    make_prior(kind, cfg, prior);
    for (uint32_t tt = T; tt-- > 0;) {
        hct_token_grad x = hct_token_slices(g, tt, 2);
        const real *S0 = hct_tape_state(io, tt, slen), *S1 = hct_tape_state(io, tt + 1, slen);
        const real *ex = hct_tape_extra(io, tt, slen, elen);
        const real *z = ex, *zq = z + h, *e = zq + h, *gb = e + d;
        const real *w1 = S0, *w2t = S0 + n;
        real alpha = x.gates[0], theta = x.gates[1];
        /* the read of the new state */
        read_backward(S1, S1 + n, d, h, x.q, zq, x.dy, D1, D2, x.dq);
        /* rebuild the token's inner gradient */
        for (uint32_t i = 0; i < h; i++) {
            hv[i] = hct_silu(z[i]);
            sp[i] = hct_silu_grad(z[i]);
            u[i] = hct_dot(w2t + (size_t)i * d, gb, d);
            for (uint32_t j = 0; j < d; j++) {
                G[(size_t)i * d + j] = u[i] * sp[i] * x.k[j];
                G[n + (size_t)i * d + j] = hv[i] * gb[j];
            }
        }
        /* retention: P = gradient of the pre-state, D = its share of dW_t */
        real dtheta = 0, lambda = hct_shrink_lambda(cfg);
        if (lambda != 0) dtheta = lambda * hct_retain_shrink_backward(S1, prior, D, 2 * n);
        hct_retain_grad rg;
        if (cfg->retention == HCT_RET_KL) {
            hct_groups rows = {h, d, d, 1}, cols = {d, h, 1, d};
            rg = hct_retain_kl_backward(&rows, S0, prior, S1, (real)1 - alpha, D, P);
            hct_retain_grad r2 = hct_retain_kl_backward(&cols, S0 + n, prior + n, S1 + n, (real)1 - alpha, D + n, P + n);
            rg.dkeep += r2.dkeep;
            rg.dpull += r2.dpull;
        } else {
            real keep = (real)1 - alpha - (real)2 * theta * lambda_2(kind, cfg);
            rg = hct_retain_l2_backward(S0, prior, 2 * n, keep, D, P);
        }
        /* keep = 1 - alpha - 2 theta lambda_2 (0 for KL), pull = alpha */
        dtheta -= (real)2 * lambda_2(kind, cfg) * rg.dkeep;
        for (size_t i = 0; i < 2 * n; i++) dtheta -= P[i] * G[i];
        x.dgates[0] = rg.dpull - rg.dkeep;
        x.dgates[1] = dtheta;
        /* the step -theta G with G1[i] = r_i k, G2^T[i] = h_i g (rank one per matrix) */
        hct_zero(x.dk, d);
        hct_zero(dg, d);
        for (uint32_t i = 0; i < h; i++) {
            dr[i] = -theta * hct_dot(P1 + (size_t)i * d, x.k, d);
            dh[i] = -theta * hct_dot(P2 + (size_t)i * d, gb, d);
            hct_axpy(x.dk, -theta * u[i] * sp[i], P1 + (size_t)i * d, d);
            hct_axpy(dg, -theta * hv[i], P2 + (size_t)i * d, d);
        }
        /* r = u * silu'(z), u_i = W2^T[i] . g */
        for (uint32_t i = 0; i < h; i++) {
            real du = dr[i] * sp[i];
            dz[i] = dr[i] * u[i] * silu_grad2(z[i]);
            hct_axpy(dg, du, w2t + (size_t)i * d, d);
            hct_axpy(D2 + (size_t)i * d, du, gb, d);
        }
        /* g = b(e), e = M(k) - v */
        kind->bias_grad(cfg, e, de, d);
        for (uint32_t j = 0; j < d; j++) {
            de[j] *= dg[j];
            x.dv[j] = -de[j];
        }
        for (uint32_t i = 0; i < h; i++) {
            dh[i] += hct_dot(w2t + (size_t)i * d, de, d);
            hct_axpy(D2 + (size_t)i * d, hv[i], de, d);
            dz[i] += dh[i] * sp[i];
            hct_axpy(x.dk, dz[i], w1 + (size_t)i * d, d);
            hct_axpy(D1 + (size_t)i * d, dz[i], x.k, d);
        }
    }
}

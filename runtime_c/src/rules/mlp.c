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

hecate_status hct_mlp_check_scales(const hct_config *cfg) {
    const float *p = cfg->rule_params;
    for (uint32_t i = HCT_MLP_W1_SCALE; i <= HCT_MLP_GRAD_BOUND; i++)
        if (!(p[i] >= 0.0f && p[i] <= 1e6f)) return HECATE_E_FILE_CONFIG;
    return HECATE_OK;
}

/* n = h d scalars per matrix */
static uint64_t mat_len(const hct_config *cfg) { return (uint64_t)hct_mlp_hidden(cfg) * cfg->d; }

/* per token kept: z (h), zq (h), e (d), g (d) */
uint64_t hct_mlp_extra_len(const hct_config *cfg) {
    return 2 * (uint64_t)hct_mlp_hidden(cfg) + 2 * (uint64_t)cfg->d;
}

uint64_t hct_mlp_state_len(const hct_config *cfg) { return 2 * mat_len(cfg); }

/* the extra of inference, then G (2n), hidden h-vectors hv, r, hq */
uint64_t hct_mlp_scratch_len(const hct_config *cfg) {
    return hct_mlp_extra_len(cfg) + 2 * mat_len(cfg) + 3 * (uint64_t)hct_mlp_hidden(cfg);
}

/* P (2n), then h-vectors hv, sp, u, r, dr, dz, dh, then dg, de (d each) */
uint64_t hct_mlp_work_len(const hct_config *cfg) {
    return 2 * mat_len(cfg) + 7 * (uint64_t)hct_mlp_hidden(cfg) + 2 * (uint64_t)cfg->d;
}

static const hct_mlp_kind *kind_of(const hct_rule_io *io) { return (const hct_mlp_kind *)io->rule->impl; }

/* the prior (2n) */
uint64_t hct_mlp_consts_len(const hct_config *cfg) { return hct_mlp_state_len(cfg); }

/* The prior the retention pulls toward: W0 (L2) or log max(W0, 1e-8) (KL). */
void hct_mlp_prepare(const hct_rule_io *io, real *prior) {
    kind_of(io)->init(prior, io->cfg);
    if (io->cfg->retention == HCT_RET_KL) hct_log_floor(prior, prior, (size_t)hct_mlp_state_len(io->cfg));
}

void hct_mlp_hash_init(real *state, const hct_config *cfg) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    real s = (real)cfg->rule_params[HCT_MLP_W1_SCALE];
    real scale = (s == 0 ? HCT_MLP_LEGACY_W1_SCALE : s) * hct_sqrt((real)2 / (real)(d + h));
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

/* the gradient bound c, 0: off */
static real grad_bound(const hct_mlp_kind *kind, const hct_config *cfg) {
    return kind->grad_bound_param < 0 ? 0 : (real)cfg->rule_params[kind->grad_bound_param];
}

/* MATH §3.5 bound: s = (1 + ||G||^2 / c^2)^(-1/2) with G1[i] = r_i k, G2^T[i] =
 * hv_i g, so ||G||^2 = |k|^2 |r|^2 + |g|^2 |hv|^2, from those four squared
 * norms (one fixed order, used by the forward and the backward alike). */
static real bound_scale(real c, real kk, real rr, real gg, real hh) {
    return (real)1 / hct_sqrt((real)1 + (kk * rr + gg * hh) / (c * c));
}

/* MATH §3.5/§3.8 retention toward the prior: L2 W' = (1-alpha-2 theta lambda_2) W
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


/* The inner gradient (MATH §3.5) at the gradient point (w1, w2t): z = W1 k,
 * hv = silu(z), e = M(k) - v, g = b(e), r_i = (W2^T[i] . g) silu'(z_i);
 * G1[i] = r_i k, G2^T[i] = hv_i g (2n scalars). */
static void inner_grad(const hct_mlp_kind *kind, const hct_config *cfg, const real *w1, const real *w2t,
                       const real *k, const real *v, real *z, real *hv, real *r, real *e, real *g, real *G) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    mlp_apply(w1, w2t, d, h, k, z, hv, e);
    for (uint32_t j = 0; j < d; j++) e[j] -= v[j];
    kind->bias(cfg, e, g, d);
    for (uint32_t i = 0; i < h; i++) {
        r[i] = hct_dot(w2t + (size_t)i * d, g, d) * hct_silu_grad(z[i]);
        for (uint32_t j = 0; j < d; j++) {
            G[(size_t)i * d + j] = r[i] * k[j];
            G[n + (size_t)i * d + j] = hv[i] * g[j];
        }
    }
}

/* One token: G at `at` (read whole before `out`, which may alias it, is
 * written), its bound (c != 0), the retention of `in`, then the read of the
 * new state. */
void hct_mlp_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                   real *extra) {
    const hct_mlp_kind *kind = kind_of(io);
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d, off = (size_t)t * d;
    real *z = extra, *zq = z + h, *e = zq + h, *g = e + d;
    real *G = io->scratch + hct_mlp_extra_len(cfg), *hv = G + 2 * n, *r = hv + h;
    inner_grad(kind, cfg, at, at + n, io->k + off, io->v + off, z, hv, r, e, g, G);
    real c = grad_bound(kind, cfg);
    if (c != 0) {
        const real *k = io->k + off;
        real s = bound_scale(c, hct_dot(k, k, d), hct_dot(r, r, h), hct_dot(g, g, d), hct_dot(hv, hv, h));
        for (size_t i = 0; i < 2 * n; i++) G[i] *= s;
    }
    retain(kind, cfg, in, io->consts, G, out, io->gates + (size_t)t * 2);
    mlp_apply(out, out + n, d, h, io->q + off, zq, r + h, y);
}

void hct_mlp_read(const hct_rule_io *io, const real *q, const real *state, real *y) {
    uint32_t d = io->d, h = hct_mlp_hidden(io->cfg);
    size_t n = (size_t)h * d;
    real *z = io->scratch + hct_mlp_extra_len(io->cfg) + 2 * n; /* past G */
    mlp_apply(state, state + n, d, h, q, z, z + h, y);
}

/* Backward of the read y = M(x) at state (w1, w2t) with z = W1 x (MATH §3.5
 * BPTT): dx += d/dx, and the state gradient into D = (D1, D2) when non-NULL. */
static void read_back(const real *w1, const real *w2t, uint32_t d, uint32_t h, const real *x, const real *z,
                      const real *dy, real *D, real *dx) {
    size_t n = (size_t)h * d;
    for (uint32_t i = 0; i < h; i++) {
        real dz = hct_dot(w2t + (size_t)i * d, dy, d) * hct_silu_grad(z[i]);
        if (D) {
            hct_axpy(D + n + (size_t)i * d, hct_silu(z[i]), dy, d);
            hct_axpy(D + (size_t)i * d, dz, x, d);
        }
        hct_axpy(dx, dz, w1 + (size_t)i * d, d);
    }
}

/* The backward's temporaries in g->work (hct_mlp_work_len). */
typedef struct mlp_work {
    real *P;                              /* 2n */
    real *hv, *sp, *u, *r, *dr, *dz, *dh; /* h each */
    real *dg, *de;                        /* d each */
} mlp_work;

static mlp_work work_of(const hct_rule_grad *g) {
    uint32_t d = g->fwd->d, h = hct_mlp_hidden(g->fwd->cfg);
    size_t n = (size_t)h * d;
    mlp_work w;
    w.P = g->work;
    w.hv = w.P + 2 * n;
    w.sp = w.hv + h;
    w.u = w.sp + h;
    w.r = w.u + h;
    w.dr = w.r + h;
    w.dz = w.dr + h;
    w.dh = w.dz + h;
    w.dg = w.dh + h;
    w.de = w.dg + d;
    return w;
}

/* Backward of retain (MATH §3.5 BPTT): D in: the gradient of out; out: that
 * of `in` through the retention.  P: the gradient of the pre-state.  Returns
 * dtheta's retention share and sets *dalpha. */
static real retain_backward(const hct_mlp_kind *kind, const hct_config *cfg, const real *in, const real *out,
                            const real *prior, const real *gates, real *D, real *P, real *dalpha) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    real dtheta = 0, lambda = hct_shrink_lambda(cfg), l2 = lambda_2(kind, cfg);
    if (lambda != 0) dtheta = lambda * hct_retain_shrink_backward(out, prior, D, 2 * n);
    hct_retain_grad rg;
    if (cfg->retention == HCT_RET_KL) {
        hct_groups rows = {h, d, d, 1}, cols = {d, h, 1, d};
        rg = hct_retain_kl_backward(&rows, in, prior, out, (real)1 - gates[0], D, P);
        hct_retain_grad r2 = hct_retain_kl_backward(&cols, in + n, prior + n, out + n, (real)1 - gates[0], D + n,
                                                    P + n);
        rg.dkeep += r2.dkeep;
        rg.dpull += r2.dpull;
    } else {
        rg = hct_retain_l2_backward(in, prior, 2 * n, (real)1 - gates[0] - (real)2 * gates[1] * l2, D, P);
    }
    /* keep = 1 - alpha - 2 theta lambda_2 (0 for KL), pull = alpha */
    *dalpha = rg.dpull - rg.dkeep;
    return dtheta - (real)2 * l2 * rg.dkeep;
}

/* Backward of the bound G~ = s G (MATH §3.5): given the shares dr, dh, dk, dg
 * and dtheta = -<P, G> of dG~ = -theta P, those of dG = s dG~ - (s^3 / c^2)
 * <G, dG~> G, with G1[i] = r_i k, G2^T[i] = hv_i g; returns -<P, G~>. */
static real bound_backward(real c, const real *k, const real *gb, real theta, real dtheta, uint32_t d, uint32_t h,
                           const mlp_work *w, real *dk) {
    real kk = hct_dot(k, k, d), gg = hct_dot(gb, gb, d);
    real rr = hct_dot(w->r, w->r, h), hh = hct_dot(w->hv, w->hv, h);
    real s = bound_scale(c, kk, rr, gg, hh);
    real beta = theta * s * s * s / (c * c) * -dtheta; /* -(s^3 / c^2) <G, dG~> */
    for (uint32_t i = 0; i < h; i++) {
        w->dr[i] = s * w->dr[i] + beta * kk * w->r[i];
        w->dh[i] = s * w->dh[i] + beta * gg * w->hv[i];
    }
    for (uint32_t j = 0; j < d; j++) {
        dk[j] = s * dk[j] + beta * rr * k[j];
        w->dg[j] = s * w->dg[j] + beta * hh * gb[j];
    }
    return s * dtheta;
}

/* Backward of the step -theta G~ with G taken at (w1, w2t) = at and bounded
 * by c (0: off), given P (MATH §3.5 BPTT): writes dk (the step's share), dv;
 * adds the gradient point's share into dat; returns -<P, G~> (dtheta's step
 * share). */
static real step_backward(const hct_mlp_kind *kind, const hct_config *cfg, const real *w1, const real *w2t,
                          const real *k, const real *z, const real *e, const real *gb, real theta,
                          const mlp_work *w, real *dk, real *dv, real *dat) {
    uint32_t d = cfg->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    const real *P1 = w->P, *P2 = w->P + n;
    real *dat1 = dat, *dat2 = dat + n, dtheta = 0;
    hct_zero(dk, d);
    hct_zero(w->dg, d);
    /* dG = -theta P; G1[i] = r_i k with r_i = u_i silu'(z_i), G2^T[i] = hv_i g */
    for (uint32_t i = 0; i < h; i++) {
        real pk = hct_dot(P1 + (size_t)i * d, k, d), pg = hct_dot(P2 + (size_t)i * d, gb, d);
        w->hv[i] = hct_silu(z[i]);
        w->sp[i] = hct_silu_grad(z[i]);
        w->u[i] = hct_dot(w2t + (size_t)i * d, gb, d);
        w->r[i] = w->u[i] * w->sp[i];
        dtheta -= w->r[i] * pk + w->hv[i] * pg;
        w->dr[i] = -theta * pk;
        w->dh[i] = -theta * pg;
        hct_axpy(dk, -theta * w->u[i] * w->sp[i], P1 + (size_t)i * d, d);
        hct_axpy(w->dg, -theta * w->hv[i], P2 + (size_t)i * d, d);
    }
    real c = grad_bound(kind, cfg);
    if (c != 0) dtheta = bound_backward(c, k, gb, theta, dtheta, d, h, w, dk);
    /* r_i = u_i silu'(z_i), u_i = W2^T[i] . g: du_i, and dr's silu'' share of dz_i */
    for (uint32_t i = 0; i < h; i++) {
        real du = w->dr[i] * w->sp[i];
        w->dz[i] = w->dr[i] * w->u[i] * silu_grad2(z[i]);
        hct_axpy(w->dg, du, w2t + (size_t)i * d, d);
        hct_axpy(dat2 + (size_t)i * d, du, gb, d);
    }
    /* g = b(e), e = M(k) - v */
    kind->bias_grad(cfg, e, w->de, d);
    for (uint32_t j = 0; j < d; j++) {
        w->de[j] *= w->dg[j];
        dv[j] = -w->de[j];
    }
    for (uint32_t i = 0; i < h; i++) {
        w->dh[i] += hct_dot(w2t + (size_t)i * d, w->de, d);
        hct_axpy(dat2 + (size_t)i * d, w->hv[i], w->de, d);
        w->dz[i] += w->dh[i] * w->sp[i];
        hct_axpy(dk, w->dz[i], w1 + (size_t)i * d, d);
        hct_axpy(dat1 + (size_t)i * d, w->dz[i], k, d);
    }
    return dtheta;
}

/* One token of MATH §3.5 BPTT: the read of the new state, the retention of
 * `in` (into ds), then the step whose gradient point `at` gets the rest
 * (into dat, after ds is final: they may alias). */
void hct_mlp_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    const hct_mlp_kind *kind = kind_of(io);
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, h = hct_mlp_hidden(cfg);
    size_t n = (size_t)h * d;
    hct_token_grad x = hct_token_slices(g, s->t, 2);
    mlp_work w = work_of(g);
    const real *z = s->extra, *zq = z + h, *e = zq + h, *gb = e + d;
    hct_zero(x.dq, d);
    if (s->dy) read_back(s->out, s->out + n, d, h, x.q, zq, s->dy, s->ds, x.dq);
    real dtheta = retain_backward(kind, cfg, s->in, s->out, io->consts, x.gates, s->ds, w.P, &x.dgates[0]);
    x.dgates[1] = dtheta + step_backward(kind, cfg, s->at, s->at + n, x.k, z, e, gb, x.gates[1], &w, x.dk, x.dv,
                                         s->dat);
}

void hct_mlp_read_backward(const hct_rule_grad *g, const real *q, const real *state, const real *dy, real *ds,
                           real *dq) {
    uint32_t d = g->fwd->d, h = hct_mlp_hidden(g->fwd->cfg);
    size_t n = (size_t)h * d;
    real *z = work_of(g).hv;
    for (uint32_t i = 0; i < h; i++) z[i] = hct_dot(state + (size_t)i * d, q, d);
    read_back(state, state + n, d, h, q, z, dy, ds, dq);
}

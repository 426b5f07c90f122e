/* rules/trellis.c — Trellis (MATH §3.9): two-pass compression of the level
 * input x, L2-normalized (xh).  Keys: S_K (d_k x d) learns to map xh to the
 * first d_k entries of k; values: S_V (d x d_k) learns to map c = nsilu(S_K' xh) to v; read
 * y = S_V' nsilu(S_K' q) after both writes; exact BPTT (x gets a gradient);
 * per token on the shared loop (rule.h).
 * State: S_K then S_V, row-major, initial 0.  Gates: alpha, theta.  Params:
 * d_k (1..d), lambda_k, lambda_v (>= 0, L2 penalties inside the step). */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2, P_DK = 0, P_LK = 1, P_LV = 2 };

static uint32_t dk_of(const hct_config *cfg) { return (uint32_t)cfg->rule_params[P_DK]; }

static hecate_status trellis_check(const hct_config *cfg) {
    float dk = cfg->rule_params[P_DK], lk = cfg->rule_params[P_LK], lv = cfg->rule_params[P_LV];
    if (!(dk >= 1.0f && dk <= (float)cfg->d && dk == (float)(uint32_t)dk)) return HECATE_E_FILE_CONFIG;
    if (!(lk >= 0.0f && lv >= 0.0f)) return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 3);
}

static uint64_t trellis_state_len(const hct_config *cfg) { return 2 * (uint64_t)dk_of(cfg) * cfg->d; }

static void trellis_state_init(real *state, const hct_config *cfg) { hct_zero(state, (size_t)trellis_state_len(cfg)); }

/* per token: eK, ax = S_K' xh, c, aq = S_K' q, cq (d_k each), eV, xh (d each), the two silu norms, ||x|| */
static uint64_t trellis_extra_len(const hct_config *cfg) {
    return 5 * (uint64_t)dk_of(cfg) + 2 * (uint64_t)cfg->d + 3;
}

/* the extra (inference); a read alone uses its aq, cq */
static uint64_t trellis_scratch_len(const hct_config *cfg) { return trellis_extra_len(cfg); }

/* per-token backward: dax, dc, daq, deK, dcq (d_k each), deV, dxh (d each);
 * a read's backward: aq, cq, dcq, daq (d_k each) */
static uint64_t trellis_work_len(const hct_config *cfg) { return 5 * (uint64_t)dk_of(cfg) + 2 * (uint64_t)cfg->d; }

/* MATH §3.9 feature map: out = hct_silu(a) / ||hct_silu(a)|| (0 when that norm is
 * <= 1e-8); returns the norm. */
static real nsilu(const real *a, real *out, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) out[i] = hct_silu(a[i]);
    real norm = hct_sqrt(hct_dot(out, out, n));
    real scale = norm > HCT_SPHERE_FLOOR ? (real)1 / hct_norm_divisor(norm) : 0; /* NaN stays: NaN * 0 */
    for (uint32_t i = 0; i < n; i++) out[i] *= scale;
    return norm;
}

/* Backward of nsilu given a, its output and norm:
 * da = (dout - out <out, dout>) silu'(a) / norm. */
static void nsilu_backward(const real *a, const real *out, real norm, const real *dout, real *da, uint32_t n) {
    if (!(norm > HCT_SPHERE_FLOOR)) {
        hct_zero(da, n);
        return;
    }
    real proj = hct_dot(out, dout, n);
    for (uint32_t i = 0; i < n; i++) da[i] = (dout[i] - out[i] * proj) * hct_silu_grad(a[i]) / norm;
}

/* out = M v for M (rows x cols) row-major: one dot per row. */
static void matvec(const real *M, const real *v, uint32_t rows, uint32_t cols, real *out) {
    for (uint32_t i = 0; i < rows; i++) out[i] = hct_dot(M + (size_t)i * cols, v, cols);
}

/* One pass of MATH §3.9 on a memory (rows x cols): e = M_at u - target (the
 * inner gradient's point: the memory itself, or its CMS block-start state,
 * §6.1), M_out = (keep - theta penalty) M_in - theta e u^T, then the
 * elastic-net shrink (lambda_1 theta) when the config asks for it.  M_at is
 * read whole before M_out is written (any two may alias). */
static void pass_step(const hct_config *cfg, const real *at, const real *in, real *out, uint32_t rows,
                      uint32_t cols, real keep, real theta, real penalty, const real *u, const real *target,
                      real *e) {
    matvec(at, u, rows, cols, e);
    for (uint32_t i = 0; i < rows; i++) e[i] -= target[i];
    real k = keep - theta * penalty;
    for (uint32_t i = 0; i < rows; i++) {
        const real *m = in + (size_t)i * cols;
        real *o = out + (size_t)i * cols, c = theta * e[i];
        for (uint32_t j = 0; j < cols; j++) o[j] = k * m[j] - c * u[j];
    }
    real lambda = hct_shrink_lambda(cfg);
    if (lambda != 0) hct_retain_shrink(out, NULL, (size_t)rows * cols, lambda * theta);
}

/* The read's feature cq = nsilu(S_K' q) of state S (aq = S_K' q); returns the silu norm. */
static real read_feature(const real *S, uint32_t d, uint32_t dk, const real *q, real *aq, real *cq) {
    matvec(S, q, dk, d, aq);
    return nsilu(aq, cq, dk);
}

/* y = S_V' nsilu(S_K' q) */
static void trellis_read(const hct_rule_io *io, const real *q, const real *state, real *y) {
    uint32_t d = io->d, dk = dk_of(io->cfg);
    real *aq = io->scratch, *cq = aq + dk;
    read_feature(state, d, dk, q, aq, cq);
    matvec(state + (size_t)dk * d, cq, d, dk, y);
}

/* MATH §3.9: pass 1 (keys) then pass 2 (values), each with its error at the
 * matrices of `at` and its decay on those of `in` (CMS, §6.1); pass 2's input
 * c is the feature of the key memory just written (its data, not its
 * gradient point).  Then the read of `out`. */
static void trellis_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                          real *extra) {
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, dk = dk_of(cfg);
    size_t n = (size_t)dk * d;
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d;
    const real *g = io->gates + (size_t)t * N_GATES;
    real *eK = extra, *ax = eK + dk, *c = ax + dk, *aq = c + dk, *cq = aq + dk, *eV = cq + dk, *x = eV + d;
    real *norms = x + d;
    /* xh = x / ||x||: the inner steps below are stable for theta < 2 whatever the input's scale */
    hct_copy(x, io->x + (size_t)t * d, d);
    norms[2] = hct_l2_normalize(x, d);
    real keep = (real)1 - g[G_ALPHA], theta = g[G_THETA];
    /* pass 1 (keys): eK = S_K x - k[:dk] */
    pass_step(cfg, at, in, out, dk, d, keep, theta, (real)cfg->rule_params[P_LK], x, k, eK);
    /* pass 2 (values): c = nsilu(S_K' x), eV = S_V c - v */
    matvec(out, x, dk, d, ax);
    norms[0] = nsilu(ax, c, dk);
    pass_step(cfg, at + n, in + n, out + n, d, dk, keep, theta, (real)cfg->rule_params[P_LV], c, v, eV);
    /* read: y = S_V' nsilu(S_K' q) */
    norms[1] = read_feature(out, d, dk, io->q + (size_t)t * d, aq, cq);
    matvec(out + n, cq, d, dk, y);
}

/* dx += M^T u for M (rows x cols): the gradient through out = M x. */
static void matvec_t_add(const real *M, const real *u, uint32_t rows, uint32_t cols, real *dx) {
    for (uint32_t i = 0; i < rows; i++) hct_axpy(dx, u[i], M + (size_t)i * cols, cols);
}

/* D += a b^T (rows x cols) */
static void outer_add(real *D, const real *a, const real *b, uint32_t rows, uint32_t cols) {
    for (uint32_t i = 0; i < rows; i++) hct_axpy(D + (size_t)i * cols, a[i], b, cols);
}

/* Backward of the read given aq, cq and the norm read_feature returned: D (the state's
 * gradient, may be NULL) += through S_K and S_V, dq += through q. */
static void read_grad(const real *S, uint32_t d, uint32_t dk, const real *q, const real *aq, const real *cq,
                      real norm, const real *dy, real *D, real *dcq, real *daq, real *dq) {
    size_t n = (size_t)dk * d;
    if (D) outer_add(D + n, dy, cq, d, dk);
    hct_zero(dcq, dk);
    matvec_t_add(S + n, dy, d, dk, dcq);
    nsilu_backward(aq, cq, norm, dcq, daq, dk);
    if (D) outer_add(D, daq, q, dk, d);
    matvec_t_add(S, daq, dk, d, dq);
}

static void trellis_read_backward(const hct_rule_grad *gr, const real *q, const real *state, const real *dy,
                                  real *ds, real *dq) {
    uint32_t d = gr->fwd->d, dk = dk_of(gr->fwd->cfg);
    real *aq = gr->work, *cq = aq + dk, *dcq = cq + dk, *daq = dcq + dk;
    real norm = read_feature(state, d, dk, q, aq, cq);
    read_grad(state, d, dk, q, aq, cq, norm, dy, ds, dcq, daq, dq);
}

/* Gradients of a pass's gates: d loss / d keep and d loss / d theta. */
typedef struct pass_grad { real dkeep, dtheta; } pass_grad;

/* Backward of pass_step on the rows x cols memory at offset `off` of the
 * token's states: the gradient of M_out (in s->ds) becomes that of M_in,
 * the error's (de, rows) goes to M_at (s->dat, added once every element of
 * ds is final) and du (+=, the input's); the target's gradient is -de. */
static pass_grad pass_backward(const hct_config *cfg, const hct_token_step *s, size_t off, uint32_t rows,
                               uint32_t cols, real keep, real theta, real penalty, const real *u, const real *e,
                               real *de, real *du) {
    pass_grad g = {0, 0};
    const real *M = s->in + off, *M1 = s->out + off;
    real *D = s->ds + off, lambda = hct_shrink_lambda(cfg), k = keep - theta * penalty, dk = 0;
    if (lambda != 0) g.dtheta += lambda * hct_retain_shrink_backward(M1, NULL, D, (size_t)rows * cols);
    for (uint32_t i = 0; i < rows; i++) { /* M1 = k M - theta e u^T */
        real *Di = D + (size_t)i * cols;
        real Du = hct_dot(Di, u, cols);
        dk += hct_dot(Di, M + (size_t)i * cols, cols);
        g.dtheta -= e[i] * Du;
        de[i] = -theta * Du;
        hct_axpy(du, -theta * e[i], Di, cols);
        for (uint32_t j = 0; j < cols; j++) Di[j] *= k;
    }
    g.dkeep = dk;
    g.dtheta -= penalty * dk; /* k = keep - theta penalty */
    outer_add(s->dat + off, de, u, rows, cols); /* e = M_at u - target */
    matvec_t_add(s->at + off, de, rows, cols, du);
    return g;
}

/* One token of MATH §3.9's BPTT: the read, pass 2, c = nsilu(S_K' x), pass 1,
 * then xh back through the normalization into dx. */
static void trellis_token_backward(const hct_rule_grad *gr, const hct_token_step *s) {
    const hct_rule_io *io = gr->fwd;
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, dk = dk_of(cfg);
    size_t n = (size_t)dk * d;
    hct_token_grad x = hct_token_slices(gr, s->t, N_GATES);
    const real *eK = s->extra, *ax = eK + dk, *c = ax + dk, *aq = c + dk, *cq = aq + dk, *eV = cq + dk;
    const real *xx = eV + d, *norms = xx + d;
    real *dax = gr->work, *dc = dax + dk, *daq = dc + dk, *deK = daq + dk, *dcq = deK + dk, *deV = dcq + dk;
    real *dxh = deV + d;
    real keep = (real)1 - x.gates[G_ALPHA], theta = x.gates[G_THETA];
    real lk = (real)cfg->rule_params[P_LK], lv = (real)cfg->rule_params[P_LV];
    hct_zero(x.dq, d);
    if (s->dy) read_grad(s->out, d, dk, x.q, aq, cq, norms[1], s->dy, s->ds, dcq, daq, x.dq);
    /* pass 2 (values, on c) */
    hct_zero(dc, dk);
    pass_grad gv = pass_backward(cfg, s, n, d, dk, keep, theta, lv, c, eV, deV, dc);
    for (uint32_t i = 0; i < d; i++) x.dv[i] = -deV[i];
    /* c = nsilu(S_K' x) */
    hct_zero(dxh, d);
    nsilu_backward(ax, c, norms[0], dc, dax, dk);
    outer_add(s->ds, dax, xx, dk, d);
    matvec_t_add(s->out, dax, dk, d, dxh);
    /* pass 1 (keys, on xh; target k[:dk]) */
    pass_grad gk = pass_backward(cfg, s, 0, dk, d, keep, theta, lk, xx, eK, deK, dxh);
    hct_zero(x.dk, d);
    for (uint32_t i = 0; i < dk; i++) x.dk[i] = -deK[i];
    x.dgates[G_ALPHA] = -(gk.dkeep + gv.dkeep);
    x.dgates[G_THETA] = gk.dtheta + gv.dtheta;
    /* xh = x / ||x|| */
    hct_l2_normalize_backward(xx, norms[2], dxh, d);
    hct_axpy(gr->dx + (size_t)s->t * d, 1, dxh, d);
}

const hct_rule hct_rule_trellis = {
    .id = 7,
    .name = "trellis",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID, [G_THETA] = HCT_GATE_SOFTPLUS},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = trellis_check,
    .state_len = trellis_state_len,
    .state_init = trellis_state_init,
    .scratch_len = trellis_scratch_len,
    .extra_len = trellis_extra_len,
    .token = trellis_token,
    .read = trellis_read,
    .work_len = trellis_work_len,
    .token_backward = trellis_token_backward,
    .read_backward = trellis_read_backward,
};

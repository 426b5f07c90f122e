/* rules/ssm.c — a selective state-space cell (Mamba-style, diagonal; MATH
 * §3.10), the classic recurrent baseline on the same runtime.  Channels
 * u = v (d), input-dependent B = k[:N], C = q[:N], step
 * Delta[c] = softplus(delta + dt_bias[c]); per channel c and state n:
 * h <- exp(Delta[c] A[c][n]) h + Delta[c] B[n] u[c], A = -exp(A_log);
 * read y[c] = sum_n C[n] h[c][n] after the update (no D u skip: the
 * composition has its own residual paths); exact BPTT; per token on the
 * shared loop (rule.h).
 * State: h (d, N), initial 0.  Gate: delta (identity: the rule applies the
 * softplus itself, per channel).  Param: N = d_state (1..d).  Tensors: A_log
 * (d, N), dt_bias (d). */
#include "loop.h"
#include "../mathfn.h"

enum { G_DELTA = 0, N_GATES = 1, P_STATE = 0, T_ALOG = 0, T_DTB = 1, N_TENSORS = 2 };

static uint32_t n_state(const hct_config *cfg) { return (uint32_t)cfg->rule_params[P_STATE]; }

static hecate_status ssm_check(const hct_config *cfg) {
    float n = cfg->rule_params[P_STATE];
    if (!(n >= 1.0f && n <= (float)cfg->d && n == (float)(uint32_t)n)) return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 1);
}

static const char *const TENSOR_NAMES[N_TENSORS] = {"A_log", "dt_bias"};

static void ssm_tensor_shape(const hct_config *cfg, uint32_t i, uint32_t *ndim, uint32_t shape[2]) {
    *ndim = i == T_ALOG ? 2 : 1;
    shape[0] = cfg->d;
    shape[1] = i == T_ALOG ? n_state(cfg) : 1;
}

static uint64_t ssm_state_len(const hct_config *cfg) { return (uint64_t)cfg->d * n_state(cfg); }

static void ssm_state_init(real *state, const hct_config *cfg) { hct_zero(state, (size_t)ssm_state_len(cfg)); }

/* per token: Delta (d) */
static uint64_t ssm_extra_len(const hct_config *cfg) { return cfg->d; }

/* the extra (inference) */
static uint64_t ssm_scratch_len(const hct_config *cfg) { return ssm_extra_len(cfg); }

/* per-token backward: dB (N) */
static uint64_t ssm_work_len(const hct_config *cfg) { return n_state(cfg); }

/* the consts: A (d, N) */
static uint64_t ssm_consts_len(const hct_config *cfg) { return ssm_state_len(cfg); }

/* A = -exp(A_log), MATH §3.10, once per call. */
static void ssm_prepare(const hct_rule_io *io, real *A) {
    size_t n = (size_t)ssm_state_len(io->cfg);
    for (size_t i = 0; i < n; i++) A[i] = -hct_exp(io->tensors[T_ALOG][i]);
}

/* y[c] = sum_n C[n] h[c][n] */
static void ssm_read(const hct_rule_io *io, const real *C, const real *h, real *y) {
    uint32_t d = io->d, N = n_state(io->cfg);
    for (uint32_t c = 0; c < d; c++) y[c] = hct_dot(h + (size_t)c * N, C, N);
}

/* MATH §3.10.  The decay a h is the retention and the write Delta B u does
 * not depend on h (no inner gradient), so `at` is unused: a CMS level (§6.1)
 * accumulates h' and reads the block-start state until its block ends. */
static void ssm_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                      real *dt) {
    uint32_t d = io->d, N = n_state(io->cfg);
    const real *B = io->k + (size_t)t * d, *u = io->v + (size_t)t * d;
    const real *A = io->consts;
    const real *dtb = io->tensors[T_DTB];
    real delta = io->gates[(size_t)t * N_GATES + G_DELTA];
    (void)at;
    for (uint32_t c = 0; c < d; c++) {
        const real *h = in + (size_t)c * N, *a = A + (size_t)c * N;
        real *ho = out + (size_t)c * N;
        dt[c] = hct_softplus(delta + dtb[c]);
        for (uint32_t n = 0; n < N; n++) ho[n] = hct_exp(dt[c] * a[n]) * h[n] + dt[c] * B[n] * u[c];
    }
    ssm_read(io, io->q + (size_t)t * d, out, y);
}

/* Backward of the read at state h: ds += dy C^T (when ds), dq[:N] += h^T dy. */
static void ssm_read_backward(const hct_rule_grad *g, const real *C, const real *h, const real *dy, real *ds,
                              real *dq) {
    uint32_t d = g->fwd->d, N = n_state(g->fwd->cfg);
    for (uint32_t c = 0; c < d; c++) {
        if (ds) hct_axpy(ds + (size_t)c * N, dy[c], C, N);
        hct_axpy(dq, dy[c], h + (size_t)c * N, N);
    }
}

/* One token of MATH §3.10's BPTT (nothing goes to s->dat: `at` is unused). */
static void ssm_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, N = n_state(io->cfg);
    const real *dtb = io->tensors[T_DTB], *dt = s->extra;
    real *dalog = g->dtensors[T_ALOG], *ddtb = g->dtensors[T_DTB];
    const real *Aall = io->consts;
    real *dB = g->work;
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
    hct_zero(x.dk, d);
    hct_zero(x.dq, d);
    hct_zero(x.dv, d);
    if (s->dy) ssm_read_backward(g, x.q, s->out, s->dy, s->ds, x.dq);
    /* h' = a h + dt B u with a = exp(dt A), A = -exp(A_log) */
    real ddelta = 0;
    hct_zero(dB, N);
    for (uint32_t c = 0; c < d; c++) {
        real *Dc = s->ds + (size_t)c * N;
        const real *h = s->in + (size_t)c * N, *Ac = Aall + (size_t)c * N;
        real ddt = 0;
        for (uint32_t n = 0; n < N; n++) {
            real A = Ac[n], a = hct_exp(dt[c] * A), da = Dc[n] * h[n] * a;
            ddt += da * A + Dc[n] * x.k[n] * x.v[c];
            dalog[(size_t)c * N + n] += da * dt[c] * A; /* dA/dA_log = A */
            dB[n] += Dc[n] * dt[c] * x.v[c];
            x.dv[c] += Dc[n] * dt[c] * x.k[n];
            Dc[n] *= a;
        }
        /* dt = softplus(delta + dt_bias[c]) */
        real dpre = ddt * hct_sigmoid(x.gates[G_DELTA] + dtb[c]);
        ddtb[c] += dpre;
        ddelta += dpre;
    }
    hct_copy(x.dk, dB, N);
    x.dgates[G_DELTA] = ddelta;
}

const hct_rule hct_rule_ssm = {
    .id = 9,
    .name = "ssm",
    .n_gates = N_GATES,
    .gate_kind = {[G_DELTA] = HCT_GATE_IDENTITY},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_RET_BIT(HCT_RET_L2),
    .check_params = ssm_check,
    .state_len = ssm_state_len,
    .state_init = ssm_state_init,
    .scratch_len = ssm_scratch_len,
    .extra_len = ssm_extra_len,
    .token = ssm_token,
    .read = ssm_read,
    .work_len = ssm_work_len,
    .token_backward = ssm_token_backward,
    .read_backward = ssm_read_backward,
    .n_tensors = N_TENSORS,
    .tensor_names = TENSOR_NAMES,
    .tensor_shape = ssm_tensor_shape,
    .consts_len = ssm_consts_len,
    .prepare = ssm_prepare,
};

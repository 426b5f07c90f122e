/* rules/ssm.c — a selective state-space cell (Mamba-style, diagonal; MATH
 * §3.10), the classic recurrent baseline on the same runtime.  Channels
 * u = v (d), input-dependent B = k[:N], C = q[:N], step
 * Delta[c] = softplus(delta + dt_bias[c]); per channel c and state n:
 * h <- exp(Delta[c] A[c][n]) h + Delta[c] B[n] u[c], A = -exp(A_log);
 * read y[c] = sum_n C[n] h[c][n] after the update (no D u skip: the
 * composition has its own residual paths); exact BPTT.
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

/* per token: Delta (d); then A = -exp(A_log) (d, N), computed once per call */
static uint64_t ssm_scratch_len(const hct_config *cfg) { return cfg->d + ssm_state_len(cfg); }

static uint64_t ssm_tape_len(const hct_config *cfg, uint32_t T) { return hct_tape_len(ssm_state_len(cfg), cfg->d, T); }

/* Dh (d, N), dB (N), A (d, N) */
static uint64_t ssm_work_len(const hct_config *cfg) { return 2 * ssm_state_len(cfg) + n_state(cfg); }

/* A = -exp(A_log), MATH §3.10 */
static void make_A(const hct_rule_io *io, real *A) {
    size_t n = (size_t)ssm_state_len(io->cfg);
    for (size_t i = 0; i < n; i++) A[i] = -hct_exp(io->tensors[T_ALOG][i]);
}

/* y[c] = sum_n C[n] h[c][n] */
static void ssm_read(const real *h, uint32_t d, uint32_t N, const real *C, real *y) {
    for (uint32_t c = 0; c < d; c++) y[c] = hct_dot(h + (size_t)c * N, C, N);
}

static void ssm_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *dt) {
    uint32_t d = io->d, N = n_state(io->cfg);
    const real *B = io->k + (size_t)t * d, *u = io->v + (size_t)t * d, *C = io->q + (size_t)t * d;
    const real *A = io->scratch + d, *dtb = io->tensors[T_DTB];
    real delta = io->gates[(size_t)t * N_GATES + G_DELTA];
    for (uint32_t c = 0; c < d; c++) {
        const real *h = in + (size_t)c * N, *a = A + (size_t)c * N;
        real *ho = out + (size_t)c * N;
        dt[c] = hct_softplus(delta + dtb[c]);
        for (uint32_t n = 0; n < N; n++) ho[n] = hct_exp(dt[c] * a[n]) * h[n] + dt[c] * B[n] * u[c];
    }
    ssm_read(out, d, N, C, y);
}

static void ssm_forward(const hct_rule_io *io) {
    uint32_t d = io->d, N = n_state(io->cfg);
    if (io->frozen) {
        for (uint32_t t = 0; t < io->T; t++)
            ssm_read(io->state_in, d, N, io->q + (size_t)t * d, io->y + (size_t)t * d);
        return;
    }
    make_A(io, io->scratch + d);
    hct_rule_loop(io, ssm_token, ssm_state_len(io->cfg), d);
}

/* Backward of the read at state h: Dh += dy C^T (when Dh), dq[:N] = h^T dy. */
static void read_backward(const real *h, uint32_t d, uint32_t N, const hct_token_grad *x, real *Dh) {
    for (uint32_t c = 0; c < d; c++) {
        if (Dh) hct_axpy(Dh + (size_t)c * N, x->dy[c], x->q, N);
        hct_axpy(x->dq, x->dy[c], h + (size_t)c * N, N);
    }
}

static void ssm_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, N = n_state(cfg), T = io->T;
    uint64_t slen = ssm_state_len(cfg);
    const real *dtb = io->tensors[T_DTB];
    real *dalog = g->dtensors[T_ALOG], *ddtb = g->dtensors[T_DTB];
    real *Dh = g->work, *dB = Dh + slen, *Aall = dB + N;
    if (!io->frozen) make_A(io, Aall);
    hct_zero(Dh, (size_t)slen);
    for (uint32_t tt = T; tt-- > 0;) {
        hct_token_grad x = hct_token_slices(g, tt, N_GATES);
        hct_zero(x.dk, d);
        hct_zero(x.dq, d);
        hct_zero(x.dv, d);
        if (io->frozen) {
            read_backward(io->state_in, d, N, &x, NULL);
            x.dgates[G_DELTA] = 0;
            continue;
        }
        const real *h0 = hct_tape_state(io, tt, slen), *h1 = hct_tape_state(io, tt + 1, slen);
        const real *dt = hct_tape_extra(io, tt, slen, d);
        read_backward(h1, d, N, &x, Dh);
        /* h' = a h + dt B u with a = exp(dt A), A = -exp(A_log) */
        real ddelta = 0;
        hct_zero(dB, N);
        for (uint32_t c = 0; c < d; c++) {
            real *Dc = Dh + (size_t)c * N;
            const real *h = h0 + (size_t)c * N, *Ac = Aall + (size_t)c * N;
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
}

const hct_rule hct_rule_ssm = {
    9, "ssm", N_GATES, {HCT_GATE_IDENTITY, 0, 0, 0}, HCT_RET_L2, HCT_RET_BIT(HCT_RET_L2),
    ssm_check, ssm_state_len, ssm_state_init, ssm_scratch_len,
    ssm_forward, ssm_tape_len, ssm_work_len, ssm_backward, NULL,
    N_TENSORS, TENSOR_NAMES, ssm_tensor_shape,
    NULL, NULL, NULL, NULL, NULL,
};

/* rules/lattice.c — Lattice OSR (MATH §3.7): m unit-norm slots on the sphere.
 * Per slot a tangent (orthogonal) write of strength beta sigmoid(<s, k>) v,
 * then renormalization (sphere retention); read y = softmax(S q) S after the
 * write; exact BPTT; per token on the shared loop (rule.h).  State: S (m x d), rows unit norm.  Gate: beta (sigmoid,
 * write strength).  Param: m_slots in 1..4096. */
#include "loop.h"
#include "retention.h"
#include "../mathfn.h"

enum { G_BETA = 0, N_GATES = 1, P_SLOTS = 0 };

static uint32_t slots(const hct_config *cfg) { return (uint32_t)cfg->rule_params[P_SLOTS]; }

static hecate_status lattice_check(const hct_config *cfg) {
    float m = cfg->rule_params[P_SLOTS];
    if (!(m >= 1.0f && m <= 4096.0f && m == (float)(uint32_t)m)) return HECATE_E_FILE_CONFIG;
    return hct_params_unused(cfg, 1);
}

static uint64_t lattice_state_len(const hct_config *cfg) { return (uint64_t)slots(cfg) * cfg->d; }

/* MATH §3.7: S[i][j] = hash(i d + j) - 0.5, rows normalized. */
static void lattice_state_init(real *state, const hct_config *cfg) {
    uint32_t d = cfg->d, m = slots(cfg);
    for (uint32_t i = 0; i < m; i++) {
        real *s = state + (size_t)i * d;
        for (uint32_t j = 0; j < d; j++) s[j] = hct_unit_hash((size_t)i * d + j) - (real)0.5;
        hct_l2_normalize(s, d);
    }
}

/* per token: g (sigmoid of the slot score), p = <s_at, delta>, n = ||s_un|| (m each) */
static uint64_t lattice_extra_len(const hct_config *cfg) { return 3 * (uint64_t)slots(cfg); }

/* the extra (inference), then w (m) and the tangent step u (d) */
static uint64_t lattice_scratch_len(const hct_config *cfg) { return lattice_extra_len(cfg) + slots(cfg) + cfg->d; }

/* per-token backward: w, a (m each), ddelta (d) */
static uint64_t lattice_work_len(const hct_config *cfg) { return 2 * (uint64_t)slots(cfg) + cfg->d; }

/* w = softmax(S q) (m scalars). */
static void slot_weights(const real *S, uint32_t m, uint32_t d, const real *q, real *w) {
    real mx = -HCT_REAL_MAX, sum = 0;
    for (uint32_t i = 0; i < m; i++) {
        w[i] = hct_dot(S + (size_t)i * d, q, d);
        if (w[i] > mx) mx = w[i];
    }
    for (uint32_t i = 0; i < m; i++) sum += (w[i] = hct_exp(w[i] - mx));
    for (uint32_t i = 0; i < m; i++) w[i] /= sum;
}

/* y = sum_i w_i S[i] with w = softmax(S q) (w: the scratch after the extra). */
static void lattice_read(const hct_rule_io *io, const real *q, const real *S, real *y) {
    uint32_t d = io->d, m = slots(io->cfg);
    real *w = io->scratch + lattice_extra_len(io->cfg);
    slot_weights(S, m, d, q, w);
    hct_zero(y, d);
    for (uint32_t i = 0; i < m; i++) hct_axpy(y, w[i], S + (size_t)i * d, d);
}

/* MATH §3.7 per slot; under CMS (§6.1) the score g and the orthogonal step
 * delta - <s_at, delta> s_at come from the slot of `at`, and are added to
 * and renormalized on the slot of `in` (period 1: the same slot). */
static void lattice_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                          real *extra) {
    uint32_t d = io->d, m = slots(io->cfg);
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d;
    real beta = io->gates[(size_t)t * N_GATES + G_BETA];
    real *g = extra, *p = g + m, *n = p + m, *u = io->scratch + lattice_extra_len(io->cfg) + m;
    for (uint32_t i = 0; i < m; i++) {
        const real *sa = at + (size_t)i * d, *s = in + (size_t)i * d;
        g[i] = hct_sigmoid(hct_dot(sa, k, d));
        real a = beta * g[i]; /* delta = a v */
        p[i] = a * hct_dot(sa, v, d);
        for (uint32_t j = 0; j < d; j++) u[j] = s[j] + a * v[j] - p[i] * sa[j]; /* s + delta - <s_at, delta> s_at */
        n[i] = hct_retain_sphere(u, s, out + (size_t)i * d, d);
    }
    lattice_read(io, io->q + (size_t)t * d, out, y);
}

/* Backward of the read at S (MATH §3.7 BPTT): D += w_i dy + dr_i q (D may be
 * NULL), dq += sum dr_i S[i]. */
static void lattice_read_backward(const hct_rule_grad *gr, const real *q, const real *S, const real *dy, real *D,
                                  real *dq) {
    uint32_t d = gr->fwd->d, m = slots(gr->fwd->cfg);
    real *w = gr->work, *a = w + m, mean = 0;
    slot_weights(S, m, d, q, w);
    for (uint32_t i = 0; i < m; i++) {
        a[i] = hct_dot(dy, S + (size_t)i * d, d);
        mean += w[i] * a[i];
    }
    for (uint32_t i = 0; i < m; i++) {
        real dr = w[i] * (a[i] - mean);
        hct_axpy(dq, dr, S + (size_t)i * d, d);
        if (D) {
            hct_axpy(D + (size_t)i * d, w[i], dy, d);
            hct_axpy(D + (size_t)i * d, dr, q, d);
        }
    }
}

/* One token of MATH §3.7's BPTT: the read, then per slot the sphere and the
 * orthogonal step.  s_un = s_in + delta - p s_at: s_in's gradient is du,
 * and the terms through s_at (the score and the projection) go to dat. */
static void lattice_token_backward(const hct_rule_grad *gr, const hct_token_step *s) {
    uint32_t d = gr->fwd->d, m = slots(gr->fwd->cfg);
    hct_token_grad x = hct_token_slices(gr, s->t, N_GATES);
    const real *g = s->extra, *p = g + m, *n = p + m;
    real *dd = gr->work + 2 * (size_t)m, beta = x.gates[G_BETA], dbeta = 0;
    hct_zero(x.dq, d);
    if (s->dy) lattice_read_backward(gr, x.q, s->out, s->dy, s->ds, x.dq);
    hct_zero(x.dk, d);
    hct_zero(x.dv, d);
    for (uint32_t i = 0; i < m; i++) {
        if (n[i] <= HCT_SPHERE_FLOOR) continue; /* the slot was kept: its gradient passes through */
        const real *sa = s->at + (size_t)i * d;
        real *du = s->ds + (size_t)i * d, *da = s->dat + (size_t)i * d, ag = beta * g[i];
        hct_retain_sphere_backward(s->out + (size_t)i * d, n[i], du, du, d); /* in place: ds_i = du */
        real sdu = hct_dot(sa, du, d);
        for (uint32_t j = 0; j < d; j++) dd[j] = du[j] - sa[j] * sdu;
        real ddv = hct_dot(dd, x.v, d);
        dbeta += g[i] * ddv;
        real dscore = beta * ddv * g[i] * ((real)1 - g[i]);
        hct_axpy(x.dv, ag, dd, d);
        hct_axpy(x.dk, dscore, sa, d);
        if (da == du) /* at is in (period 1, a block start): fused, with no overlap check */
            for (uint32_t j = 0; j < d; j++) du[j] = ((real)1 - p[i]) * du[j] - sdu * ag * x.v[j] + dscore * x.k[j];
        else
            for (uint32_t j = 0; j < d; j++) da[j] += -p[i] * du[j] - sdu * ag * x.v[j] + dscore * x.k[j];
    }
    x.dgates[G_BETA] = dbeta;
}

const hct_rule hct_rule_lattice = {
    .id = 6,
    .name = "lattice",
    .n_gates = N_GATES,
    .gate_kind = {[G_BETA] = HCT_GATE_SIGMOID},
    .retention_default = HCT_RET_SPHERE,
    .retention_ok = HCT_RET_BIT(HCT_RET_SPHERE),
    .check_params = lattice_check,
    .state_len = lattice_state_len,
    .state_init = lattice_state_init,
    .scratch_len = lattice_scratch_len,
    .extra_len = lattice_extra_len,
    .token = lattice_token,
    .read = lattice_read,
    .work_len = lattice_work_len,
    .token_backward = lattice_token_backward,
    .read_backward = lattice_read_backward,
};

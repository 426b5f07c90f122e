/* rules/lattice.c — Lattice OSR (MATH §3.7): m unit-norm slots on the sphere.
 * Per slot a tangent (orthogonal) write of strength beta sigmoid(<s, k>) v,
 * then renormalization (sphere retention); read y = softmax(S q) S after the
 * write; exact BPTT.  State: S (m x d), rows unit norm.  Gate: beta (sigmoid,
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

/* per token: g (sigmoid of the slot score), p = <s, delta>, n = ||s_un|| (m each) */
static uint64_t extra_len(const hct_config *cfg) { return 3 * (uint64_t)slots(cfg); }

/* the extra, then w (m) and the tangent step u (d) */
static uint64_t lattice_scratch_len(const hct_config *cfg) { return extra_len(cfg) + slots(cfg) + cfg->d; }

static uint64_t lattice_tape_len(const hct_config *cfg, uint32_t T) {
    return hct_tape_len(lattice_state_len(cfg), extra_len(cfg), T);
}

/* D (m x d), w, a (m), ddelta, du (d) */
static uint64_t lattice_work_len(const hct_config *cfg) {
    return lattice_state_len(cfg) + 2 * (uint64_t)slots(cfg) + 2 * (uint64_t)cfg->d;
}

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

/* y = sum_i w_i S[i] with w = softmax(S q). */
static void slot_read(const real *S, uint32_t m, uint32_t d, const real *q, real *w, real *y) {
    slot_weights(S, m, d, q, w);
    hct_zero(y, d);
    for (uint32_t i = 0; i < m; i++) hct_axpy(y, w[i], S + (size_t)i * d, d);
}

static void lattice_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *extra) {
    uint32_t d = io->d, m = slots(io->cfg);
    const real *k = io->k + (size_t)t * d, *v = io->v + (size_t)t * d;
    real beta = io->gates[(size_t)t * N_GATES + G_BETA];
    real *g = extra, *p = g + m, *n = p + m, *w = io->scratch + extra_len(io->cfg), *u = w + m;
    for (uint32_t i = 0; i < m; i++) {
        const real *s = in + (size_t)i * d;
        g[i] = hct_sigmoid(hct_dot(s, k, d));
        real a = beta * g[i]; /* delta = a v */
        p[i] = a * hct_dot(s, v, d);
        for (uint32_t j = 0; j < d; j++) u[j] = s[j] + a * v[j] - p[i] * s[j]; /* s + delta - <s, delta> s */
        n[i] = hct_retain_sphere(u, s, out + (size_t)i * d, d);
    }
    slot_read(out, m, d, io->q + (size_t)t * d, w, y);
}

static void lattice_forward(const hct_rule_io *io) {
    uint32_t d = io->d, m = slots(io->cfg);
    if (io->frozen) {
        for (uint32_t t = 0; t < io->T; t++)
            slot_read(io->state_in, m, d, io->q + (size_t)t * d, io->scratch, io->y + (size_t)t * d);
        return;
    }
    hct_rule_loop(io, lattice_token, lattice_state_len(io->cfg), extra_len(io->cfg));
}

/* Backward of the read at S: D += w_i dy + dr_i q (D may be NULL), dq = sum dr_i S[i]. */
static void read_backward(const real *S, uint32_t m, uint32_t d, const real *q, const real *dy, real *w, real *a,
                          real *D, real *dq) {
    real mean = 0;
    slot_weights(S, m, d, q, w);
    for (uint32_t i = 0; i < m; i++) {
        a[i] = hct_dot(dy, S + (size_t)i * d, d);
        mean += w[i] * a[i];
    }
    hct_zero(dq, d);
    for (uint32_t i = 0; i < m; i++) {
        real dr = w[i] * (a[i] - mean);
        hct_axpy(dq, dr, S + (size_t)i * d, d);
        if (D) {
            hct_axpy(D + (size_t)i * d, w[i], dy, d);
            hct_axpy(D + (size_t)i * d, dr, q, d);
        }
    }
}

static void lattice_backward(const hct_rule_grad *gr) {
    const hct_rule_io *io = gr->fwd;
    const hct_config *cfg = io->cfg;
    uint32_t d = io->d, T = io->T, m = slots(cfg);
    uint64_t slen = lattice_state_len(cfg), elen = extra_len(cfg);
    real *D = gr->work, *w = D + (size_t)slen, *a = w + m, *dd = a + m, *du = dd + d;
    hct_zero(D, (size_t)slen);
    for (uint32_t tt = T; tt-- > 0;) {
        hct_token_grad x = hct_token_slices(gr, tt, N_GATES);
        if (io->frozen) {
            read_backward(io->state_in, m, d, x.q, x.dy, w, a, NULL, x.dq);
            hct_zero(x.dk, d);
            hct_zero(x.dv, d);
            x.dgates[G_BETA] = 0;
            continue;
        }
        const real *S0 = hct_tape_state(io, tt, slen), *S1 = hct_tape_state(io, tt + 1, slen);
        const real *ex = hct_tape_extra(io, tt, slen, elen), *g = ex, *p = g + m, *n = p + m;
        real beta = x.gates[G_BETA], dbeta = 0;
        read_backward(S1, m, d, x.q, x.dy, w, a, D, x.dq);
        hct_zero(x.dk, d);
        hct_zero(x.dv, d);
        for (uint32_t i = 0; i < m; i++) {
            if (!(n[i] > HCT_SPHERE_FLOOR)) continue; /* the slot was kept: D passes through */
            const real *s = S0 + (size_t)i * d, *s1 = S1 + (size_t)i * d;
            real *Di = D + (size_t)i * d, ag = beta * g[i];
            hct_retain_sphere_backward(s1, n[i], Di, du, d); /* s1 = s_un / n */
            /* s_un = s + delta - <s, delta> s with delta = ag v */
            real sdu = hct_dot(s, du, d);
            for (uint32_t j = 0; j < d; j++) dd[j] = du[j] - s[j] * sdu;
            real ddv = hct_dot(dd, x.v, d);
            dbeta += g[i] * ddv;
            real dscore = beta * ddv * g[i] * ((real)1 - g[i]);
            hct_axpy(x.dv, ag, dd, d);
            hct_axpy(x.dk, dscore, s, d);
            for (uint32_t j = 0; j < d; j++) Di[j] = ((real)1 - p[i]) * du[j] - sdu * ag * x.v[j] + dscore * x.k[j];
        }
        x.dgates[G_BETA] = dbeta;
    }
}

const hct_rule hct_rule_lattice = {
    6, "lattice", N_GATES, {HCT_GATE_SIGMOID, 0, 0, 0}, HCT_RET_SPHERE, HCT_RET_BIT(HCT_RET_SPHERE),
    lattice_check, lattice_state_len, lattice_state_init, lattice_scratch_len,
    lattice_forward, lattice_tape_len, lattice_work_len, lattice_backward, NULL,
    0, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL,
};

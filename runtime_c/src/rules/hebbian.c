/* rules/hebbian.c — the Hebbian rule: S <- (1-alpha) S + k^T v (no error
 * term, no step size), read y = q S after the write; exact BPTT (MATH §3.4).
 * State: S (d, d) row-major, initial 0.  One gate: alpha (sigmoid).  The
 * write does not depend on the state, so a CMS block-start state (MATH §6.1)
 * changes nothing in it. */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, N_GATES = 1 };

/* the backward needs nothing from the forward but the states */
static uint64_t hebbian_extra_len(const hct_config *cfg) {
    (void)cfg;
    return 0;
}

static uint64_t hebbian_work_len(const hct_config *cfg) {
    (void)cfg;
    return 0;
}

/* The shared write with e = v and step -1: keep S[j] - (-k[j]) v = keep S[j] + k[j] v.
 * No inner gradient: the gradient point `at` is unused. */
static void hebbian_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                          real *extra) {
    uint32_t d = io->d;
    (void)at;
    (void)extra;
    hct_matrix_update_read(in, out, d, io->k + (size_t)t * d, io->v + (size_t)t * d, io->q + (size_t)t * d,
                           (real)1 - io->gates[(size_t)t * N_GATES + G_ALPHA], (real)-1, y);
    hct_matrix_retain(io, out, io->q + (size_t)t * d, 1, y); /* the write's step size is 1 */
}

/* One token of the reverse pass (MATH §3.4): dS += q^T dy; dq = S_{t+1} dy; (elastic net: the shrink's mask);
 * dalpha = -<dS, S_t>; dk[j] = <dS[j], v>; dv = k dS; dS <- (1 - alpha) dS.  Nothing reaches s->dat. */
static void hebbian_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d;
    const real *dy = s->dy;
    real *dS = s->ds;
    bool shrink = hct_shrink_lambda(io->cfg) != 0; /* its threshold is lambda_1 itself: no gate gradient */
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
    real keep = (real)1 - x.gates[G_ALPHA];
    real dalpha = 0;
    hct_zero(x.dv, d);
    for (uint32_t j = 0; j < d; j++) {
        real *ds = dS + (size_t)j * d;
        if (dy) {
            hct_axpy(ds, x.q[j], dy, d);
            x.dq[j] = hct_dot(s->out + (size_t)j * d, dy, d);
        }
        if (shrink) hct_retain_shrink_backward(s->out + (size_t)j * d, NULL, ds, d);
        dalpha -= hct_dot(ds, s->in + (size_t)j * d, d);
        x.dk[j] = hct_dot(ds, x.v, d);
        hct_axpy(x.dv, x.k[j], ds, d);
        for (uint32_t i = 0; i < d; i++) ds[i] *= keep;
    }
    if (!dy) hct_zero(x.dq, d);
    x.dgates[G_ALPHA] = dalpha;
}

const hct_rule hct_rule_hebbian = {
    .id = 2,
    .name = "hebbian",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = hct_rule_params_none,
    .state_len = hct_matrix_state_len,
    .state_init = hct_matrix_state_init,
    .scratch_len = hct_matrix_scratch_len,
    .extra_len = hebbian_extra_len,
    .token = hebbian_token,
    .read = hct_matrix_read,
    .work_len = hebbian_work_len,
    .token_backward = hebbian_token_backward,
    .read_backward = hct_matrix_read_backward,
};

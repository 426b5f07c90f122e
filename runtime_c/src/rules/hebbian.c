/* rules/hebbian.c — the Hebbian rule: S <- (1-alpha) S + k^T v (no error
 * term, no step size), read y = q S after the write; exact BPTT (MATH §3.4).
 * State: S (d, d) row-major, initial 0.  One gate: alpha (sigmoid). */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, N_GATES = 1 };

static uint64_t hebbian_work_len(const hct_config *cfg) { return (uint64_t)cfg->d * cfg->d; }

/* The shared write with e = v and step -1: keep S[j] - (-k[j]) v = keep S[j] + k[j] v. */
static void hebbian_token(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y, real *e) {
    uint32_t d = io->d;
    (void)e;
    hct_matrix_update_read(in, out, d, io->k + (size_t)t * d, io->v + (size_t)t * d, io->q + (size_t)t * d,
                           (real)1 - io->gates[(size_t)t * N_GATES + G_ALPHA], (real)-1, y);
    hct_matrix_retain(io, out, io->q + (size_t)t * d, 1, y); /* the write's step size is 1 */
}

static void hebbian_forward(const hct_rule_io *io) { hct_matrix_forward(io, hebbian_token, 1); }

/* Reverse pass (MATH §3.4): dS += q^T dy; dq = S_{t+1} dy; (elastic net: the shrink's mask); dalpha = -<dS, S_t>;
 * dk[j] = <dS[j], v>; dv = k dS; dS <- (1 - alpha) dS. */
static void hebbian_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, T = io->T;
    size_t dd = (size_t)d * d;
    real *dS = g->work;
    bool shrink = hct_shrink_lambda(io->cfg) != 0; /* its threshold is lambda_1 itself: no gate gradient */
    hct_zero(dS, dd);
    for (uint32_t tt = T; tt-- > 0;) {
        if (io->frozen) {
            hct_matrix_frozen_backward(g, tt, N_GATES);
            continue;
        }
        hct_token_grad x = hct_token_slices(g, tt, N_GATES);
        const real *S0 = hct_matrix_tape_state(io, tt, 1), *S1 = S0 + dd;
        real keep = (real)1 - x.gates[G_ALPHA];
        real dalpha = 0;
        hct_zero(x.dv, d);
        for (uint32_t j = 0; j < d; j++) {
            real *ds = dS + (size_t)j * d;
            hct_axpy(ds, x.q[j], x.dy, d);
            x.dq[j] = hct_dot(S1 + (size_t)j * d, x.dy, d);
            if (shrink) hct_retain_shrink_backward(S1 + (size_t)j * d, NULL, ds, d);
            dalpha -= hct_dot(ds, S0 + (size_t)j * d, d);
            x.dk[j] = hct_dot(ds, x.v, d);
            hct_axpy(x.dv, x.k[j], ds, d);
            for (uint32_t i = 0; i < d; i++) ds[i] *= keep;
        }
        x.dgates[G_ALPHA] = dalpha;
    }
}

const hct_rule hct_rule_hebbian = {
    2, "hebbian", N_GATES, {HCT_GATE_SIGMOID, 0, 0, 0}, HCT_RET_L2, HCT_MATRIX_RETENTIONS,
    hct_rule_params_none, hct_matrix_state_len, hct_matrix_state_init, hct_matrix_scratch_len,
    hebbian_forward, hct_matrix_tape_len, hebbian_work_len, hebbian_backward, NULL,
    0, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL,
};

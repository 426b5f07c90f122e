/* rules/delta.c — the delta rule (MATH §3.2): S <- (1-alpha) S - theta k^T (k S - v),
 * read y = q S after the write; exact BPTT through the recurrence (MATH §7).
 * State: S (d, d) row-major, initial 0.  Gates: alpha (sigmoid), theta (softplus).
 * Every pass streams rows of S, so the loops vectorize without reductions. */
#include "rule.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2 };

static uint64_t delta_state_len(uint32_t d) { return (uint64_t)d * d; }

static void delta_state_init(real *state, uint32_t d) { hct_zero(state, (size_t)d * d); }

static hecate_status delta_check_params(const hct_config *cfg) {
    for (int i = 0; i < 8; i++)
        if (cfg->rule_params[i] != 0.0f) return HECATE_E_FILE_CONFIG;
    return HECATE_OK;
}

/* Tape: S_0 .. S_T ((T+1) d^2), then e_t (T d). */
static uint64_t delta_tape_len(uint32_t d, uint32_t T) {
    return ((uint64_t)T + 1) * d * d + (uint64_t)T * d;
}

static uint64_t delta_work_len(uint32_t d) { return (uint64_t)d * d + 2 * (uint64_t)d; }

/* Columns o0 .. o0+nb of the fused write and read of one token:
 * out[j] = keep in[j] - (theta k[j]) e, then y += q[j] out[j], rows j in order
 * (in and out may be the same state).  Full blocks on lane vectors, the tail
 * column by column, same operations. */
static void update_read_cols(const real *in, real *out, uint32_t d, const real *k, const real *e,
                             const real *q, real keep, real theta, uint32_t o0, uint32_t nb, real *y) {
    if (nb == LIN_BLOCK) {
        hct_vec acc[LIN_VECS], ev[LIN_VECS], kv = HCT_VSPLAT(keep);
        for (uint32_t v = 0; v < LIN_VECS; v++) {
            acc[v] = HCT_VSPLAT((real)0);
            ev[v] = HCT_VLOAD(e + o0 + v * HCT_LANES);
        }
        for (uint32_t j = 0; j < d; j++) {
            const real *src = in + (size_t)j * d + o0;
            real *dst = out + (size_t)j * d + o0;
            real cj = theta * k[j];
            hct_vec c = HCT_VSPLAT(cj), qj = HCT_VSPLAT(q[j]);
            for (uint32_t v = 0; v < LIN_VECS; v++) {
                hct_vec r = HCT_VSUB(HCT_VMUL(kv, HCT_VLOAD(src + v * HCT_LANES)), HCT_VMUL(c, ev[v]));
                HCT_VSTORE(dst + v * HCT_LANES, r);
                acc[v] = HCT_VADD(acc[v], HCT_VMUL(qj, r));
            }
        }
        for (uint32_t v = 0; v < LIN_VECS; v++) HCT_VSTORE(y + o0 + v * HCT_LANES, acc[v]);
        return;
    }
    for (uint32_t o = o0; o < o0 + nb; o++) {
        real acc = 0;
        for (uint32_t j = 0; j < d; j++) {
            size_t at = (size_t)j * d + o;
            out[at] = keep * in[at] - (theta * k[j]) * e[o];
            acc += q[j] * out[at];
        }
        y[o] = acc;
    }
}

/* One token from state `in` to state `out`: e = k S - v (a row-streaming
 * linear map), then the fused update and read. */
static void delta_token(const real *in, real *out, uint32_t d, const real *k, const real *v,
                        const real *q, real alpha, real theta, real *y, real *e) {
    hct_linear(in, k, 1, d, d, e);
    for (uint32_t i = 0; i < d; i++) e[i] -= v[i];
    real keep = (real)1 - alpha;
    for (uint32_t o0 = 0; o0 < d; o0 += LIN_BLOCK)
        update_read_cols(in, out, d, k, e, q, keep, theta, o0, d - o0 < LIN_BLOCK ? d - o0 : LIN_BLOCK, y);
}

/* Inference writes token by token into io->state; training writes S_{t+1}
 * straight into the tape (S_0 is a copy of the incoming state), then copies
 * the last one out. */
static void delta_forward(const hct_rule_io *io) {
    uint32_t d = io->d;
    size_t dd = (size_t)d * d;
    if (io->frozen) {
        hct_linear(io->state_in, io->q, io->T, d, d, io->y);
        return;
    }
    const real *src = io->state_in;
    if (io->tape) hct_copy(io->tape, io->state_in, dd);
    for (uint32_t t = 0; t < io->T; t++) {
        real *dst = io->tape ? io->tape + (size_t)(t + 1) * dd : io->state;
        real *e = io->tape ? io->tape + (size_t)(io->T + 1) * dd + (size_t)t * d : io->scratch;
        const real *g = io->gates + (size_t)t * N_GATES;
        delta_token(src, dst, d, io->k + (size_t)t * d, io->v + (size_t)t * d, io->q + (size_t)t * d,
                    g[G_ALPHA], g[G_THETA], io->y + (size_t)t * d, e);
        src = dst;
    }
    if (io->tape) hct_copy(io->state, src, dd);
}

/* Reverse pass of MATH §7 (delta rule BPTT), row by row of S. */
static void delta_backward(const hct_rule_grad *g) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d, T = io->T;
    size_t dd = (size_t)d * d;
    real *dS = g->work, *u = g->work + dd, *de = u + d;
    hct_zero(dS, dd);
    for (uint32_t tt = T; tt-- > 0;) {
        const real *k = io->k + (size_t)tt * d, *q = io->q + (size_t)tt * d;
        const real *dy = g->dy + (size_t)tt * d;
        const real *gt = io->gates + (size_t)tt * N_GATES;
        real *dk = g->dk + (size_t)tt * d, *dv = g->dv + (size_t)tt * d, *dq = g->dq + (size_t)tt * d;
        real *dgt = g->dgates + (size_t)tt * N_GATES;
        if (io->frozen) { /* y = q S with the constant incoming S: dq = S dy */
            for (uint32_t j = 0; j < d; j++) dq[j] = hct_dot(io->state_in + (size_t)j * d, dy, d);
            hct_zero(dk, d);
            hct_zero(dv, d);
            dgt[G_ALPHA] = dgt[G_THETA] = 0;
            continue;
        }
        const real *S0 = io->tape + (size_t)tt * dd, *S1 = S0 + dd;
        const real *e = io->tape + (size_t)(T + 1) * dd + (size_t)tt * d;
        real alpha = gt[G_ALPHA], theta = gt[G_THETA];
        /* dS += q^T dy ; dq = S_{t+1} dy ; u = k dS ; dalpha = -<dS, S_t> */
        real dalpha = 0;
        hct_zero(u, d);
        for (uint32_t j = 0; j < d; j++) {
            real *ds = dS + (size_t)j * d;
            hct_axpy(ds, q[j], dy, d);
            dq[j] = hct_dot(S1 + (size_t)j * d, dy, d);
            hct_axpy(u, k[j], ds, d);
            dalpha -= hct_dot(ds, S0 + (size_t)j * d, d);
        }
        real dtheta = -hct_dot(u, e, d);
        for (uint32_t i = 0; i < d; i++) {
            de[i] = -theta * u[i];
            dv[i] = -de[i];
        }
        dgt[G_ALPHA] = dalpha;
        dgt[G_THETA] = dtheta;
        /* dk = -theta dS e + S_t de ; then dS <- (1 - alpha) dS + k^T de */
        real keep = (real)1 - alpha;
        for (uint32_t j = 0; j < d; j++) {
            real *ds = dS + (size_t)j * d;
            dk[j] = -theta * hct_dot(ds, e, d) + hct_dot(S0 + (size_t)j * d, de, d);
            for (uint32_t i = 0; i < d; i++) ds[i] = keep * ds[i] + k[j] * de[i];
        }
    }
}


const hct_rule hct_rule_delta = {
    0, "delta", N_GATES, {HCT_GATE_SIGMOID, HCT_GATE_SOFTPLUS, 0, 0},
    delta_state_len, delta_state_init, delta_check_params,
    delta_forward, delta_tape_len, delta_work_len, delta_backward,
};

/* rules/delta.c — the delta rule (MATH §3.2): S <- (1-alpha) S - theta k^T (k S - v),
 * read y = q S after the write; exact BPTT through the recurrence (MATH §7).
 * State: S (d, d) row-major, initial 0.  Gates: alpha (sigmoid), theta (softplus).
 * Every pass streams rows of S, so the loops vectorize without reductions. */
#include "matrix.h"
#include "../mathfn.h"

enum { G_ALPHA = 0, G_THETA = 1, N_GATES = 2 };

/* per-token backward: u, de (d each); tokens_backward: a second u */
static uint64_t delta_work_len(const hct_config *cfg) { return 3 * (uint64_t)cfg->d; }

/* e -= v_t: what turns k_t S into token t's error. */
static void subtract_v(const hct_rule_io *io, uint32_t t, real *e) {
    const real *v = io->v + (size_t)t * io->d;
    for (uint32_t i = 0; i < io->d; i++) e[i] -= v[i];
}

/* One token: e = k S_at - v (a row-streaming linear map; S_at is S itself
 * except inside a CMS block), then the fused update of S and read. */
static void delta_token(const hct_rule_io *io, uint32_t t, const real *at, const real *in, real *out, real *y,
                        real *e) {
    uint32_t d = io->d;
    const real *k = io->k + (size_t)t * d, *g = io->gates + (size_t)t * N_GATES;
    hct_linear(at, k, 1, d, d, e);
    subtract_v(io, t, e);
    hct_matrix_update_read(in, out, d, k, e, io->q + (size_t)t * d, (real)1 - g[G_ALPHA], g[G_THETA], y);
    hct_matrix_retain(io, out, io->q + (size_t)t * d, g[G_THETA], y);
}

/* tokens_forward (rule.h): token by token as delta_token, each token's error
 * e = k S - v for the token after it taken in the same pass that writes the
 * state it reads (hct_matrix_update_read_next: the same sums in the same
 * order): two d x d streams a token instead of three.  Not with the elastic
 * net, whose shrink comes after the write. */
static bool delta_tokens_forward(const hct_rule_io *io, uint32_t t0, uint32_t t1) {
    if (hct_shrink_lambda(io->cfg) != 0) return false;
    if (t0 == t1) return true;
    uint32_t d = io->d;
    hct_plain_token p = hct_plain_token_at(io, t0);
    hct_linear(p.in, io->k + (size_t)t0 * d, 1, d, d, p.extra);
    subtract_v(io, t0, p.extra);
    for (uint32_t t = t0; t < t1; t++) {
        const real *k = io->k + (size_t)t * d, *q = io->q + (size_t)t * d, *g = io->gates + (size_t)t * N_GATES;
        if (t + 1 == t1) {
            hct_matrix_update_read(p.in, p.out, d, k, p.extra, q, (real)1 - g[G_ALPHA], g[G_THETA], p.y);
            break;
        }
        hct_plain_token next = hct_plain_token_at(io, t + 1);
        hct_matrix_update_read_next(p.in, p.out, d, k, p.extra, q, (real)1 - g[G_ALPHA], g[G_THETA], p.y, k + d,
                                    next.extra);
        subtract_v(io, t + 1, next.extra);
        p = next;
    }
    return true;
}

#if HCT_VEC_IN_REGISTERS
/* The later token's second pass, run by rows_first_pass ahead of its own
 * work on each lane vector (D84): dS <- keep dS + k^T de as the rows are
 * read, and dk's dots <M_j, de> (rows_finish_keep's operations). */
typedef struct keep_pass {
    const hct_token_step *s;
    hct_token_grad *x;
    const real *de;
    real keep;
} keep_pass;

/* The first pass of MATH §7's delta BPTT over rows j and j+1 of dS at once,
 * one lane vector of columns at a time (D62): dS_j += q_j dy, then with
 * that row dq_j = <S_{t+1,j}, dy>, <dS_j, S_{t,j}> (for dalpha), <dS_j, e>
 * (into dk_j) and u += k_j dS_j.  Each dot is hct_dot's: its lane sums in
 * column order from 0, then hct_vsum; u gets row j's product, then row
 * j+1's, as rows in order.  So every value is the one of the row-by-row
 * calls, bit for bit; six independent add chains instead of one, and dy,
 * e and u loaded once for two rows.  With kp, token t+1's second pass
 * first, on the same rows (D84).  Whole lane vectors only (d a multiple of
 * HCT_LANES, so d is even).  Always inlined with constant has_dy and kp
 * (NULL or not). */
static inline __attribute__((always_inline)) void rows_first_pass(const hct_token_step *s, const hct_token_grad *x,
                                                                  uint32_t d, real *u, real *dalpha, int has_dy,
                                                                  const keep_pass *kp) {
    const real *dy = s->dy, *e = s->extra;
    const hct_vec zero = HCT_VSPLAT((real)0), kv = HCT_VSPLAT(kp ? kp->keep : (real)0);
    for (uint32_t j = 0; j < d; j += 2) {
        real *ds0 = s->ds + (size_t)j * d, *ds1 = ds0 + d;
        const real *o0 = s->out + (size_t)j * d, *o1 = o0 + d, *i0 = s->in + (size_t)j * d, *i1 = i0 + d;
        const real *m0 = kp ? kp->s->at + (size_t)j * d : NULL, *m1 = kp ? m0 + d : NULL;
        hct_vec q0 = HCT_VSPLAT(x->q[j]), q1 = HCT_VSPLAT(x->q[j + 1]);
        hct_vec k0 = HCT_VSPLAT(x->k[j]), k1 = HCT_VSPLAT(x->k[j + 1]);
        hct_vec kk0 = kp ? HCT_VSPLAT(kp->x->k[j]) : zero, kk1 = kp ? HCT_VSPLAT(kp->x->k[j + 1]) : zero;
        hct_vec aq0 = zero, aq1 = zero, aa0 = zero, aa1 = zero, ae0 = zero, ae1 = zero, am0 = zero, am1 = zero;
        for (uint32_t i = 0; i < d; i += HCT_LANES) {
            hct_vec r0, r1;
            if (kp) {
                hct_vec dev = HCT_VLOAD(kp->de + i);
                am0 = HCT_VMADD(am0, HCT_VLOAD(m0 + i), dev);
                am1 = HCT_VMADD(am1, HCT_VLOAD(m1 + i), dev);
                r0 = HCT_VADD(HCT_VMUL(kv, HCT_VLOAD(ds0 + i)), HCT_VMUL(kk0, dev));
                r1 = HCT_VADD(HCT_VMUL(kv, HCT_VLOAD(ds1 + i)), HCT_VMUL(kk1, dev));
            } else {
                r0 = HCT_VLOAD(ds0 + i), r1 = HCT_VLOAD(ds1 + i);
            }
            if (has_dy) {
                hct_vec y = HCT_VLOAD(dy + i);
                r0 = HCT_VMADD(r0, q0, y);
                r1 = HCT_VMADD(r1, q1, y);
                aq0 = HCT_VMADD(aq0, HCT_VLOAD(o0 + i), y);
                aq1 = HCT_VMADD(aq1, HCT_VLOAD(o1 + i), y);
            }
            if (has_dy || kp) {
                HCT_VSTORE(ds0 + i, r0);
                HCT_VSTORE(ds1 + i, r1);
            }
            aa0 = HCT_VMADD(aa0, r0, HCT_VLOAD(i0 + i));
            aa1 = HCT_VMADD(aa1, r1, HCT_VLOAD(i1 + i));
            hct_vec ev = HCT_VLOAD(e + i);
            ae0 = HCT_VMADD(ae0, r0, ev);
            ae1 = HCT_VMADD(ae1, r1, ev);
            HCT_VSTORE(u + i, HCT_VMADD(HCT_VMADD(HCT_VLOAD(u + i), k0, r0), k1, r1));
        }
        if (kp) {
            real theta = kp->x->gates[G_THETA];
            kp->x->dk[j] = -theta * kp->x->dk[j] + hct_vsum(am0);
            kp->x->dk[j + 1] = -theta * kp->x->dk[j + 1] + hct_vsum(am1);
        }
        if (has_dy) {
            x->dq[j] = hct_vsum(aq0);
            x->dq[j + 1] = hct_vsum(aq1);
        }
        *dalpha -= hct_vsum(aa0);
        *dalpha -= hct_vsum(aa1);
        x->dk[j] = hct_vsum(ae0);
        x->dk[j + 1] = hct_vsum(ae1);
    }
}

/* hct_matrix_error_step_finish and hct_matrix_keep_add with dat == ds in
 * one pass over rows j, j+1 (D62): dk_j = -theta dk_j + <M_j, de> (two
 * dot chains, hct_dot's order) and dS_j <- keep dS_j + k_j de, the same
 * operations per element as those two calls. */
static real rows_finish_keep(const hct_token_step *s, const hct_token_grad *x, uint32_t d, const real *u,
                             real *de, real keep) {
    real theta = x->gates[G_THETA];
    hct_matrix_error_de_dv(theta, u, d, de, x->dv);
    hct_vec kv = HCT_VSPLAT(keep);
    for (uint32_t j = 0; j < d; j += 2) {
        const real *m0 = s->at + (size_t)j * d, *m1 = m0 + d;
        real *ds0 = s->ds + (size_t)j * d, *ds1 = ds0 + d;
        hct_vec a0 = HCT_VSPLAT((real)0), a1 = a0, k0 = HCT_VSPLAT(x->k[j]), k1 = HCT_VSPLAT(x->k[j + 1]);
        for (uint32_t i = 0; i < d; i += HCT_LANES) {
            hct_vec dev = HCT_VLOAD(de + i);
            a0 = HCT_VMADD(a0, HCT_VLOAD(m0 + i), dev);
            a1 = HCT_VMADD(a1, HCT_VLOAD(m1 + i), dev);
            HCT_VSTORE(ds0 + i, HCT_VADD(HCT_VMUL(kv, HCT_VLOAD(ds0 + i)), HCT_VMUL(k0, dev)));
            HCT_VSTORE(ds1 + i, HCT_VADD(HCT_VMUL(kv, HCT_VLOAD(ds1 + i)), HCT_VMUL(k1, dev)));
        }
        x->dk[j] = -theta * x->dk[j] + hct_vsum(a0);
        x->dk[j + 1] = -theta * x->dk[j + 1] + hct_vsum(a1);
    }
    return -hct_dot(u, s->extra, d);
}

/* tokens_backward (rule.h): delta_token_backward's two-pass path token by
 * token, each token's second pass fused with the first pass of the token
 * before it (rows_first_pass with a keep_pass): four d x d streams a token
 * instead of seven.  The same bits as delta_token_backward's calls in turn. */
static bool delta_tokens_backward(const hct_rule_grad *g, real *ds, uint32_t t0, uint32_t t1) {
    uint32_t d = g->fwd->d;
    if (d % HCT_LANES != 0 || hct_shrink_lambda(g->fwd->cfg) != 0 || t1 <= t0) return false;
    real *u = g->work, *up = u + d, *de = up + d, dalpha = 0;
    hct_token_step s = hct_plain_step(g, ds, t1 - 1);
    hct_token_grad x = hct_token_slices(g, t1 - 1, N_GATES);
    hct_zero(u, d);
    rows_first_pass(&s, &x, d, u, &dalpha, 1, NULL);
    x.dgates[G_ALPHA] = dalpha;
    for (uint32_t t = t1 - 1; t > t0; t--) {
        hct_token_step p = hct_plain_step(g, ds, t - 1);
        hct_token_grad xp = hct_token_slices(g, t - 1, N_GATES);
        real dalpha_p = 0;
        hct_matrix_error_de_dv(x.gates[G_THETA], u, d, de, x.dv);
        hct_zero(up, d);
        keep_pass kp = {&s, &x, de, (real)1 - x.gates[G_ALPHA]};
        rows_first_pass(&p, &xp, d, up, &dalpha_p, 1, &kp);
        x.dgates[G_THETA] = (real)0 + -hct_dot(u, s.extra, d); /* as delta_token_backward: 0 + r */
        xp.dgates[G_ALPHA] = dalpha_p;
        real *swap = u;
        u = up, up = swap, s = p, x = xp;
    }
    x.dgates[G_THETA] = (real)0 + rows_finish_keep(&s, &x, d, u, de, (real)1 - x.gates[G_ALPHA]);
    return true;
}
#endif

/* One token of MATH §7 (delta rule BPTT), row by row of S: one pass for
 * everything row j of dS gives once it is final, one for what needs u. */
static void delta_token_backward(const hct_rule_grad *g, const hct_token_step *s) {
    const hct_rule_io *io = g->fwd;
    uint32_t d = io->d;
    real *dS = s->ds, *u = g->work, *de = u + d, lambda = hct_shrink_lambda(io->cfg);
    hct_token_grad x = hct_token_slices(g, s->t, N_GATES);
#if HCT_VEC_IN_REGISTERS
    if (d % HCT_LANES == 0 && lambda == 0 && s->dat == dS) { /* the same values in two passes (D62) */
        real dalpha = 0;
        hct_zero(u, d);
        if (s->dy) rows_first_pass(s, &x, d, u, &dalpha, 1, NULL);
        else {
            rows_first_pass(s, &x, d, u, &dalpha, 0, NULL);
            hct_zero(x.dq, d);
        }
        x.dgates[G_ALPHA] = dalpha;
        /* 0 + r as the general path's lambda dthr + r: a -0 from the finish becomes +0 there too */
        x.dgates[G_THETA] = lambda * (real)0 + rows_finish_keep(s, &x, d, u, de, (real)1 - x.gates[G_ALPHA]);
        return;
    }
#endif
    /* dS += q^T dy ; dq = S_{t+1} dy ; (elastic net: through the shrink) ; dalpha = -<dS, S_t> ;
     * u = k dS and dS e (into dk) for the error step */
    real dalpha = 0, dthr = 0;
    hct_zero(u, d);
    for (uint32_t j = 0; j < d; j++) {
        real *ds = dS + (size_t)j * d;
        if (s->dy) {
            hct_axpy(ds, x.q[j], s->dy, d);
            x.dq[j] = hct_dot(s->out + (size_t)j * d, s->dy, d);
        }
        if (lambda != 0) dthr += hct_retain_shrink_backward(s->out + (size_t)j * d, NULL, ds, d);
        dalpha -= hct_dot(ds, s->in + (size_t)j * d, d);
        x.dk[j] = hct_matrix_error_row(ds, x.k[j], s->extra, u, d);
    }
    if (!s->dy) hct_zero(x.dq, d);
    x.dgates[G_ALPHA] = dalpha;
    x.dgates[G_THETA] = lambda * dthr + hct_matrix_error_step_finish(s->at, s->extra, x.gates[G_THETA], d, u, de,
                                                                     x.dk, x.dv);
    /* dS <- (1 - alpha) dS ; dS_at += k^T de */
    hct_matrix_keep_add(dS, s->dat, (real)1 - x.gates[G_ALPHA], x.k, de, d);
}

const hct_rule hct_rule_delta = {
    .id = 0,
    .name = "delta",
    .n_gates = N_GATES,
    .gate_kind = {[G_ALPHA] = HCT_GATE_SIGMOID, [G_THETA] = HCT_GATE_SOFTPLUS},
    .retention_default = HCT_RET_L2,
    .retention_ok = HCT_MATRIX_RETENTIONS,
    .check_params = hct_rule_params_none,
    .state_len = hct_matrix_state_len,
    .state_init = hct_matrix_state_init,
    .scratch_len = hct_matrix_scratch_len,
    .extra_len = hct_matrix_extra_len,
    .token = delta_token,
    .read = hct_matrix_read,
    .work_len = delta_work_len,
    .token_backward = delta_token_backward,
    .read_backward = hct_matrix_read_backward,
#if HCT_VEC_IN_REGISTERS
    .tokens_backward = delta_tokens_backward,
#endif
    .tokens_forward = delta_tokens_forward,
};

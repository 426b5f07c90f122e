/* swa.c — causal sliding-window attention over a streaming window cache
 * (MATH §2), with or without rotary positions in their relative form, and
 * its backward for training chunks (MATH §7).  Where lane vectors live in
 * SIMD registers a lane vector of window entries is scored at once and the
 * values of all heads are summed in one pass, every sum in hct_dot's and
 * hct_axpy's order (DECISIONS D60); elsewhere entry by entry. */
#include "block.h"
#include "mathfn.h"
#include "compose/compose.h"

size_t hct_ring_len(const hecate_model *m) {
    return (size_t)m->cfg.window * m->composition->window_entries * m->cfg.d;
}

/* Point b->rows at the key rows (first m) then the value rows (next m) of
 * window g's entries in softmax order (position j0 + i, entry e at i E + e):
 * the window cache for positions before the block (slot j mod w holds the
 * position's entries in order), the block's own arrays L->k[e], L->v[e]
 * after.  Once per token, not per head. */
typedef struct window { uint32_t d, H, hd, w, n, E; uint64_t j0; real scale; } window;

static void gather_rows(const hecate_session *s, const hct_block *b, const window *g) {
    const real **keys = b->rows, **values = b->rows + (size_t)g->n * g->E;
    size_t i = 0;
    for (uint64_t j = g->j0; j < g->j0 + g->n; j++)
        for (uint32_t e = 0; e < g->E; e++, i++) {
            if (j >= b->p0) {
                size_t r = (size_t)(j - b->p0) * g->d;
                keys[i] = b->L->k[e] + r;
                values[i] = b->L->v[e] + r;
            } else {
                size_t r = ((size_t)(j % g->w) * g->E + e) * g->d;
                keys[i] = s->ring_k[b->layer] + r;
                values[i] = s->ring_v[b->layer] + r;
            }
        }
}

/* Geometry of token t's attention: its window [j0, j0 + n) of global
 * positions with E entries each, head width and score scale 1/sqrt(h) (MATH §2). */
static window window_of(const hecate_session *s, const hct_block *b, uint32_t t) {
    const hct_config *c = &s->model->cfg;
    window g;
    uint64_t pos = b->p0 + t;
    g.d = c->d;
    g.H = c->n_heads;
    g.hd = c->d / c->n_heads;
    g.w = c->window;
    g.E = s->model->composition->window_entries;
    g.j0 = pos + 1 > g.w ? pos + 1 - g.w : 0;
    g.n = (uint32_t)(pos - g.j0 + 1);
    g.scale = (real)1 / hct_sqrt((real)g.hd);
    return g;
}

/* Rotary positions (MATH §2): the score of a key o tokens back is
 * <R(o) q, k>, R(o) turning pair (2i, 2i+1) by o theta_i.  The table row of
 * offset o holds C, cos per entry (each pair's twice), then S, the signed sin
 * (-sin, +sin per pair), so R(o) x = C x + S swap(x) entry by entry, swap
 * exchanging the entries of each pair: contiguous loops the compiler vectorizes. */
static void swap_pairs(const real *x, uint32_t hd, real *out) {
    for (uint32_t i = 0; i < hd; i += 2) {
        out[i] = x[i + 1];
        out[i + 1] = x[i];
    }
}

/* out = R(o) x, xs = swap(x). */
static void turn(const real *row, const real *x, const real *xs, uint32_t hd, real *out) {
    const real *C = row, *S = row + hd;
    for (uint32_t i = 0; i < hd; i++) out[i] = C[i] * x[i] + S[i] * xs[i];
}

/* out += R(o)^T x (the transpose turns back), xs = swap(x). */
static void turn_back_add(const real *row, const real *x, const real *xs, uint32_t hd, real *out) {
    const real *C = row, *S = row + hd;
    for (uint32_t i = 0; i < hd; i++) out[i] += C[i] * x[i] - S[i] * xs[i];
}

#if HCT_VTREE
/* Scores of head h (key columns from off) for entries i0 .. i0 + cnt - 1
 * (cnt <= HCT_LANES), one lane vector of them at once: per entry the
 * operations of turn and hct_dot in their order (its query vectors turned by
 * the entry's offset in registers, C q + S swap(q), MATH §2; the products
 * summed vector by vector from 0; the lanes by hct_vtree, hct_dot's tree),
 * then times the scale if scaled (the backward's dP dots are not).  hd is a
 * whole number nv of lane vectors.  A short last group copies its last
 * entry's sums into the unused lanes, which are dropped. */
__attribute__((always_inline)) static inline void
score_lanes_nv(const real *const *keys, uint32_t off, const real *q, const real *qs, const real *rope,
               const window *g, bool scaled, uint32_t i0, uint32_t cnt, uint32_t nv, real *sc) {
    uint32_t hd = g->hd, E = g->E, j = i0 / E, r = i0 % E; /* entry i0: offset j's r-th */
    hct_vec acc[HCT_LANES];
    for (uint32_t e = 0; e < HCT_LANES; e++) {
        if (e >= cnt) { /* past the window's end: a copy, dropped below */
            acc[e] = acc[cnt - 1];
            continue;
        }
        const real *k = keys[i0 + e] + off;
        hct_vec a = HCT_VSPLAT((real)0);
        if (rope) {
            const real *C = rope + (size_t)(g->n - 1 - j) * 2 * hd, *S = C + hd; /* n - 1 - j back */
            for (uint32_t c = 0; c < nv * HCT_LANES; c += HCT_LANES) {
                hct_vec qt = HCT_VADD(HCT_VMUL(HCT_VLOAD(C + c), HCT_VLOAD(q + c)),
                                      HCT_VMUL(HCT_VLOAD(S + c), HCT_VLOAD(qs + c)));
                a = HCT_VMADD(a, qt, HCT_VLOAD(k + c));
            }
        } else {
            for (uint32_t c = 0; c < nv * HCT_LANES; c += HCT_LANES)
                a = HCT_VMADD(a, HCT_VLOAD(q + c), HCT_VLOAD(k + c));
        }
        acc[e] = a;
        if (++r == E) r = 0, j++;
    }
    hct_vtree(acc);
    if (scaled) acc[0] = HCT_VMUL(HCT_VSPLAT(g->scale), acc[0]);
    if (cnt == HCT_LANES) {
        HCT_VSTORE(sc + i0, acc[0]);
    } else {
        real lane[HCT_VEC_BYTES / sizeof(real)];
        HCT_VSTORE(lane, acc[0]);
        for (uint32_t e = 0; e < cnt; e++) sc[i0 + e] = lane[e];
    }
}

/* score_lanes_nv with the common widths as constants (its loops unrolled) */
static void score_lanes(const real *const *keys, uint32_t off, const real *q, const real *qs, const real *rope,
                        const window *g, bool scaled, uint32_t i0, uint32_t cnt, real *sc) {
    uint32_t nv = g->hd / HCT_LANES;
    if (nv == 1) score_lanes_nv(keys, off, q, qs, rope, g, scaled, i0, cnt, 1, sc);
    else if (nv == 2) score_lanes_nv(keys, off, q, qs, rope, g, scaled, i0, cnt, 2, sc);
    else if (nv == 4) score_lanes_nv(keys, off, q, qs, rope, g, scaled, i0, cnt, 4, sc);
    else score_lanes_nv(keys, off, q, qs, rope, g, scaled, i0, cnt, nv, sc);
}
#endif

/* Scores sc[i] of head h for every entry of the window (before the softmax). */
static void scores(const hecate_session *s, const hct_block *b, const window *g, const real *qh, uint32_t h,
                   real *sc) {
    const real *const *keys = b->rows;
    uint32_t hd = g->hd, m = g->n * g->E;
    real *qt = b->turned, *qs = s->rope ? b->turned + hd : NULL;
    if (s->rope) swap_pairs(qh, hd, qs);
#if HCT_VTREE
    if (hd % HCT_LANES == 0) {
        for (uint32_t i0 = 0; i0 < m; i0 += HCT_LANES)
            score_lanes(keys, h * hd, qh, qs, s->rope, g, true, i0, m - i0 < HCT_LANES ? m - i0 : HCT_LANES, sc);
        return;
    }
#endif
    if (!s->rope) {
        for (uint32_t i = 0; i < m; i++) sc[i] = g->scale * hct_dot(qh, keys[i] + h * hd, hd);
        return;
    }
    for (uint32_t j = 0; j < g->n; j++) { /* position j0 + j is n - 1 - j tokens back */
        turn(s->rope + (size_t)(g->n - 1 - j) * 2 * hd, qh, qs, hd, qt);
        for (uint32_t i = j * g->E; i < (j + 1) * g->E; i++) sc[i] = g->scale * hct_dot(qt, keys[i] + h * hd, hd);
    }
}

#if HCT_VEC_IN_REGISTERS
/* a[c0 ..) over NV lane vectors of columns, all heads at once: lane vectors
 * of the sum kept in registers and NV independent chains of adds. */
static inline void weighted_vecs(const real *const *values, const real *const *ph, uint32_t m, uint32_t c0,
                                 uint32_t NV, real *a) {
    hct_vec acc[8];
    for (uint32_t v = 0; v < NV; v++) acc[v] = HCT_VSPLAT((real)0);
    for (uint32_t i = 0; i < m; i++) {
        const real *x = values[i] + c0;
        for (uint32_t v = 0; v < NV; v++)
            acc[v] = HCT_VMADD(acc[v], HCT_VSPLAT(ph[v][i]), HCT_VLOAD(x + v * HCT_LANES));
    }
    for (uint32_t v = 0; v < NV; v++) HCT_VSTORE(a + c0 + v * HCT_LANES, acc[v]);
}
#endif

/* a^j = sum over the window's entries i, in order, of p^j_i v_i^j for every
 * head j (MATH §2), from 0: per output the adds of hct_axpy entry by entry.
 * p holds head j's probabilities at p + j stride. */
static void weighted_sum(const real *const *values, const real *p, size_t stride, const window *g, real *a) {
    uint32_t d = g->d, hd = g->hd, m = g->n * g->E;
#if HCT_VEC_IN_REGISTERS
    if (hd % HCT_LANES == 0) {
        for (uint32_t c0 = 0; c0 < d;) {
            uint32_t nv = (d - c0) / HCT_LANES >= 8 ? 8 : (d - c0) / HCT_LANES >= 4 ? 4 : 1;
            const real *ph[8];
            for (uint32_t v = 0; v < nv; v++) ph[v] = p + (c0 + v * HCT_LANES) / hd * stride;
            if (nv == 8) weighted_vecs(values, ph, m, c0, 8, a);
            else if (nv == 4) weighted_vecs(values, ph, m, c0, 4, a);
            else weighted_vecs(values, ph, m, c0, 1, a);
            c0 += nv * HCT_LANES;
        }
        return;
    }
#endif
    hct_zero(a, d);
    for (uint32_t h = 0; h < g->H; h++)
        for (uint32_t i = 0; i < m; i++) hct_axpy(a + h * hd, p[h * stride + i], values[i] + h * hd, hd);
}

/* MATH §2 for token t: every head's scores, softmax (the probabilities kept
 * in L->probs for training, else in b->scores, (H, w E) either way), then
 * the weighted sum of the values of all heads in one pass. */
void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    gather_rows(s, b, &g);
    uint32_t d = g.d, H = g.H, hd = g.hd, m = g.n * g.E;
    size_t stride = (size_t)g.w * g.E;
    const real *q = b->L->q + (size_t)t * d;
    real *probs = b->L->probs ? b->L->probs + (size_t)t * H * stride : b->scores;
    for (uint32_t h = 0; h < H; h++) {
        real *sc = probs + h * stride;
        real mx = -HCT_REAL_MAX;
        scores(s, b, &g, q + h * hd, h, sc);
        for (uint32_t i = 0; i < m; i++)
            if (sc[i] > mx) mx = sc[i];
        real sum = 0;
        hct_exp_shifted(sc, mx, m);
        for (uint32_t i = 0; i < m; i++) sum += sc[i];
        real inv = (real)1 / sum;
        for (uint32_t i = 0; i < m; i++) sc[i] *= inv;
    }
    weighted_sum(b->rows + m, probs, stride, &g, b->L->a + (size_t)t * d);
}

#if HCT_VTREE
/* Head h's gradients from dsc_i = dL/ds_i times the scale (MATH §7), one
 * lane vector of columns at a time (a rotary pair never straddles two):
 * dq^h, kept in registers, gets each offset's R(o)^T (sum of its entries'
 * dsc_i k_i) in offset order (or dsc_i k_i entry by entry without rotary
 * positions), and the block's own entries dk_i += dsc_i R(o) q, dv_i += p_i
 * da; per element the operations of the scalar path below, in its order. */
static void head_backward(const hecate_session *s, hct_block *b, const window *g, uint32_t t, uint32_t h,
                          const real *pr, const real *dsc, uint32_t own) {
    uint32_t d = g->d, hd = g->hd, E = g->E, off = h * hd;
    const real *const *keys = b->rows;
    const real *q = b->L->q + (size_t)t * d + off, *da = b->da + (size_t)t * d + off;
    real *dq = b->dq + (size_t)t * d + off;
    for (uint32_t c = 0; c < hd; c += HCT_LANES) {
        hct_vec qv = HCT_VLOAD(q + c), dav = HCT_VLOAD(da + c), dqv = HCT_VLOAD(dq + c), qs = qv;
        if (s->rope) qs = HCT_SWAP_PAIRS(qv);
        for (uint32_t j = 0; j < g->n; j++) { /* position j0 + j, n - 1 - j back, its E entries */
            hct_vec qt = qv, C = qv, S = qv, dqt = HCT_VSPLAT((real)0);
            if (s->rope) {
                const real *row = s->rope + (size_t)(g->n - 1 - j) * 2 * hd;
                C = HCT_VLOAD(row + c), S = HCT_VLOAD(row + hd + c);
                qt = HCT_VADD(HCT_VMUL(C, qv), HCT_VMUL(S, qs));
            }
            for (uint32_t i = j * E; i < (j + 1) * E; i++) {
                hct_vec dsv = HCT_VSPLAT(dsc[i]), kv = HCT_VLOAD(keys[i] + off + c);
                if (s->rope) dqt = HCT_VMADD(dqt, dsv, kv);
                else dqv = HCT_VMADD(dqv, dsv, kv);
                if (i >= own) {
                    size_t r = (size_t)(g->j0 + j - b->p0) * d + off + c;
                    real *dk = b->dk[i % E] + r, *dv = b->dv[i % E] + r;
                    HCT_VSTORE(dk, HCT_VMADD(HCT_VLOAD(dk), dsv, qt));
                    HCT_VSTORE(dv, HCT_VMADD(HCT_VLOAD(dv), HCT_VSPLAT(pr[i]), dav));
                }
            }
            if (s->rope) dqv = HCT_VADD(dqv, HCT_VSUB(HCT_VMUL(C, dqt), HCT_VMUL(S, HCT_SWAP_PAIRS(dqt))));
        }
        HCT_VSTORE(dq + c, dqv);
    }
}
#endif

void hct_swa_backward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    gather_rows(s, b, &g);
    uint32_t d = g.d, H = g.H, hd = g.hd, E = g.E, m = g.n * g.E;
    real scale = g.scale;
    const real *q = b->L->q + (size_t)t * d, *da = b->da + (size_t)t * d;
    const real *const *keys = b->rows, *const *values = b->rows + m;
    real *dq = b->dq + (size_t)t * d, *ds = b->scores;
    uint32_t own = (uint32_t)(b->p0 > g.j0 ? b->p0 - g.j0 : 0) * E; /* entries from here are the block's */
    for (uint32_t h = 0; h < H; h++) {
        const real *pr = b->L->probs + ((size_t)t * H + h) * g.w * E;
        real pdp = 0;
#if HCT_VTREE
        if (hd % HCT_LANES == 0) {
            for (uint32_t i0 = 0; i0 < m; i0 += HCT_LANES) /* dP, hct_dot's value */
                score_lanes(values, h * hd, da + h * hd, NULL, NULL, &g, false, i0,
                            m - i0 < HCT_LANES ? m - i0 : HCT_LANES, ds);
            for (uint32_t i = 0; i < m; i++) pdp += pr[i] * ds[i];
            for (uint32_t i = 0; i < m; i++) ds[i] = pr[i] * (ds[i] - pdp) * scale; /* as dsc below */
            head_backward(s, b, &g, t, h, pr, ds, own);
            continue;
        }
#endif
        for (uint32_t i = 0; i < m; i++) {
            ds[i] = hct_dot(da + h * hd, values[i] + h * hd, hd); /* dP */
            pdp += pr[i] * ds[i];
        }
        /* with rotary positions: R(o) q, swap(q), its gradient and the gradient's swap
         * (b->turned is NULL without them, and no offset may be added to NULL) */
        real *qt = b->turned, *qs = NULL, *dqt = NULL, *dqs = NULL;
        if (s->rope) {
            qs = qt + hd, dqt = qt + 2 * hd, dqs = qt + 3 * hd;
            swap_pairs(q + h * hd, hd, qs);
        }
        for (uint32_t j = 0; j < g.n; j++) { /* position j0 + j, its E entries */
            const real *row = s->rope ? s->rope + (size_t)(g.n - 1 - j) * 2 * hd : NULL; /* n - 1 - j back */
            if (row) {
                turn(row, q + h * hd, qs, hd, qt);
                hct_zero(dqt, hd);
            }
            for (uint32_t i = j * E; i < (j + 1) * E; i++) {
                real dsc = pr[i] * (ds[i] - pdp) * scale; /* softmax backward, times the score scale */
                hct_axpy(row ? dqt : dq + h * hd, dsc, keys[i] + h * hd, hd);
                if (i >= own) {
                    uint32_t e = i % E;
                    size_t r = (size_t)(g.j0 + i / E - b->p0) * d + h * hd;
                    hct_axpy(b->dk[e] + r, dsc, row ? qt : q + h * hd, hd);
                    hct_axpy(b->dv[e] + r, pr[i], da + h * hd, hd);
                }
            }
            if (row) {
                swap_pairs(dqt, hd, dqs);
                turn_back_add(row, dqt, dqs, hd, dq + h * hd);
            }
        }
    }
}

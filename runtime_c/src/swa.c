/* swa.c — causal sliding-window attention over a streaming window cache
 * (MATH §2), with or without rotary positions in their relative form, and
 * its backward for training chunks (MATH §7). */
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

/* Scores sc[i] of head h for every entry of the window (before the softmax). */
static void scores(const hecate_session *s, const hct_block *b, const window *g, const real *qh, uint32_t h,
                   real *sc) {
    const real *const *keys = b->rows;
    uint32_t hd = g->hd, m = g->n * g->E;
    if (!s->rope) {
        for (uint32_t i = 0; i < m; i++) sc[i] = g->scale * hct_dot(qh, keys[i] + h * hd, hd);
        return;
    }
    real *qt = b->turned, *qs = b->turned + hd;
    swap_pairs(qh, hd, qs);
    for (uint32_t j = 0; j < g->n; j++) { /* position j0 + j is n - 1 - j tokens back */
        turn(s->rope + (size_t)(g->n - 1 - j) * 2 * hd, qh, qs, hd, qt);
        for (uint32_t i = j * g->E; i < (j + 1) * g->E; i++) sc[i] = g->scale * hct_dot(qt, keys[i] + h * hd, hd);
    }
}

void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    gather_rows(s, b, &g);
    uint32_t d = g.d, H = g.H, hd = g.hd, m = g.n * g.E;
    const real *q = b->L->q + (size_t)t * d, *const *values = b->rows + m;
    real *a = b->L->a + (size_t)t * d;
    hct_zero(a, d);
    for (uint32_t h = 0; h < H; h++) {
        real *sc = b->L->probs ? b->L->probs + ((size_t)t * H + h) * g.w * g.E : b->scores;
        real mx = -HCT_REAL_MAX;
        scores(s, b, &g, q + h * hd, h, sc);
        for (uint32_t i = 0; i < m; i++)
            if (sc[i] > mx) mx = sc[i];
        real sum = 0;
        hct_exp_shifted(sc, mx, m);
        for (uint32_t i = 0; i < m; i++) sum += sc[i];
        real inv = (real)1 / sum;
        for (uint32_t i = 0; i < m; i++) {
            sc[i] *= inv;
            hct_axpy(a + h * hd, sc[i], values[i] + h * hd, hd);
        }
    }
}

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

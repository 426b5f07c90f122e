/* swa.c — causal sliding-window attention over a streaming window cache
 * (MATH §2) and its backward for training chunks (MATH §7). */
#include "block.h"
#include "mathfn.h"
#include "compose/compose.h"

size_t hct_ring_len(const hecate_model *m) {
    return (size_t)m->cfg.window * m->composition->window_entries * m->cfg.d;
}

/* Point b->rows at the key rows (first m) then the value rows (next m) of
 * window g's entries in softmax order (position j0 + i, entry e at i E + e):
 * the window cache for positions before the block (slot j mod w holds the
 * position's entries in order), the block's own arrays after (entry 0: k,
 * v; entry 1: MAC's kh, vh).  Once per token, not per head. */
typedef struct window { uint32_t d, H, hd, w, n, E; uint64_t j0; real scale; } window;

static void gather_rows(const hecate_session *s, const hct_block *b, const window *g) {
    const real **keys = b->rows, **values = b->rows + (size_t)g->n * g->E;
    size_t i = 0;
    for (uint64_t j = g->j0; j < g->j0 + g->n; j++)
        for (uint32_t e = 0; e < g->E; e++, i++) {
            if (j >= b->p0) {
                size_t r = (size_t)(j - b->p0) * g->d;
                keys[i] = (e ? b->L->kh : b->L->k) + r;
                values[i] = (e ? b->L->vh : b->L->v) + r;
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

void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    gather_rows(s, b, &g);
    uint32_t d = g.d, H = g.H, hd = g.hd, m = g.n * g.E;
    real scale = g.scale;
    const real *q = b->L->q + (size_t)t * d, *const *keys = b->rows, *const *values = b->rows + m;
    real *a = b->L->a + (size_t)t * d;
    hct_zero(a, d);
    for (uint32_t h = 0; h < H; h++) {
        real *sc = b->L->probs ? b->L->probs + ((size_t)t * H + h) * g.w * g.E : b->scores;
        real mx = -HCT_REAL_MAX;
        for (uint32_t i = 0; i < m; i++) {
            sc[i] = scale * hct_dot(q + h * hd, keys[i] + h * hd, hd);
            if (sc[i] > mx) mx = sc[i];
        }
        real sum = 0;
        for (uint32_t i = 0; i < m; i++) { sc[i] = hct_exp(sc[i] - mx); sum += sc[i]; }
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
        for (uint32_t i = 0; i < m; i++) {
            real dsc = pr[i] * (ds[i] - pdp) * scale; /* softmax backward, times the score scale */
            hct_axpy(dq + h * hd, dsc, keys[i] + h * hd, hd);
            if (i >= own) {
                uint32_t e = i % E;
                size_t r = (size_t)(g.j0 + i / E - b->p0) * d + h * hd;
                hct_axpy((e ? b->dkh : b->dk) + r, dsc, q + h * hd, hd);
                hct_axpy((e ? b->dvh : b->dv) + r, pr[i], da + h * hd, hd);
            }
        }
    }
}

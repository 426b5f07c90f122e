/* swa.c — causal sliding-window attention over a streaming window cache
 * (MATH §2) and its backward for training chunks (MATH §7). */
#include "block.h"
#include "mathfn.h"

/* Key and value row of global position j: the window cache for positions
 * before the block, the block's own arrays after. */
static const real *key_row(const hecate_session *s, const hct_block *b, uint64_t j, bool value) {
    uint32_t d = s->model->cfg.d, w = s->model->cfg.window;
    if (j >= b->p0) return (value ? b->L->v : b->L->k) + (size_t)(j - b->p0) * d;
    return (value ? s->ring_v[b->layer] : s->ring_k[b->layer]) + (size_t)(j % w) * d;
}

/* Geometry of token t's attention: its window [j0, j0 + n) of global
 * positions, head width and score scale 1/sqrt(h) (MATH §2). */
typedef struct window { uint32_t d, H, hd, w, n; uint64_t j0; real scale; } window;

static window window_of(const hecate_session *s, const hct_block *b, uint32_t t) {
    const hct_config *c = &s->model->cfg;
    window g;
    uint64_t pos = b->p0 + t;
    g.d = c->d;
    g.H = c->n_heads;
    g.hd = c->d / c->n_heads;
    g.w = c->window;
    g.j0 = pos + 1 > g.w ? pos + 1 - g.w : 0;
    g.n = (uint32_t)(pos - g.j0 + 1);
    g.scale = (real)1 / hct_sqrt((real)g.hd);
    return g;
}

void hct_swa_forward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    uint32_t d = g.d, H = g.H, hd = g.hd, w = g.w, n = g.n;
    uint64_t j0 = g.j0;
    real scale = g.scale;
    const real *q = b->L->q + (size_t)t * d;
    real *a = b->L->a + (size_t)t * d;
    hct_zero(a, d);
    for (uint32_t h = 0; h < H; h++) {
        real *sc = b->L->probs ? b->L->probs + ((size_t)t * H + h) * w : b->scores;
        real mx = -HCT_REAL_MAX;
        for (uint32_t i = 0; i < n; i++) {
            sc[i] = scale * hct_dot(q + h * hd, key_row(s, b, j0 + i, false) + h * hd, hd);
            if (sc[i] > mx) mx = sc[i];
        }
        real sum = 0;
        for (uint32_t i = 0; i < n; i++) { sc[i] = hct_exp(sc[i] - mx); sum += sc[i]; }
        real inv = (real)1 / sum;
        for (uint32_t i = 0; i < n; i++) {
            sc[i] *= inv;
            hct_axpy(a + h * hd, sc[i], key_row(s, b, j0 + i, true) + h * hd, hd);
        }
    }
}

void hct_swa_backward(const hecate_session *s, hct_block *b, uint32_t t) {
    window g = window_of(s, b, t);
    uint32_t d = g.d, H = g.H, hd = g.hd, w = g.w, n = g.n;
    uint64_t j0 = g.j0;
    real scale = g.scale;
    const real *q = b->L->q + (size_t)t * d, *da = b->da + (size_t)t * d;
    real *dq = b->dq + (size_t)t * d, *ds = b->scores;
    for (uint32_t h = 0; h < H; h++) {
        const real *pr = b->L->probs + ((size_t)t * H + h) * w;
        real pdp = 0;
        for (uint32_t i = 0; i < n; i++) {
            ds[i] = hct_dot(da + h * hd, key_row(s, b, j0 + i, true) + h * hd, hd); /* dP */
            pdp += pr[i] * ds[i];
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t j = j0 + i;
            real dsc = pr[i] * (ds[i] - pdp) * scale; /* softmax backward, times the score scale */
            hct_axpy(dq + h * hd, dsc, key_row(s, b, j, false) + h * hd, hd);
            if (j >= b->p0) {
                size_t r = (size_t)(j - b->p0) * d + h * hd;
                hct_axpy(b->dk + r, dsc, q + h * hd, hd);
                hct_axpy(b->dv + r, pr[i], da + h * hd, hd);
            }
        }
    }
}

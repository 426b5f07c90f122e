/* compose/mal.c — MAL, memory as layer (MATH §4.2): the memory reads the
 * block input x, its output passes the residual z = y + x, and attention
 * reads z (its window caches z's keys and values); p = a Wo. */
#include "compose.h"
#include "../mathfn.h"

/* MAL's own arrays: each layer's z (T, d) (inference's layers share one). */
typedef struct mal_arrays { real *z[HCT_MAX_LAYERS]; } mal_arrays;

static void mal_layout(hct_carver *cv, const hecate_model *m, bool training, hct_block *b) {
    mal_arrays measuring, *A = hct_take_own(cv, b, sizeof *A, &measuring);
    for (uint32_t l = 0; l < m->cfg.n_layers; l++)
        A->z[l] = l > 0 && !training ? A->z[0] : hct_take(cv, (uint64_t)b->T * m->cfg.d);
}

static real *z_of(const hct_block *b) { return ((const mal_arrays *)b->own)->z[b->layer]; }

static void mal_forward(const hecate_session *s, hct_block *b, bool need_out, bool training) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    real *z = z_of(b);
    hct_memory_forward(s, b, b->L->x, training);
    for (size_t i = 0; i < (size_t)T * d; i++) z[i] = b->L->y[i] + b->L->x[i];
    hct_attention_forward(s, b, z, need_out);
    if (need_out) hct_model_linear(&m->mat.layer[b->layer].wo, b->L->a, T, d, d, b->L->p);
}

static void mal_backward(const hecate_session *s, hct_block *b, hct_weights *g) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    size_t Td = (size_t)T * d;
    hct_zero(b->da, Td);
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].wo, b->L->a, b->dp, T, d, d, g->layer[b->layer].wo, b->da);
    hct_zero(b->dy, Td); /* dz: the residual sends it to y and to x */
    hct_attention_backward(s, b, z_of(b), g, b->dy);
    hct_axpy(b->dx, 1, b->dy, (uint32_t)Td);
    hct_memory_backward(s, b, b->L->x, g, b->dx);
}

const hct_composition hct_compose_mal = {
    .id = 1,
    .name = "mal",
    .window_entries = 1,
    .layout = mal_layout,
    .forward = mal_forward,
    .backward = mal_backward,
};

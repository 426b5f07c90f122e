/* compose/mag.c — MAG, memory as gate (MATH §4): attention and the memory
 * both read the block input x; o = a * sigmoid(y); p = o Wo. */
#include "compose.h"
#include "../mathfn.h"

static void mag_forward(const hecate_session *s, hct_block *b, bool need_out, bool training) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    hct_attention_forward(s, b, b->L->x, need_out);
    hct_memory_forward(s, b, b->L->x, training);
    if (!need_out) return;
    for (size_t i = 0; i < (size_t)T * d; i++) {
        b->L->gy[i] = hct_sigmoid(b->L->y[i]);
        b->L->o[i] = b->L->a[i] * b->L->gy[i];
    }
    hct_model_linear(m, m->w.layer[b->layer].wo, b->L->o, T, d, d, b->L->p);
}

static void mag_backward(const hecate_session *s, hct_block *b, hct_weights *g) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    size_t Td = (size_t)T * d;
    hct_zero(b->do_, Td);
    hct_linear_backward(m->w.layer[b->layer].wo, b->L->o, b->dp, T, d, d, g->layer[b->layer].wo, b->do_, b->lin_work);
    for (size_t i = 0; i < Td; i++) { /* o = a * s, s = sigmoid(y) */
        b->da[i] = b->do_[i] * b->L->gy[i];
        b->dy[i] = b->do_[i] * b->L->a[i] * b->L->gy[i] * ((real)1 - b->L->gy[i]);
    }
    hct_memory_backward(s, b, b->L->x, g, b->dx);
    hct_attention_backward(s, b, b->L->x, g, b->dx);
}

const hct_composition hct_compose_mag = {
    .id = 0,
    .name = "mag",
    .window_entries = 1,
    .forward = mag_forward,
    .backward = mag_backward,
};

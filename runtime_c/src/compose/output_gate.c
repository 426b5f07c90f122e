/* compose/output_gate.c — the output gate MAG and MAC share (MATH §4, §4.4):
 * the memory output y gates the attention output a elementwise,
 * o = a * sigmoid(y), and p = o Wo; its backward (MATH §7). */
#include "compose.h"
#include "../mathfn.h"

void hct_output_gate_forward(const hecate_session *s, hct_block *b) {
    const hecate_model *m = s->model;
    hct_layer_buf *L = b->L;
    uint32_t d = m->cfg.d, T = b->T;
    for (size_t i = 0; i < (size_t)T * d; i++) {
        L->gy[i] = hct_sigmoid(L->y[i]);
        L->o[i] = L->a[i] * L->gy[i];
    }
    hct_model_linear(m, m->w.layer[b->layer].wo, L->o, T, d, d, L->p);
}

void hct_output_gate_backward(const hecate_session *s, hct_block *b, hct_weights *grad) {
    const hecate_model *m = s->model;
    const hct_layer_buf *L = b->L;
    uint32_t d = m->cfg.d, T = b->T;
    size_t Td = (size_t)T * d;
    hct_zero(b->do_, Td);
    hct_linear_backward(m->w.layer[b->layer].wo, L->o, b->dp, T, d, d, grad->layer[b->layer].wo, b->do_,
                        b->lin_work);
    for (size_t i = 0; i < Td; i++) { /* o = a * g, g = sigmoid(y): da, dy = do a g (1 - g) */
        b->da[i] = b->do_[i] * L->gy[i];
        b->dy[i] = b->do_[i] * L->a[i] * L->gy[i] * ((real)1 - L->gy[i]);
    }
}

/* compose/output_gate.c — the output gate MAG and MAC share (MATH §4, §4.4):
 * the memory output y gates the attention output a elementwise,
 * o = a * sigmoid(y), and p = o Wo; its arrays and its backward (MATH §7). */
#include "compose.h"
#include "../mathfn.h"

void hct_output_gate_layout(hct_carver *cv, uint64_t Td, hct_output_gate *g) {
    g->gy = hct_take(cv, Td);
    g->o = hct_take(cv, Td);
}

void hct_output_gate_forward(const hecate_session *s, hct_block *b, const hct_output_gate *g) {
    const hecate_model *m = s->model;
    const hct_layer_buf *L = b->L;
    uint32_t d = m->cfg.d, T = b->T;
    hct_sigmoid_n(L->y, g->gy, T * d);
    for (size_t i = 0; i < (size_t)T * d; i++) g->o[i] = L->a[i] * g->gy[i];
    hct_model_linear(&m->mat.layer[b->layer].wo, g->o, T, d, d, L->p);
}

void hct_output_gate_backward(const hecate_session *s, hct_block *b, const hct_output_gate *g, hct_weights *grad) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    size_t Td = (size_t)T * d;
    hct_zero(b->da, Td); /* d loss / d o first, then da in place */
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].wo, g->o, b->dp, T, d, d, grad->layer[b->layer].wo, b->da);
    for (size_t i = 0; i < Td; i++) { /* o = a * g, g = sigmoid(y): da = do g, dy = do a g (1 - g) */
        real dout = b->da[i];
        b->da[i] = dout * g->gy[i];
        b->dy[i] = dout * b->L->a[i] * g->gy[i] * ((real)1 - g->gy[i]);
    }
}

/* compose/attention.c — the attention branch every composition uses:
 * projections of the branch input, streaming window attention (swa.c,
 * MATH §2), and their backward (MATH §7). */
#include "compose.h"
#include "../mathfn.h"

void hct_attention_project(const hecate_session *s, hct_block *b, const real *in, bool need_q) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    hct_model_linear(&m->mat.layer[b->layer].wk, in, T, d, d, b->L->k[0]);
    hct_model_linear(&m->mat.layer[b->layer].wv, in, T, d, d, b->L->v[0]);
    if (need_q) hct_model_linear(&m->mat.layer[b->layer].wq, in, T, d, d, b->L->q);
}

void hct_attention_project_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad,
                                    real *din) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].wq, in, b->dq, T, d, d, grad->layer[b->layer].wq, din);
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].wk, in, b->dk[0], T, d, d, grad->layer[b->layer].wk, din);
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].wv, in, b->dv[0], T, d, d, grad->layer[b->layer].wv, din);
}

void hct_attention_forward(const hecate_session *s, hct_block *b, const real *in, bool need_q) {
    hct_attention_project(s, b, in, need_q);
    if (!need_q) return;
    for (uint32_t t = 0; t < b->T; t++) hct_swa_forward(s, b, t);
}

void hct_attention_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din) {
    size_t Td = (size_t)b->T * s->model->cfg.d;
    hct_zero(b->dq, Td);
    hct_zero(b->dk[0], Td);
    hct_zero(b->dv[0], Td);
    for (uint32_t t = 0; t < b->T; t++) hct_swa_backward(s, b, t);
    hct_attention_project_backward(s, b, in, grad, din);
}

/* level.c — one memory level: the front end shared by every rule (MATH §3.1:
 * projections, q/k L2 normalization, scalar gates from concat(k, v)) around
 * the rule's recurrence, and its backward (MATH §7). */
#include "block.h"
#include "mathfn.h"

static real gate_act(uint8_t kind, real pre) {
    if (kind == HCT_GATE_IDENTITY) return pre;
    return kind == HCT_GATE_SOFTPLUS ? hct_softplus(pre) : hct_sigmoid(pre);
}

/* d gate / d pre-activation */
static real gate_act_grad(uint8_t kind, real pre, real value) {
    if (kind == HCT_GATE_IDENTITY) return 1;
    return kind == HCT_GATE_SOFTPLUS ? hct_sigmoid(pre) : value * ((real)1 - value);
}

void hct_level_forward(const hecate_session *s, hct_block *b, const real *in, bool training) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[0];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, T = b->T, G = rule->n_gates;
    hct_model_linear(m, W->wk, in, T, d, d, b->L->km);
    hct_model_linear(m, W->wv, in, T, d, d, b->L->vm);
    hct_model_linear(m, W->wq, in, T, d, d, b->L->qm);
    for (uint32_t t = 0; t < T; t++) {
        real *km = b->L->km + (size_t)t * d, *vm = b->L->vm + (size_t)t * d;
        if (m->cfg.flags & HCT_FLAG_QK_NORM) {
            b->L->knorm[t] = hct_l2_normalize(km, d);
            b->L->qnorm[t] = hct_l2_normalize(b->L->qm + (size_t)t * d, d);
        }
        for (uint32_t g = 0; g < G; g++) {
            const real *gw = W->gate_w + (size_t)g * 2 * d;
            real pre = hct_dot(gw, km, d) + hct_dot(gw + d, vm, d) + W->gate_b[g];
            b->L->gate_pre[(size_t)t * G + g] = pre;
            b->L->gates[(size_t)t * G + g] = gate_act(rule->gate_kind[g], pre);
        }
    }
    hct_rule_io *io = &b->L->rule_io;
    io->rule = rule;
    io->cfg = &m->cfg;
    io->d = d;
    io->T = T;
    io->k = b->L->km;
    io->v = b->L->vm;
    io->q = b->L->qm;
    io->x = in;
    io->gates = b->L->gates;
    io->tensors = (const real *const *)W->rule_t;
    io->state_in = s->mem_state[hct_mem_index(&m->cfg, b->layer, 0)];
    io->state = b->L->state;
    io->y = b->L->y;
    io->scratch = b->rule_scratch;
    io->tape = training ? b->L->rule_tape : NULL;
    io->frozen = (s->opts.flags & HECATE_SESSION_FREEZE_MEMORY) != 0;
    io->period = 1;
    hct_rule_forward(io);
}

void hct_level_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[0];
    hct_level_w *dW = &grad->layer[b->layer].level[0];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, T = b->T, G = rule->n_gates;
    hct_rule_grad rg = {&b->L->rule_io, b->dy, b->dkm, b->dvm, b->dqm, din, b->dgates, dW->rule_t, b->rule_work};
    hct_rule_backward(&rg);
    for (uint32_t t = 0; t < T; t++) {
        const real *km = b->L->km + (size_t)t * d, *vm = b->L->vm + (size_t)t * d;
        real *dkm = b->dkm + (size_t)t * d, *dvm = b->dvm + (size_t)t * d;
        for (uint32_t g = 0; g < G; g++) {
            size_t i = (size_t)t * G + g;
            real dpre = b->dgates[i] * gate_act_grad(rule->gate_kind[g], b->L->gate_pre[i], b->L->gates[i]);
            if (dpre == 0) continue;
            const real *gw = W->gate_w + (size_t)g * 2 * d;
            real *dgw = dW->gate_w + (size_t)g * 2 * d;
            hct_axpy(dgw, dpre, km, d);
            hct_axpy(dgw + d, dpre, vm, d);
            dW->gate_b[g] += dpre;
            hct_axpy(dkm, dpre, gw, d);
            hct_axpy(dvm, dpre, gw + d, d);
        }
        if (m->cfg.flags & HCT_FLAG_QK_NORM) {
            hct_l2_normalize_backward(km, b->L->knorm[t], dkm, d);
            hct_l2_normalize_backward(b->L->qm + (size_t)t * d, b->L->qnorm[t], b->dqm + (size_t)t * d, d);
        }
    }
    hct_linear_backward(W->wk, in, b->dkm, T, d, d, dW->wk, din, b->lin_work);
    hct_linear_backward(W->wv, in, b->dvm, T, d, d, dW->wv, din, b->lin_work);
    hct_linear_backward(W->wq, in, b->dqm, T, d, d, dW->wq, din, b->lin_work);
}

/* level.c — a block's memory: each CMS level's front end shared by every
 * rule (MATH §3.1: projections, q/k L2 normalization, scalar gates from
 * concat(k, v)) around the rule's recurrence at the level's period, the
 * levels' reads summed (MATH §6.1), and the backward (MATH §7). */
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

real hct_level_scale(const hct_config *c) {
    return c->n_levels > 2 ? (real)1 / hct_sqrt((real)c->n_levels) : (real)1;
}

static void level_forward(const hecate_session *s, hct_block *b, uint32_t level, const real *in, bool training) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[level];
    hct_level_buf *V = &b->L->lev[level];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, T = b->T, G = rule->n_gates, mem = hct_mem_index(&m->cfg, b->layer, level);
    hct_model_linear(m, W->wk, in, T, d, d, V->km);
    hct_model_linear(m, W->wv, in, T, d, d, V->vm);
    hct_model_linear(m, W->wq, in, T, d, d, V->qm);
    for (uint32_t t = 0; t < T; t++) {
        real *km = V->km + (size_t)t * d, *vm = V->vm + (size_t)t * d;
        if (m->cfg.flags & HCT_FLAG_QK_NORM) {
            V->knorm[t] = hct_l2_normalize(km, d);
            V->qnorm[t] = hct_l2_normalize(V->qm + (size_t)t * d, d);
        }
        for (uint32_t g = 0; g < G; g++) {
            const real *gw = W->gate_w + (size_t)g * 2 * d;
            real pre = hct_dot(gw, km, d) + hct_dot(gw + d, vm, d) + W->gate_b[g];
            V->gate_pre[(size_t)t * G + g] = pre;
            V->gates[(size_t)t * G + g] = gate_act(rule->gate_kind[g], pre);
        }
    }
    hct_rule_io *io = &V->rule_io;
    hct_bytes_zero(io, sizeof *io);
    io->rule = rule;
    io->cfg = &m->cfg;
    io->d = d;
    io->T = T;
    io->k = V->km;
    io->v = V->vm;
    io->q = V->qm;
    io->x = in;
    io->gates = V->gates;
    io->tensors = (const real *const *)W->rule_t;
    io->state_in = s->mem_state[mem];
    io->state = s->mem_spare[mem];
    io->y = V->y;
    io->scratch = b->rule_scratch;
    io->consts = V->consts;
    io->tape = training ? V->rule_tape : NULL;
    io->frozen = hct_memory_frozen(s);
    io->period = hct_period(&m->cfg, level);
    io->pos0 = b->p0;
    io->at_in = s->mem_at[mem];
    io->at_out = s->mem_at_spare[mem];
    if (hct_gated(&m->cfg, level)) { /* MATH §6.2 */
        io->freq_w = W->freq_w;
        io->freq_b = W->freq_b;
        io->fixed_schedule = (s->opts.flags & HECATE_SESSION_FIXED_SCHEDULE) != 0;
        io->sum_in = s->mem_sum[mem];
        io->sum_out = s->mem_sum_spare[mem];
    }
    hct_rule_forward(io);
}

void hct_memory_forward(const hecate_session *s, hct_block *b, const real *in, bool training) {
    const hct_config *c = &s->model->cfg;
    size_t Td = (size_t)b->T * c->d;
    real scale = hct_level_scale(c);
    for (uint32_t i = 0; i < c->n_levels; i++) {
        level_forward(s, b, i, in, training);
        if (c->n_levels == 1) break; /* L->y is the level's own read */
        const real *y = b->L->lev[i].y;
        for (size_t j = 0; j < Td; j++) b->L->y[j] = (i ? b->L->y[j] : (real)0) + scale * y[j];
    }
}

static void level_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *in, const real *dy,
                           hct_weights *grad, real *din) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[level];
    hct_level_w *dW = &grad->layer[b->layer].level[level];
    hct_level_buf *V = &b->L->lev[level];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, T = b->T, G = rule->n_gates;
    hct_rule_grad rg = {&V->rule_io, dy,           b->dkm,         b->dvm,    b->dqm,   din,
                        b->dgates,   dW->rule_t,   b->rule_work,   dW->freq_w, dW->freq_b};
    hct_rule_backward(&rg);
    for (uint32_t t = 0; t < T; t++) {
        const real *km = V->km + (size_t)t * d, *vm = V->vm + (size_t)t * d;
        real *dkm = b->dkm + (size_t)t * d, *dvm = b->dvm + (size_t)t * d;
        for (uint32_t g = 0; g < G; g++) {
            size_t i = (size_t)t * G + g;
            real dpre = b->dgates[i] * gate_act_grad(rule->gate_kind[g], V->gate_pre[i], V->gates[i]);
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
            hct_l2_normalize_backward(km, V->knorm[t], dkm, d);
            hct_l2_normalize_backward(V->qm + (size_t)t * d, V->qnorm[t], b->dqm + (size_t)t * d, d);
        }
    }
    hct_linear_backward(W->wk, in, b->dkm, T, d, d, dW->wk, din, b->lin_work);
    hct_linear_backward(W->wv, in, b->dvm, T, d, d, dW->wv, din, b->lin_work);
    hct_linear_backward(W->wq, in, b->dqm, T, d, d, dW->wq, din, b->lin_work);
}

void hct_memory_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din) {
    const hct_config *c = &s->model->cfg;
    size_t Td = (size_t)b->T * c->d;
    real scale = hct_level_scale(c);
    const real *dy = b->dy;
    if (scale != (real)1) { /* y = scale sum of the levels' reads */
        for (size_t j = 0; j < Td; j++) b->dyl[j] = scale * b->dy[j];
        dy = b->dyl;
    }
    for (uint32_t i = 0; i < c->n_levels; i++) level_backward(s, b, i, in, dy, grad, din);
}

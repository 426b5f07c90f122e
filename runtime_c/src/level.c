/* level.c — a block's memory: each CMS level's front end shared by every
 * rule (MATH §3.1: projections, q/k L2 normalization, scalar gates from
 * concat(k, v)) around the rule's recurrence at the level's period, the
 * levels' reads summed (MATH §6.1), and the backward (MATH §7). */
#include "block.h"
#include "mathfn.h"

/* The activation of gate g: the rule's, except that a softplus step gate is bounded,
 * theta_max * sigmoid, in files with header flag bit 4 (MATH §3.1 "Bounded inner steps") */
static uint8_t gate_kind(const hecate_model *m, uint32_t g) {
    uint8_t kind = m->rule->gate_kind[g];
    return kind == HCT_GATE_SOFTPLUS && (m->cfg.flags & HCT_FLAG_BOUNDED_STEP) ? HCT_GATE_BOUNDED : kind;
}

static real gate_act(uint8_t kind, real pre) {
    switch (kind) {
    case HCT_GATE_IDENTITY: return pre;
    case HCT_GATE_SOFTPLUS: return hct_softplus(pre);
    case HCT_GATE_BOUNDED: return (real)HCT_THETA_MAX * hct_sigmoid(pre);
    default: return hct_sigmoid(pre);
    }
}

/* d gate / d pre-activation */
static real gate_act_grad(uint8_t kind, real pre, real value) {
    switch (kind) {
    case HCT_GATE_IDENTITY: return 1;
    case HCT_GATE_SOFTPLUS: return hct_sigmoid(pre);
    case HCT_GATE_BOUNDED: {
        real s = hct_sigmoid(pre);
        return (real)HCT_THETA_MAX * s * ((real)1 - s);
    }
    default: return value * ((real)1 - value);
    }
}

real hct_level_scale(const hct_config *c) {
    return c->n_levels > 2 ? (real)1 / hct_sqrt((real)c->n_levels) : (real)1;
}

void hct_level_front(const hecate_session *s, hct_block *b, uint32_t level, const real *in, uint32_t t0,
                     uint32_t t1) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[level];
    hct_level_buf *V = &b->L->lev[level];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, G = rule->n_gates;
    size_t r0 = (size_t)t0 * d;
    hct_model_linear(m, W->wk, in + r0, t1 - t0, d, d, V->km + r0);
    hct_model_linear(m, W->wv, in + r0, t1 - t0, d, d, V->vm + r0);
    hct_model_linear(m, W->wq, in + r0, t1 - t0, d, d, V->qm + r0);
    for (uint32_t t = t0; t < t1; t++) {
        real *km = V->km + (size_t)t * d, *vm = V->vm + (size_t)t * d;
        if (m->cfg.flags & HCT_FLAG_QK_NORM) {
            V->knorm[t] = hct_l2_normalize(km, d);
            V->qnorm[t] = hct_l2_normalize(V->qm + (size_t)t * d, d);
        }
        for (uint32_t g = 0; g < G; g++) {
            const real *gw = W->gate_w + (size_t)g * 2 * d;
            real pre = hct_dot(gw, km, d) + hct_dot(gw + d, vm, d) + W->gate_b[g];
            V->gate_pre[(size_t)t * G + g] = pre;
            V->gates[(size_t)t * G + g] = gate_act(gate_kind(m, g), pre);
        }
    }
}

void hct_level_begin(const hecate_session *s, hct_block *b, uint32_t level, const real *in, bool training) {
    const hecate_model *m = s->model;
    hct_level_buf *V = &b->L->lev[level];
    uint32_t mem = hct_mem_index(&m->cfg, b->layer, level);
    hct_rule_io *io = &V->rule_io;
    hct_bytes_zero(io, sizeof *io);
    io->rule = m->rule;
    io->cfg = &m->cfg;
    io->d = m->cfg.d;
    io->T = b->T;
    io->k = V->km;
    io->v = V->vm;
    io->q = V->qm;
    io->x = in;
    io->gates = V->gates;
    io->tensors = (const real *const *)m->w.layer[b->layer].level[level].rule_t;
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
        const hct_level_w *W = &m->w.layer[b->layer].level[level];
        io->freq_w = W->freq_w;
        io->freq_b = W->freq_b;
        io->fixed_schedule = (s->opts.flags & HECATE_SESSION_FIXED_SCHEDULE) != 0;
        io->sum_in = s->mem_sum[mem];
        io->sum_out = s->mem_sum_spare[mem];
    }
}

void hct_level_pre_queries(const hecate_session *s, hct_block *b, uint32_t level, const real *x) {
    const hecate_model *m = s->model;
    hct_level_buf *V = &b->L->lev[level];
    uint32_t d = m->cfg.d;
    hct_model_linear(m, m->w.layer[b->layer].level[level].wq, x, b->T, d, d, V->qx);
    if (!(m->cfg.flags & HCT_FLAG_QK_NORM)) return;
    for (uint32_t t = 0; t < b->T; t++) V->qxnorm[t] = hct_l2_normalize(V->qx + (size_t)t * d, d);
}

static void level_forward(const hecate_session *s, hct_block *b, uint32_t level, const real *in, bool training) {
    hct_level_begin(s, b, level, in, training);
    hct_level_front(s, b, level, in, 0, b->T);
    hct_rule_forward(&b->L->lev[level].rule_io);
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

hct_rule_grad hct_level_grad(hct_block *b, uint32_t level, const real *dy, hct_weights *grad, real *din) {
    hct_level_buf *V = &b->L->lev[level];
    hct_level_w *dW = &grad->layer[b->layer].level[level];
    hct_rule_grad rg = {&V->rule_io, dy, b->dkm, b->dvm, b->dqm, din, b->dgates, dW->rule_t, V->rule_work,
                        dW->freq_w, dW->freq_b};
    return rg;
}

void hct_level_front_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *in,
                              hct_weights *grad, real *din, uint32_t t0, uint32_t t1) {
    const hecate_model *m = s->model;
    const hct_level_w *W = &m->w.layer[b->layer].level[level];
    hct_level_w *dW = &grad->layer[b->layer].level[level];
    hct_level_buf *V = &b->L->lev[level];
    const hct_rule *rule = m->rule;
    uint32_t d = m->cfg.d, G = rule->n_gates;
    size_t r0 = (size_t)t0 * d;
    for (uint32_t t = t0; t < t1; t++) {
        const real *km = V->km + (size_t)t * d, *vm = V->vm + (size_t)t * d;
        real *dkm = b->dkm + (size_t)t * d, *dvm = b->dvm + (size_t)t * d;
        for (uint32_t g = 0; g < G; g++) {
            size_t i = (size_t)t * G + g;
            real dpre = b->dgates[i] * gate_act_grad(gate_kind(m, g), V->gate_pre[i], V->gates[i]);
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
    uint32_t n = t1 - t0;
    hct_linear_backward(W->wk, in + r0, b->dkm + r0, n, d, d, dW->wk, din + r0, b->lin_work);
    hct_linear_backward(W->wv, in + r0, b->dvm + r0, n, d, d, dW->wv, din + r0, b->lin_work);
    hct_linear_backward(W->wq, in + r0, b->dqm + r0, n, d, d, dW->wq, din + r0, b->lin_work);
}

void hct_level_pre_queries_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *x,
                                    hct_weights *grad, real *dx) {
    const hecate_model *m = s->model;
    hct_level_buf *V = &b->L->lev[level];
    uint32_t d = m->cfg.d;
    if (m->cfg.flags & HCT_FLAG_QK_NORM)
        for (uint32_t t = 0; t < b->T; t++)
            hct_l2_normalize_backward(V->qx + (size_t)t * d, V->qxnorm[t], V->dqx + (size_t)t * d, d);
    hct_linear_backward(m->w.layer[b->layer].level[level].wq, x, V->dqx, b->T, d, d,
                        grad->layer[b->layer].level[level].wq, dx, b->lin_work);
}

static void level_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *in, const real *dy,
                           hct_weights *grad, real *din) {
    hct_rule_grad rg = hct_level_grad(b, level, dy, grad, din);
    hct_rule_backward(&rg);
    hct_level_front_backward(s, b, level, in, grad, din, 0, b->T);
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

/* level.c — a block's memory: each CMS level's front end shared by every
 * rule (MATH §3.1: projections, the short causal convolution, q/k L2
 * normalization, scalar gates from concat(k, v)) around the rule's
 * recurrence at the level's period, the levels' reads summed (MATH §6.1),
 * a level's queries of other rows (MATH §4.4), and the backward (MATH §7). */
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

/* Row j (0 .. K-1) of token t's convolution window in one stream: token
 * t - (K-1) + j, from the block's rows `pre` (T, d) or, before the block,
 * from the stream's state `hist` (K-1, d, oldest first); `cur`: token t's own
 * row (a pre-query puts its own row's query there). */
static const real *conv_window_row(const real *hist, const real *pre, const real *cur, uint32_t K, uint32_t d,
                                   uint32_t t, uint32_t j) {
    if (j == K - 1) return cur;
    int64_t u = (int64_t)t + j - (K - 1);
    return u < 0 ? hist + (size_t)((int64_t)K - 1 + u) * d : pre + (size_t)u * d;
}

/* MATH §3.1: out = sum_j taps[j] * window row j, taps in order (the chunking
 * invariant: every token sums the same way). */
static void conv_forward(const real *taps, const real *hist, const real *pre, const real *cur, uint32_t K,
                         uint32_t d, uint32_t t, real *out) {
    for (uint32_t c = 0; c < d; c++) out[c] = taps[c] * conv_window_row(hist, pre, cur, K, d, t, 0)[c];
    for (uint32_t j = 1; j < K; j++) {
        const real *row = conv_window_row(hist, pre, cur, K, d, t, j), *w = taps + (size_t)j * d;
        for (uint32_t c = 0; c < d; c++) out[c] += w[c] * row[c];
    }
}

/* Backward of conv_forward from dout: dtaps += dout * rows; the block's
 * earlier rows' gradients dpre += taps * dout (rows before the block are
 * constants, MATH §7); the current row's gradient is taps[K-1] * dout, left
 * to the caller. */
static void conv_backward(const real *taps, const real *hist, const real *pre, const real *cur, uint32_t K,
                          uint32_t d, uint32_t t, const real *dout, real *dtaps, real *dpre) {
    for (uint32_t j = 0; j < K; j++) {
        const real *row = conv_window_row(hist, pre, cur, K, d, t, j), *w = taps + (size_t)j * d;
        real *dw = dtaps + (size_t)j * d;
        for (uint32_t c = 0; c < d; c++) dw[c] += dout[c] * row[c];
        if (j == K - 1 || (int64_t)t + j < (int64_t)K - 1) continue;
        real *dp = dpre + (size_t)(t + j - (K - 1)) * d;
        for (uint32_t c = 0; c < d; c++) dp[c] += w[c] * dout[c];
    }
}

/* Stream j's state (K-1, d) of memory `mem` (session conv_state, or its spare). */
static real *conv_hist(const hecate_session *s, uint32_t mem, uint32_t j, bool spare) {
    size_t rows = (size_t)(s->model->cfg.conv_k - 1) * s->model->cfg.d;
    return (spare ? s->conv_spare[mem] : s->conv_state[mem]) + j * rows;
}

/* The convolution state after a block of T tokens: each stream's last K-1
 * rows of (state, block rows), into the session's spare. */
static void conv_advance(const hecate_session *s, const hct_block *b, uint32_t level) {
    const hct_config *c = &s->model->cfg;
    uint32_t mem = hct_mem_index(c, b->layer, level), K = c->conv_k, d = c->d, T = b->T;
    const hct_level_buf *V = &b->L->lev[level];
    for (uint32_t j = 0; j < HCT_CONV_STREAMS; j++) {
        const real *hist = conv_hist(s, mem, j, false);
        real *next = conv_hist(s, mem, j, true);
        const real *last = V->pre[j] + (size_t)(T - 1) * d;
        for (uint32_t i = 0; i + 1 < K; i++) /* row i: token T - (K-1) + i, the window of T-1 without its oldest */
            hct_copy(next + (size_t)i * d, conv_window_row(hist, V->pre[j], last, K, d, T - 1, i + 1), d);
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
    uint32_t d = m->cfg.d, G = rule->n_gates, K = m->cfg.conv_k;
    size_t r0 = (size_t)t0 * d;
    real *out[HCT_CONV_STREAMS] = {V->km, V->vm, V->qm};
    real *const *proj = K ? V->pre : out; /* with the convolution, the projections are its input */
    const hct_level_mats *M = &m->mat.layer[b->layer].level[level];
    hct_model_linear(&M->wk, in + r0, t1 - t0, d, d, proj[0] + r0);
    hct_model_linear(&M->wv, in + r0, t1 - t0, d, d, proj[1] + r0);
    hct_model_linear(&M->wq, in + r0, t1 - t0, d, d, proj[2] + r0);
    if (K) {
        uint32_t mem = hct_mem_index(&m->cfg, b->layer, level);
        for (uint32_t t = t0; t < t1; t++)
            for (uint32_t j = 0; j < HCT_CONV_STREAMS; j++)
                conv_forward(W->conv[j], conv_hist(s, mem, j, false), V->pre[j], V->pre[j] + (size_t)t * d, K, d,
                             t, out[j] + (size_t)t * d);
        if (t1 == b->T) conv_advance(s, b, level);
    }
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

void hct_pre_queries_layout(hct_carver *cv, const hecate_model *m, uint32_t T, bool training,
                            hct_pre_queries *pq) {
    uint64_t Td = (uint64_t)T * m->cfg.d;
    pq->q = hct_take(cv, Td);
    pq->norm = hct_take(cv, T);
    pq->proj = m->cfg.conv_k ? hct_take(cv, Td) : pq->q;
    pq->dq = training ? hct_take(cv, Td) : NULL;
    pq->dproj = training && m->cfg.conv_k ? hct_take(cv, Td) : pq->dq;
}

void hct_level_pre_queries(const hecate_session *s, const hct_block *b, uint32_t level, const real *x,
                           const hct_pre_queries *pq) {
    const hecate_model *m = s->model;
    hct_model_linear(&m->mat.layer[b->layer].level[level].wq, x, b->T, m->cfg.d, m->cfg.d, pq->proj);
}

void hct_level_pre_query(const hecate_session *s, const hct_block *b, uint32_t level, uint32_t t,
                         const hct_pre_queries *pq) {
    const hct_config *c = &s->model->cfg;
    const hct_level_buf *V = &b->L->lev[level];
    real *q = pq->q + (size_t)t * c->d;
    if (c->conv_k) /* MATH §4.4: the q stream's rows before t, then the row's own query */
        conv_forward(s->model->w.layer[b->layer].level[level].conv[2],
                     conv_hist(s, hct_mem_index(c, b->layer, level), 2, false), V->pre[2],
                     pq->proj + (size_t)t * c->d, c->conv_k, c->d, t, q);
    if (c->flags & HCT_FLAG_QK_NORM) pq->norm[t] = hct_l2_normalize(q, c->d);
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
    hct_rule_grad rg = {.fwd = &V->rule_io, .dy = dy, .dk = b->dkm, .dv = b->dvm, .dq = b->dqm, .dx = din,
                        .dgates = b->dgates, .dtensors = dW->rule_t, .work = V->rule_work,
                        .dfreq_w = dW->freq_w, .dfreq_b = dW->freq_b};
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
    uint32_t n = t1 - t0, K = m->cfg.conv_k;
    real *dproj[HCT_CONV_STREAMS] = {b->dkm, b->dvm, b->dqm};
    if (K) { /* MATH §3.1: back through the convolution to its input rows; a row's terms come from its own
              * token and later ones, so this call completes rows t0 .. t1-1 */
        uint32_t mem = hct_mem_index(&m->cfg, b->layer, level);
        for (uint32_t j = 0; j < HCT_CONV_STREAMS; j++) {
            if (t1 == b->T) hct_zero(V->dpre[j], (size_t)b->T * d); /* the first call of the backward */
            for (uint32_t t = t1; t-- > t0;) {
                const real *dout = dproj[j] + (size_t)t * d;
                real *cur = V->pre[j] + (size_t)t * d, *dcur = V->dpre[j] + (size_t)t * d;
                conv_backward(W->conv[j], conv_hist(s, mem, j, false), V->pre[j], cur, K, d, t, dout, dW->conv[j],
                              V->dpre[j]);
                const real *last = W->conv[j] + (size_t)(K - 1) * d;
                for (uint32_t c = 0; c < d; c++) dcur[c] += last[c] * dout[c];
            }
            dproj[j] = V->dpre[j];
        }
    }
    hct_grad_linear_backward(m, b, W->wk, in + r0, dproj[0] + r0, n, d, d, dW->wk, din + r0);
    hct_grad_linear_backward(m, b, W->wv, in + r0, dproj[1] + r0, n, d, d, dW->wv, din + r0);
    hct_grad_linear_backward(m, b, W->wq, in + r0, dproj[2] + r0, n, d, d, dW->wq, din + r0);
}

void hct_level_pre_query_backward(const hecate_session *s, hct_block *b, uint32_t level, uint32_t t,
                                  const hct_pre_queries *pq, hct_weights *grad) {
    const hct_config *c = &s->model->cfg;
    hct_level_buf *V = &b->L->lev[level];
    uint32_t d = c->d, K = c->conv_k;
    real *dq = pq->dq + (size_t)t * d;
    if (c->flags & HCT_FLAG_QK_NORM) hct_l2_normalize_backward(pq->q + (size_t)t * d, pq->norm[t], dq, d);
    if (!K) return; /* dproj is dq */
    const real *taps = s->model->w.layer[b->layer].level[level].conv[2], *last = taps + (size_t)(K - 1) * d;
    real *dproj = pq->dproj + (size_t)t * d;
    conv_backward(taps, conv_hist(s, hct_mem_index(c, b->layer, level), 2, false), V->pre[2],
                  pq->proj + (size_t)t * d, K, d, t, dq, grad->layer[b->layer].level[level].conv[2], V->dpre[2]);
    for (uint32_t j = 0; j < d; j++) dproj[j] = last[j] * dq[j];
}

void hct_level_pre_queries_backward(const hecate_session *s, hct_block *b, uint32_t level, const real *x,
                                    const hct_pre_queries *pq, hct_weights *grad, real *dx) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d;
    hct_grad_linear_backward(m, b, m->w.layer[b->layer].level[level].wq, x, pq->dproj, b->T, d, d,
                             grad->layer[b->layer].level[level].wq, dx);
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

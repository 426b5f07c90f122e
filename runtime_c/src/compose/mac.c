/* compose/mac.c — MAC, memory as context (MATH §4.4): per token, every
 * level's read before its write (query from x) is mixed into h; attention
 * over the window's entries of both h and x gives a; the levels write with
 * a as their input, their reads are mixed into r; o = a * sigmoid(r),
 * p = o Wo.  Token by token, since each token's attention needs the
 * memory the previous token wrote. */
#include "compose.h"
#include "../mathfn.h"

enum { MIX_READ = 0, MIX_OUT = 1 };

/* softmax of a layer's mixing logits (n_levels) into w; one level has
 * weight 1 and no logits */
static void mixing(const hecate_session *s, const hct_block *b, uint32_t which, real *w) {
    const real *logit = s->model->w.layer[b->layer].compose_t[which];
    uint32_t k = s->model->cfg.n_levels;
    w[0] = 1;
    if (k == 1) return;
    real mx = logit[0], sum = 0;
    for (uint32_t i = 1; i < k; i++) mx = logit[i] > mx ? logit[i] : mx;
    for (uint32_t i = 0; i < k; i++) sum += w[i] = hct_exp(logit[i] - mx);
    for (uint32_t i = 0; i < k; i++) w[i] /= sum;
}

static void mac_forward(const hecate_session *s, hct_block *b, bool need_out, bool training) {
    const hecate_model *m = s->model;
    const hct_layer_w *W = &m->w.layer[b->layer];
    hct_layer_buf *L = b->L;
    uint32_t d = m->cfg.d, T = b->T, k = m->cfg.n_levels;
    real wr[HCT_MAX_LEVELS], wo[HCT_MAX_LEVELS];
    mixing(s, b, MIX_READ, wr);
    mixing(s, b, MIX_OUT, wo);
    hct_attention_project(s, b, L->x, true);
    for (uint32_t i = 0; i < k; i++) {
        hct_level_begin(s, b, i, L->a, training);
        hct_level_pre_queries(s, b, i, L->x);
    }
    for (uint32_t t = 0; t < T; t++) {
        size_t at = (size_t)t * d;
        for (uint32_t i = 0; i < k; i++) {
            hct_level_pre_query(s, b, i, t); /* its convolution reads the level's rows before t */
            hct_rule_pre_read(&L->lev[i].rule_io, L->lev[i].qx, t, L->lev[i].hy + at);
        }
        hct_zero(L->h + at, d);
        for (uint32_t i = 0; i < k; i++) hct_axpy(L->h + at, wr[i], L->lev[i].hy + at, d);
        hct_model_linear(m, W->wk, L->h + at, 1, d, d, L->kh + at);
        hct_model_linear(m, W->wv, L->h + at, 1, d, d, L->vh + at);
        hct_swa_forward(s, b, t);
        hct_zero(L->y + at, d);
        for (uint32_t i = 0; i < k; i++) { /* inference's levels share arrays: mix each read at once */
            hct_level_front(s, b, i, L->a, t, t + 1);
            hct_rule_run(&L->lev[i].rule_io, t, t + 1);
            hct_axpy(L->y + at, wo[i], L->lev[i].y + at, d);
        }
    }
    if (need_out) hct_output_gate_forward(s, b);
}

/* d logits of a softmax w from dw = d loss / d w: w (dw - <w, dw>) */
static void mixing_backward(const real *w, const real *dw, uint32_t k, real *dlogit) {
    real wdw = 0;
    for (uint32_t i = 0; i < k; i++) wdw += w[i] * dw[i];
    for (uint32_t i = 0; i < k; i++) dlogit[i] += w[i] * (dw[i] - wdw);
}

static void mac_backward(const hecate_session *s, hct_block *b, hct_weights *g) {
    const hecate_model *m = s->model;
    const hct_layer_w *W = &m->w.layer[b->layer];
    hct_layer_w *dW = &g->layer[b->layer];
    hct_layer_buf *L = b->L;
    uint32_t d = m->cfg.d, T = b->T, k = m->cfg.n_levels;
    size_t Td = (size_t)T * d;
    real wr[HCT_MAX_LEVELS], wo[HCT_MAX_LEVELS], dwr[HCT_MAX_LEVELS], dwo[HCT_MAX_LEVELS];
    hct_rule_grad rg[HCT_MAX_LEVELS];
    mixing(s, b, MIX_READ, wr);
    mixing(s, b, MIX_OUT, wo);
    hct_output_gate_backward(s, b, g); /* da direct, dy */
    for (uint32_t i = 0; i < k; i++) { /* y = sum_i wo_i y_i */
        hct_level_buf *V = &L->lev[i];
        for (size_t j = 0; j < Td; j++) V->dy[j] = wo[i] * b->dy[j];
        dwo[i] = hct_dot(b->dy, V->y, (uint32_t)Td);
        dwr[i] = 0;
        hct_zero(V->dqx, Td);
        rg[i] = hct_level_grad(b, i, V->dy, g, b->da);
        hct_rule_backward_begin(&rg[i]);
    }
    hct_zero(b->dq, Td);
    hct_zero(b->dk, Td);
    hct_zero(b->dv, Td);
    hct_zero(b->dkh, Td);
    hct_zero(b->dvh, Td);
    for (uint32_t t = T; t-- > 0;) { /* the forward's token order, reversed */
        size_t at = (size_t)t * d;
        for (uint32_t i = 0; i < k; i++) { /* the writes (input a) */
            hct_rule_backward_tokens(&rg[i], t, t + 1);
            hct_level_front_backward(s, b, i, L->a, g, b->da, t, t + 1);
        }
        hct_swa_backward(s, b, t); /* da[t] is complete: t's own and later tokens' terms */
        hct_zero(b->dh + at, d);   /* kh[t], vh[t] are complete: only tokens >= t read them */
        hct_linear_backward(W->wk, L->h + at, b->dkh + at, 1, d, d, dW->wk, b->dh + at, b->lin_work);
        hct_linear_backward(W->wv, L->h + at, b->dvh + at, 1, d, d, dW->wv, b->dh + at, b->lin_work);
        for (uint32_t i = 0; i < k; i++) { /* h = sum_i wr_i hy_i, the reads before the writes */
            hct_level_buf *V = &L->lev[i];
            dwr[i] += hct_dot(b->dh + at, V->hy + at, d);
            for (uint32_t j = 0; j < d; j++) V->dy[at + j] = wr[i] * b->dh[at + j]; /* row t is used up */
            hct_rule_pre_read_backward(&rg[i], V->qx, t, V->dy + at, V->dqx + at);
            hct_level_pre_query_backward(s, b, i, t, g); /* before the front end's backward of rows < t */
        }
    }
    if (k > 1) {
        mixing_backward(wr, dwr, k, dW->compose_t[MIX_READ]);
        mixing_backward(wo, dwo, k, dW->compose_t[MIX_OUT]);
    }
    hct_attention_project_backward(s, b, L->x, g, b->dx);
    for (uint32_t i = 0; i < k; i++) hct_level_pre_queries_backward(s, b, i, L->x, g, b->dx);
}

static const char *const TENSOR_NAMES[2] = {"mac.mix_read", "mac.mix_out"};

const hct_composition hct_compose_mac = {
    .id = 2,
    .name = "mac",
    .window_entries = 2,
    .reads_before_write = true,
    .n_tensors = 2,
    .tensor_names = TENSOR_NAMES,
    .forward = mac_forward,
    .backward = mac_backward,
};

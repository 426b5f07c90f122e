/* compose/mac.c — MAC, memory as context (MATH §4.4): per token, every
 * level's read before its write (query from x) is mixed into h; attention
 * over the window's entries of both h and x gives a; the levels write with
 * a as their input, their reads are mixed into r; o = a * sigmoid(r),
 * p = o Wo.  Token by token, since each token's attention needs the
 * memory the previous token wrote. */
#include "compose.h"
#include "../mathfn.h"

enum { MIX_READ = 0, MIX_OUT = 1 };
enum { ENTRY_X = 0, ENTRY_H = 1, N_ENTRIES = 2 }; /* a token's window entries: x's, then h's keys/values */

/* MAC's own arrays of one memory level: its read before each token's write. */
typedef struct mac_level {
    hct_pre_queries qx;       /* the level's queries of x */
    real *hy;                 /* (T, d) the reads */
    real *dy;                 /* (T, d) training only: d loss / d the level's read (the write's, then
                               * the read before's, a row at a time) */
} mac_level;

typedef struct mac_layer {
    hct_output_gate gate;
    real *h;                  /* (T, d) the levels' reads before the write, mixed (window entry H) */
    mac_level lev[HCT_MAX_LEVELS]; /* each level's own, even in inference */
} mac_layer;

typedef struct mac_arrays {
    mac_layer lay[HCT_MAX_LAYERS]; /* training: one per layer; inference: lay[0] serves all */
    bool shared;              /* inference: every layer uses lay[0] */
    real *dh;                 /* (T, d) training only: d loss / d h */
} mac_arrays;

/* MAC's arrays, and its own y for the mixed reads: not the level's read even
 * when there is one level (the mix is written a row at a time, between the
 * level's writes). */
static void mac_layout(hct_carver *cv, const hecate_model *m, bool training, hct_block *b) {
    const hct_config *c = &m->cfg;
    uint64_t Td = (uint64_t)b->T * c->d;
    mac_arrays measuring, *A = hct_take_own(cv, b, sizeof *A, &measuring);
    A->shared = !training;
    for (uint32_t l = 0; l < c->n_layers; l++) {
        mac_layer *M = &A->lay[l];
        if (l > 0 && !training) {  /* no struct copy: a freestanding build has no memcpy */
            b->lay[l].y = b->lay[0].y;
            continue;
        }
        if (c->n_levels == 1) b->lay[l].y = hct_take(cv, Td);
        hct_output_gate_layout(cv, Td, &M->gate);
        M->h = hct_take(cv, Td);
        for (uint32_t i = 0; i < c->n_levels; i++) {
            hct_pre_queries_layout(cv, m, b->T, training, &M->lev[i].qx);
            M->lev[i].hy = hct_take(cv, Td);
            M->lev[i].dy = training ? hct_take(cv, Td) : NULL;
        }
    }
    A->dh = training ? hct_take(cv, Td) : NULL;
}

static mac_layer *layer_of(const hct_block *b) {
    mac_arrays *A = b->own;
    return &A->lay[A->shared ? 0 : b->layer];
}

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
    const hct_layer_mats *W = &m->mat.layer[b->layer];
    hct_layer_buf *L = b->L;
    mac_layer *M = layer_of(b);
    uint32_t d = m->cfg.d, T = b->T, k = m->cfg.n_levels;
    real wr[HCT_MAX_LEVELS], wo[HCT_MAX_LEVELS];
    mixing(s, b, MIX_READ, wr);
    mixing(s, b, MIX_OUT, wo);
    hct_attention_project(s, b, L->x, true);
    for (uint32_t i = 0; i < k; i++) {
        hct_level_begin(s, b, i, L->a, training);
        hct_level_pre_queries(s, b, i, L->x, &M->lev[i].qx);
    }
    for (uint32_t t = 0; t < T; t++) {
        size_t at = (size_t)t * d;
        for (uint32_t i = 0; i < k; i++) {
            hct_level_pre_query(s, b, i, t, &M->lev[i].qx); /* its convolution reads the level's rows before t */
            hct_rule_pre_read(&L->lev[i].rule_io, M->lev[i].qx.q + at, t, M->lev[i].hy + at);
        }
        hct_zero(M->h + at, d);
        for (uint32_t i = 0; i < k; i++) hct_axpy(M->h + at, wr[i], M->lev[i].hy + at, d);
        hct_model_linear(&W->wk, M->h + at, 1, d, d, L->k[ENTRY_H] + at);
        hct_model_linear(&W->wv, M->h + at, 1, d, d, L->v[ENTRY_H] + at);
        hct_swa_forward(s, b, t);
        hct_zero(L->y + at, d);
        for (uint32_t i = 0; i < k; i++) { /* inference's levels share arrays: mix each read at once */
            hct_level_front(s, b, i, L->a, t, t + 1);
            hct_rule_run(&L->lev[i].rule_io, t, t + 1);
            hct_axpy(L->y + at, wo[i], L->lev[i].y + at, d);
        }
    }
    if (need_out) hct_output_gate_forward(s, b, &M->gate);
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
    mac_layer *M = layer_of(b);
    real *dh = ((mac_arrays *)b->own)->dh;
    uint32_t d = m->cfg.d, T = b->T, k = m->cfg.n_levels;
    size_t Td = (size_t)T * d;
    real wr[HCT_MAX_LEVELS], wo[HCT_MAX_LEVELS], dwr[HCT_MAX_LEVELS], dwo[HCT_MAX_LEVELS];
    hct_rule_grad rg[HCT_MAX_LEVELS];
    mixing(s, b, MIX_READ, wr);
    mixing(s, b, MIX_OUT, wo);
    hct_output_gate_backward(s, b, &M->gate, g); /* da direct, dy */
    for (uint32_t i = 0; i < k; i++) { /* y = sum_i wo_i y_i */
        mac_level *V = &M->lev[i];
        for (size_t j = 0; j < Td; j++) V->dy[j] = wo[i] * b->dy[j];
        dwo[i] = hct_dot(b->dy, L->lev[i].y, (uint32_t)Td);
        dwr[i] = 0;
        hct_zero(V->qx.dq, Td);
        rg[i] = hct_level_grad(b, i, V->dy, g, b->da);
        hct_rule_backward_begin(&rg[i]);
    }
    hct_zero(b->dq, Td);
    for (uint32_t e = 0; e < N_ENTRIES; e++) {
        hct_zero(b->dk[e], Td);
        hct_zero(b->dv[e], Td);
    }
    for (uint32_t t = T; t-- > 0;) { /* the forward's token order, reversed */
        size_t at = (size_t)t * d;
        for (uint32_t i = 0; i < k; i++) { /* the writes (input a) */
            hct_rule_backward_tokens(&rg[i], t, t + 1);
            hct_level_front_backward(s, b, i, L->a, g, b->da, t, t + 1);
        }
        hct_swa_backward(s, b, t); /* da[t] is complete: t's own and later tokens' terms */
        hct_zero(dh + at, d);      /* h's entry of t is complete: only tokens >= t read it */
        hct_grad_linear_backward(m, b, W->wk, M->h + at, b->dk[ENTRY_H] + at, 1, d, d, dW->wk, dh + at);
        hct_grad_linear_backward(m, b, W->wv, M->h + at, b->dv[ENTRY_H] + at, 1, d, d, dW->wv, dh + at);
        for (uint32_t i = 0; i < k; i++) { /* h = sum_i wr_i hy_i, the reads before the writes */
            mac_level *V = &M->lev[i];
            dwr[i] += hct_dot(dh + at, V->hy + at, d);
            for (uint32_t j = 0; j < d; j++) V->dy[at + j] = wr[i] * dh[at + j]; /* row t is used up */
            hct_rule_pre_read_backward(&rg[i], V->qx.q + at, t, V->dy + at, V->qx.dq + at);
            hct_level_pre_query_backward(s, b, i, t, &V->qx, g); /* before the front end's backward of rows < t */
        }
    }
    if (k > 1) {
        mixing_backward(wr, dwr, k, dW->compose_t[MIX_READ]);
        mixing_backward(wo, dwo, k, dW->compose_t[MIX_OUT]);
    }
    hct_attention_project_backward(s, b, L->x, g, b->dx);
    for (uint32_t i = 0; i < k; i++) hct_level_pre_queries_backward(s, b, i, L->x, &M->lev[i].qx, g, b->dx);
}

static const char *const TENSOR_NAMES[2] = {"mac.mix_read", "mac.mix_out"};

const hct_composition hct_compose_mac = {
    .id = 2,
    .name = "mac",
    .window_entries = N_ENTRIES,
    .n_tensors = 2,
    .tensor_names = TENSOR_NAMES,
    .layout = mac_layout,
    .forward = mac_forward,
    .backward = mac_backward,
};

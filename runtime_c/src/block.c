/* block.c — the forward of a block of tokens (MATH §1-§4; the composition
 * in between from compose/) shared by step,
 * process and train, the layout of its arrays in the session scratch, and
 * the commit that makes its results the session state (MATH §6). */
#include "block.h"
#include "compose/compose.h"
#include "mathfn.h"

void *hct_take_bytes(hct_carver *cv, uint64_t bytes) {
    uint64_t off = (cv->used + (HCT_ALIGN - 1)) & ~(uint64_t)(HCT_ALIGN - 1);
    cv->used = off + bytes;
    return cv->base ? (void *)(cv->base + off) : NULL;
}

real *hct_take(hct_carver *cv, uint64_t n) { return (real *)hct_take_bytes(cv, n * sizeof(real)); }

void *hct_take_own(hct_carver *cv, hct_block *b, uint64_t bytes, void *measuring) {
    b->own = hct_take_bytes(cv, bytes);
    return b->own ? b->own : measuring;
}

/* A level's rows before the convolution (MATH §3.1): its own even in
 * inference (a composition may interleave the levels token by token), and
 * their gradients. */
static void layout_conv(hct_carver *cv, const hecate_model *m, uint32_t T, bool training, hct_level_buf *V) {
    for (uint32_t j = 0; j < HCT_CONV_STREAMS; j++) {
        V->pre[j] = m->cfg.conv_k ? hct_take(cv, (uint64_t)T * m->cfg.d) : NULL;
        V->dpre[j] = m->cfg.conv_k && training ? hct_take(cv, (uint64_t)T * m->cfg.d) : NULL;
    }
}

/* The arrays of one memory level. */
static void layout_level(hct_carver *cv, const hecate_model *m, uint32_t T, bool training, hct_level_buf *V) {
    const hct_config *c = &m->cfg;
    uint64_t G = m->rule->n_gates, Td = (uint64_t)T * c->d;
    V->km = hct_take(cv, Td);
    V->vm = hct_take(cv, Td);
    V->qm = hct_take(cv, Td);
    V->knorm = hct_take(cv, T);
    V->qnorm = hct_take(cv, T);
    V->gate_pre = hct_take(cv, (uint64_t)T * G);
    V->gates = hct_take(cv, (uint64_t)T * G);
    V->y = hct_take(cv, Td);
    V->consts = hct_take(cv, hct_rule_consts_len(m->rule, c));
    if (training) {
        V->rule_tape = hct_take(cv, hct_rule_tape_len(m->rule, c, T));
        V->rule_work = hct_take(cv, hct_rule_work_len(m->rule, c));
    }
}

/* The arrays of one layer; `shared`: inference's layers after the first
 * reuse its arrays and carve only their window entries (the window caches
 * read them).  Inference's levels share one set; the layer's y is the first
 * level's when there is one level, else its own sum. */
static void layout_layer(hct_carver *cv, const hecate_model *m, uint32_t T, bool training,
                         const hct_layer_buf *shared, hct_layer_buf *L) {
    const hct_config *c = &m->cfg;
    uint64_t Td = (uint64_t)T * c->d;
    uint32_t E = m->composition->window_entries;
    if (shared) hct_bytes_copy(L, shared, sizeof *L);
    for (uint32_t e = 0; e < E; e++) {
        L->k[e] = hct_take(cv, Td);
        L->v[e] = hct_take(cv, Td);
    }
    if (shared) return;
    L->x = hct_take(cv, Td);
    L->q = hct_take(cv, Td);
    L->a = hct_take(cv, Td);
    for (uint32_t i = 0; i < c->n_levels; i++) {
        if (i > 0 && !training) {
            hct_bytes_copy(&L->lev[i], &L->lev[0], sizeof L->lev[i]);
            L->lev[i].consts = hct_take(cv, hct_rule_consts_len(m->rule, c));
        } else {
            layout_level(cv, m, T, training, &L->lev[i]);
        }
        layout_conv(cv, m, T, training, &L->lev[i]);
    }
    L->y = c->n_levels == 1 ? L->lev[0].y : hct_take(cv, Td);
    L->p = hct_take(cv, Td);
    if (training) L->probs = hct_take(cv, (uint64_t)T * c->n_heads * c->window * E);
}

uint64_t hct_block_layout(const hecate_model *m, uint32_t T, bool training, unsigned char *base,
                          hct_block *b) {
    const hct_config *c = &m->cfg;
    uint64_t d = c->d, G = m->rule->n_gates, Td = (uint64_t)T * d;
    uint32_t E = m->composition->window_entries;
    hct_carver cv = {base, 0};
    HCT_ASSERT(E >= 1 && E <= HCT_MAX_ENTRIES);
    hct_bytes_zero(b, sizeof *b);
    b->T = T;
    for (uint32_t l = 0; l < c->n_layers; l++)
        layout_layer(&cv, m, T, training, l > 0 && !training ? &b->lay[0] : NULL, &b->lay[l]);
    hct_block_select(b, 0);
    m->composition->layout(&cv, m, training, b);
    b->scores = hct_take(&cv, (uint64_t)c->n_heads * c->window * E); /* every head's probabilities (swa.c) */
    b->rows = (const real **)hct_take_bytes(&cv, 2 * (uint64_t)c->window * E * sizeof(const real *));
    b->turned = hct_rope(c) ? hct_take(&cv, 4 * (uint64_t)(c->d / c->n_heads)) : NULL;
    b->rule_scratch = hct_take(&cv, m->rule->scratch_len(c));
    if (training) {
        b->logits = hct_take(&cv, (uint64_t)T * c->vocab);
        b->dx = hct_take(&cv, Td);
        b->dq = hct_take(&cv, Td);
        for (uint32_t e = 0; e < E; e++) {
            b->dk[e] = hct_take(&cv, Td);
            b->dv[e] = hct_take(&cv, Td);
        }
        b->da = hct_take(&cv, Td);
        b->dkm = hct_take(&cv, Td);
        b->dvm = hct_take(&cv, Td);
        b->dqm = hct_take(&cv, Td);
        b->dy = hct_take(&cv, Td);
        b->dyl = hct_take(&cv, Td);
        b->dp = hct_take(&cv, Td);
        b->dgates = hct_take(&cv, (uint64_t)T * G);
        b->lin_work = hct_take(&cv, (uint64_t)T * (d + (c->vocab > d ? c->vocab : d)));
    }
    return cv.used;
}

/* Whether everything layer l of the block would commit is finite (D10,
 * D39): each memory's new state, CMS block-start state and gate input sum
 * (none under freeze_memory: the block wrote none), each convolution state,
 * and every window row the block made, all T and not only the last `window`
 * the cache keeps, so that whether a call fails does not depend on how it is
 * chunked.  A scan of the block's new state, O(state + T d) per layer: never
 * per token and element inside the loops. */
static bool layer_finite(const hecate_session *s, const hct_block *b, uint32_t l) {
    const hct_config *c = &s->model->cfg;
    size_t Td = (size_t)b->T * c->d;
    for (uint32_t i = 0; i < c->n_levels; i++) {
        uint32_t mem = hct_mem_index(c, l, i);
        if (!hct_memory_frozen(s)) {
            if (!hct_all_finite(s->mem_spare[mem], s->mem_len[mem])) return false;
            if (s->mem_at[mem] && !hct_all_finite(s->mem_at_spare[mem], s->mem_len[mem])) return false;
            if (s->mem_sum[mem] && !hct_all_finite(s->mem_sum_spare[mem], c->d)) return false;
        }
        if (c->conv_k && !hct_all_finite(s->conv_spare[mem], hct_conv_len(c))) return false; /* frozen too */
    }
    for (uint32_t e = 0; e < s->model->composition->window_entries; e++)
        if (!hct_all_finite(b->lay[l].k[e], Td) || !hct_all_finite(b->lay[l].v[e], Td)) return false;
    return true;
}

/* MATH §4.3: layer l reads h_l; h_{l+1} = h_l + p_l; the head reads the
 * last layer's p.  Layers before the last always produce p (the next one
 * reads it); the last only when logits are wanted. */
hecate_status hct_block_forward(hecate_session *s, hct_block *b, real *logits, bool training) {
    const hecate_model *m = s->model;
    const hct_config *c = &m->cfg;
    uint32_t d = c->d, T = b->T, last = c->n_layers - 1;
    size_t Td = (size_t)T * d;
    bool need_out = training || logits != NULL;
    for (uint32_t t = 0; t < T; t++) hct_model_row(&m->mat.emb, b->tokens[t], d, b->lay[0].x + (size_t)t * d);
    for (uint32_t l = 0; l <= last; l++) {
        hct_block_select(b, l);
        m->composition->forward(s, b, need_out || l < last, training); /* MATH §4: x -> p, memory, window */
        if (!layer_finite(s, b, l)) return HECATE_E_NONFINITE;
        if (l < last) { /* in place when inference shares x between layers */
            const hct_layer_buf *in = &b->lay[l];
            real *next = b->lay[l + 1].x;
            for (size_t i = 0; i < Td; i++) next[i] = in->x[i] + in->p[i];
        }
    }
    if (!need_out) return HECATE_OK;
    real *out = training ? b->logits : logits;
    hct_model_linear(&m->mat.head, b->L->p, T, d, c->vocab, out);
    if (!hct_all_finite(out, (size_t)T * c->vocab)) return HECATE_E_NONFINITE;
    return HECATE_OK;
}

static void swap(real **a, real **b) {
    real *t = *a;
    *a = *b;
    *b = t;
}

void hct_block_commit(hecate_session *s, const hct_block *b) {
    const hct_config *c = &s->model->cfg;
    uint32_t d = c->d, w = c->window, T = b->T, E = s->model->composition->window_entries;
    HCT_ASSERT(b->p0 == s->position); /* a block ran forward from the current state commits once */
    for (uint32_t l = 0; l < c->n_layers; l++) {
        const hct_layer_buf *L = &b->lay[l];
        for (uint32_t i = 0; i < c->n_levels && !hct_memory_frozen(s); i++) {
            uint32_t mem = hct_mem_index(c, l, i); /* the block wrote the spares: they become current */
            swap(&s->mem_state[mem], &s->mem_spare[mem]);
            if (s->mem_at[mem]) swap(&s->mem_at[mem], &s->mem_at_spare[mem]);
            if (s->mem_sum[mem]) swap(&s->mem_sum[mem], &s->mem_sum_spare[mem]);
        }
        for (uint32_t i = 0; i < c->n_levels && c->conv_k; i++) { /* a front-end buffer: frozen too */
            uint32_t mem = hct_mem_index(c, l, i);
            swap(&s->conv_state[mem], &s->conv_spare[mem]);
        }
        for (uint32_t t = T > w ? T - w : 0; t < T; t++) { /* slot: the token's entries (swa.c) */
            size_t slot = (size_t)((b->p0 + t) % w) * E * d, r = (size_t)t * d;
            for (uint32_t e = 0; e < E; e++) {
                hct_copy(s->ring_k[l] + slot + (size_t)e * d, L->k[e] + r, d);
                hct_copy(s->ring_v[l] + slot + (size_t)e * d, L->v[e] + r, d);
            }
        }
    }
    s->position += T;
}

/* train.c — profile 2: loss (MATH §5) and exact gradients of every parameter
 * over a chunk (MATH §7): head, every block's composition (memory level via
 * the rule's BPTT, attention), embedding.  The incoming state is a constant. */
#include "block.h"
#include "compose/compose.h"
#include "mathfn.h"

/* The largest of x[0..n), n >= 1, compared as `x[i] > mx` (a NaN never
 * replaces a value): exact in any order, so eight running maxima break the
 * chain of dependent compares (the compiler makes them lane maxima). */
static real row_max(const real *x, uint32_t n) {
    enum { K = 8 };
    real m[K];
    uint32_t i = n >= K ? K : 1;
    for (uint32_t j = 0; j < K; j++) m[j] = x[n >= K ? j : 0];
    for (; i + K <= n; i += K)
        for (uint32_t j = 0; j < K; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    real mx = m[0];
    for (uint32_t j = 1; j < K; j++) mx = m[j] > mx ? m[j] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

/* x[0] + ... + x[n-1] as hct_dot adds: lane sums over whole vectors, the
 * lanes in its fixed tree, then the tail in order. */
static real row_sum(const real *x, uint32_t n) {
    hct_vec acc = HCT_VSPLAT((real)0);
    uint32_t i = 0;
    for (; i + HCT_LANES <= n; i += HCT_LANES) acc = HCT_VADD(acc, HCT_VLOAD(x + i));
    real s = hct_vsum(acc);
    for (; i < n; i++) s += x[i];
    return s;
}

/* Mean cross-entropy over valid targets; turns b->logits into d loss / d logits. */
static real loss_and_dlogits(const hct_block *b, const uint32_t *targets, uint32_t V) {
    uint32_t n_valid = 0;
    for (uint32_t t = 0; t < b->T; t++) n_valid += targets[t] < V;
    real total = 0;
    for (uint32_t t = 0; t < b->T; t++) {
        real *row = b->logits + (size_t)t * V;
        if (targets[t] >= V) { hct_zero(row, V); continue; }
        real mx = row_max(row, V), logits_target = row[targets[t]];
        hct_exp_shifted(row, mx, V);
        real sum = row_sum(row, V);
        total += hct_log(sum) - (logits_target - mx); /* -log softmax[target], no log of an underflow */
        real inv = (real)1 / (sum * (real)n_valid);
        for (uint32_t i = 0; i < V; i++) row[i] *= inv;
        row[targets[t]] -= (real)1 / (real)n_valid;
    }
    return n_valid ? total / (real)n_valid : (real)0;
}

void hct_grad_linear_backward(const hecate_model *m, hct_block *b, const real *W, const real *X, const real *dY,
                              uint32_t T, uint32_t din, uint32_t dout, real *dW, real *dX) {
    uint32_t i = 0;
    while (i < m->n_tensors && b->grads + m->tensors[i].grad_offset != dW) i++;
    HCT_ASSERT(i < m->n_tensors && m->tensors[i].linear_grad);
    uint32_t bit = 1u << (i % 32);
    hct_linear_backward(W, X, dY, T, din, dout, dW, (b->grad_unwritten[i / 32] & bit) != 0, dX, b->lin_work);
    b->grad_unwritten[i / 32] &= ~bit;
}

/* Elements of tensor i in a gradient buffer (the tensors lie there in order). */
static size_t grad_len(const hecate_model *m, uint32_t i) {
    uint64_t end = i + 1 < m->n_tensors ? m->tensors[i + 1].grad_offset : m->n_params;
    return (size_t)(end - m->tensors[i].grad_offset);
}

/* The gradient buffer before the backward: every tensor zeroed but the
 * linear maps' weight gradients, whose first write stores (one pass over the
 * buffer fewer; D66). */
static void grads_begin(const hecate_model *m, hct_block *b, real *grads) {
    b->grads = grads;
    hct_bytes_zero(b->grad_unwritten, sizeof b->grad_unwritten);
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        if (m->tensors[i].linear_grad) b->grad_unwritten[i / 32] |= 1u << (i % 32);
        else hct_zero(grads + m->tensors[i].grad_offset, grad_len(m, i));
    }
}

/* MATH §7 through the stack (§4.3): the head gives dp of the last layer;
 * each layer's backward adds d h_l into dx, which is both dp of the layer
 * below and (residual h_l = h_{l-1} + p_{l-1}) part of its d h. */
static void backward(hecate_session *s, hct_block *b, hct_weights *g) {
    const hecate_model *m = s->model;
    uint32_t d = m->cfg.d, T = b->T;
    size_t Td = (size_t)T * d;
    hct_zero(b->dp, Td);
    hct_grad_linear_backward(m, b, m->w.head, b->lay[m->cfg.n_layers - 1].p, b->logits, T, d, m->cfg.vocab,
                             g->head, b->dp);
    hct_zero(b->dx, Td);
    for (uint32_t l = m->cfg.n_layers; l-- > 0;) {
        hct_block_select(b, l);
        m->composition->backward(s, b, g);
        if (l > 0) hct_copy(b->dp, b->dx, Td);
    }
    for (uint32_t t = 0; t < T; t++) hct_axpy(g->emb + (size_t)b->tokens[t] * d, 1, b->dx + (size_t)t * d, d);
}

hecate_status hecate_train_chunk(hecate_session *s, const uint32_t *tokens, const uint32_t *targets,
                                 size_t n, hecate_real *grads, hecate_real *loss) {
    if (!s || !tokens || !targets || !grads || !loss || s->magic != HCT_SESSION_MAGIC) return HECATE_E_NULL_ARG;
    if (s->opts.max_train_tokens == 0) return HECATE_E_NOT_TRAINABLE;
    if (n == 0) return HECATE_E_BAD_ARG;
    if (n > s->opts.max_train_tokens) return HECATE_E_CHUNK_TOO_LONG;
    const hecate_model *m = s->model;
    for (size_t t = 0; t < n; t++) if (tokens[t] >= m->cfg.vocab) return HECATE_E_TOKEN_RANGE;
    hct_block b;
    uint64_t used = hct_block_layout(m, (uint32_t)n, true, s->scratch, &b);
    HCT_ASSERT(used <= s->scratch_bytes); /* init sized the scratch for max_train_tokens */
    b.tokens = tokens;
    b.p0 = s->position;
    hecate_status st = hct_block_forward(s, &b, NULL, true);
    if (st != HECATE_OK) return st;
    real l = loss_and_dlogits(&b, targets, m->cfg.vocab);
    grads_begin(m, &b, grads);
    hct_weights g;
    hct_bind_weights(m, grads, &g);
    backward(s, &b, &g);
    for (uint32_t w = 0; w < (HCT_MAX_TENSORS + 31) / 32; w++) /* every backward reaches every linear map (a
                                                 * frozen memory's with zeros): none is left as the buffer held it */
        HCT_ASSERT(b.grad_unwritten[w] == 0);
    if (!hct_all_finite(grads, (size_t)m->n_params) || !hct_all_finite(&l, 1)) return HECATE_E_NONFINITE;
    *loss = l;
    hct_block_commit(s, &b);
    return HECATE_OK;
}

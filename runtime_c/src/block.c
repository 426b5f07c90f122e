/* block.c — the forward of a block of tokens (MATH §1-§4; the composition
 * in between from compose/) shared by step,
 * process and train, the layout of its arrays in the session scratch, and
 * the commit that makes its results the session state (MATH §6). */
#include "block.h"
#include "compose/compose.h"
#include "mathfn.h"

typedef struct carver { unsigned char *base; uint64_t used; } carver;

static real *take(carver *c, uint64_t n) {
    uint64_t off = (c->used + (HCT_ALIGN - 1)) & ~(uint64_t)(HCT_ALIGN - 1);
    c->used = off + n * sizeof(real);
    return c->base ? (real *)(void *)(c->base + off) : NULL;
}

uint64_t hct_block_layout(const hecate_model *m, uint32_t T, bool training, unsigned char *base,
                          hct_block *b) {
    const hct_config *c = &m->cfg;
    uint64_t d = c->d, G = m->rule->n_gates, Td = (uint64_t)T * d;
    carver cv = {base, 0};
    hct_bytes_zero(b, sizeof *b);
    b->T = T;
    b->x = take(&cv, Td);
    b->q = take(&cv, Td);
    b->k = take(&cv, Td);
    b->v = take(&cv, Td);
    b->a = take(&cv, Td);
    b->scores = take(&cv, c->window);
    b->km = take(&cv, Td);
    b->vm = take(&cv, Td);
    b->qm = take(&cv, Td);
    b->knorm = take(&cv, T);
    b->qnorm = take(&cv, T);
    b->gate_pre = take(&cv, (uint64_t)T * G);
    b->gates = take(&cv, (uint64_t)T * G);
    b->y = take(&cv, Td);
    b->gy = take(&cv, Td);
    b->o = take(&cv, Td);
    b->p = take(&cv, Td);
    b->z = take(&cv, Td);
    b->rule_scratch = take(&cv, m->rule->scratch_len(c));
    if (training) {
        b->probs = take(&cv, (uint64_t)T * c->n_heads * c->window);
        b->logits = take(&cv, (uint64_t)T * c->vocab);
        b->rule_tape = take(&cv, m->rule->tape_len(c, T));
        b->rule_work = take(&cv, m->rule->work_len(c));
        b->dx = take(&cv, Td);
        b->dq = take(&cv, Td);
        b->dk = take(&cv, Td);
        b->dv = take(&cv, Td);
        b->da = take(&cv, Td);
        b->dkm = take(&cv, Td);
        b->dvm = take(&cv, Td);
        b->dqm = take(&cv, Td);
        b->dy = take(&cv, Td);
        b->do_ = take(&cv, Td);
        b->dp = take(&cv, Td);
        b->dgates = take(&cv, (uint64_t)T * G);
        b->lin_work = take(&cv, (uint64_t)T * (d + (c->vocab > d ? c->vocab : d)));
    }
    return cv.used;
}

hecate_status hct_block_forward(hecate_session *s, hct_block *b, real *logits, bool training) {
    const hecate_model *m = s->model;
    const hct_config *c = &m->cfg;
    uint32_t d = c->d, T = b->T;
    bool need_out = training || logits != NULL;
    for (uint32_t t = 0; t < T; t++) hct_model_row(m, m->w.emb, b->tokens[t], d, b->x + (size_t)t * d);
    b->state = s->mem_spare[0];
    m->composition->forward(s, b, need_out, training); /* MATH §4: x -> p, memory and window state */
    if (!b->rule_io.frozen && !hct_all_finite(b->state, s->mem_len[0])) return HECATE_E_NONFINITE;
    if (!need_out) return HECATE_OK;
    real *out = training ? b->logits : logits;
    hct_model_linear(m, m->w.head, b->p, T, d, c->vocab, out);
    if (!hct_all_finite(out, (size_t)T * c->vocab)) return HECATE_E_NONFINITE;
    return HECATE_OK;
}

void hct_block_commit(hecate_session *s, const hct_block *b) {
    uint32_t d = s->model->cfg.d, w = s->model->cfg.window, T = b->T;
    if (!b->rule_io.frozen) { /* the block wrote the spare state: it becomes current */
        real *tmp = s->mem_state[0];
        s->mem_state[0] = s->mem_spare[0];
        s->mem_spare[0] = tmp;
    }
    for (uint32_t t = T > w ? T - w : 0; t < T; t++) {
        size_t slot = (size_t)((b->p0 + t) % w) * d;
        hct_copy(s->ring_k + slot, b->k + (size_t)t * d, d);
        hct_copy(s->ring_v + slot, b->v + (size_t)t * d, d);
    }
    s->position += T;
}

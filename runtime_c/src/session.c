/* session.c — sessions in caller memory: size query, arena carving, reset,
 * step/process (MATH §6: both run the same block forward) and accessors. */
#include "block.h"
#include "mathfn.h"

#define DEFAULT_BLOCK 16u

static uint64_t align_up(uint64_t x) { return (x + (HCT_ALIGN - 1)) & ~(uint64_t)(HCT_ALIGN - 1); }

static hecate_status resolve_opts(const hecate_session_opts *in, hecate_session_opts *out) {
    hecate_session_opts o = {0, 0, 0};
    if (in) o = *in;
    if (o.max_chunk == 0) o.max_chunk = DEFAULT_BLOCK;
    if (o.max_chunk > HECATE_MAX_CHUNK || o.max_train_tokens > HECATE_MAX_TRAIN_TOKENS) return HECATE_E_BAD_ARG;
    if (o.flags & ~(uint32_t)(HECATE_SESSION_FREEZE_MEMORY | HECATE_SESSION_FIXED_SCHEDULE)) return HECATE_E_BAD_ARG;
    *out = o;
    return HECATE_OK;
}

/* Offsets of the session regions; returns total bytes (UINT64_MAX on overflow). */
typedef struct layout {
    uint64_t mem[HCT_MAX_MEMS][4], sum[HCT_MAX_MEMS][2], conv[HCT_MAX_MEMS][2];
    uint64_t ring_k[HCT_MAX_LAYERS], ring_v[HCT_MAX_LAYERS];
    uint64_t rope; /* 0 without rotary positions */
    uint64_t scratch, scratch_bytes, total;
} layout;

static void plan(const hecate_model *m, const hecate_session_opts *o, layout *L) {
    const hct_config *c = &m->cfg;
    uint64_t state = m->rule->state_len(c) * sizeof(real), ring = (uint64_t)hct_ring_len(m) * sizeof(real);
    uint64_t at = align_up(sizeof(hecate_session));
    for (uint32_t i = 0; i < hct_n_mems(c); i++) { /* state, spare, and CMS block-start state + spare */
        uint32_t copies = hct_keeps_block_start(c, i % c->n_levels) ? 4 : 2;
        for (uint32_t j = 0; j < 4; j++) {
            L->mem[i][j] = j < copies ? at : 0;
            if (j < copies) at = align_up(at + state);
        }
        for (uint32_t j = 0; j < 2; j++) { /* a gated level's block input sum + spare (MATH §6.2) */
            L->sum[i][j] = hct_gated(c, i % c->n_levels) ? at : 0;
            if (L->sum[i][j]) at = align_up(at + (uint64_t)c->d * sizeof(real));
        }
        for (uint32_t j = 0; j < 2; j++) { /* the convolution state + spare (MATH §3.1) */
            L->conv[i][j] = c->conv_k ? at : 0;
            if (L->conv[i][j]) at = align_up(at + (uint64_t)hct_conv_len(c) * sizeof(real));
        }
    }
    for (uint32_t l = 0; l < c->n_layers; l++) {
        L->ring_k[l] = at; at = align_up(at + ring);
        L->ring_v[l] = at; at = align_up(at + ring);
    }
    L->rope = hct_rope(c) ? at : 0; /* MATH §2: (window, 2, h) cos and signed sin per offset */
    if (L->rope) at = align_up(at + (uint64_t)c->window * 2 * (c->d / c->n_heads) * sizeof(real));
    hct_block b;
    uint64_t inf = hct_block_layout(m, o->max_chunk, false, NULL, &b);
    uint64_t trn = o->max_train_tokens ? hct_block_layout(m, o->max_train_tokens, true, NULL, &b) : 0;
    L->scratch = at;
    L->scratch_bytes = inf > trn ? inf : trn;
    L->total = at + L->scratch_bytes;
}

/* Options with defaults filled in, and the layout they give. */
static hecate_status resolve(const hecate_model *m, const hecate_session_opts *opts,
                             hecate_session_opts *o, layout *L) {
    hecate_status st = resolve_opts(opts, o);
    if (st != HECATE_OK) return st;
    if (o->max_train_tokens && m->n_q8) return HECATE_E_NOT_TRAINABLE; /* no gradients of int8 (D29) */
    plan(m, o, L);
    return L->total > (uint64_t)SIZE_MAX ? HECATE_E_BAD_ARG : HECATE_OK;
}

static bool valid_model(const hecate_model *m) { return m && m->magic == HCT_MODEL_MAGIC; }
static bool valid_session(const hecate_session *s) { return s && s->magic == HCT_SESSION_MAGIC; }

hecate_status hecate_session_bytes(const hecate_model *model, const hecate_session_opts *opts, size_t *bytes) {
    if (!valid_model(model) || !bytes) return HECATE_E_NULL_ARG;
    hecate_session_opts o;
    layout L;
    hecate_status st = resolve(model, opts, &o, &L);
    if (st != HECATE_OK) return st;
    *bytes = (size_t)L.total;
    return HECATE_OK;
}

hecate_status hecate_session_init(void *mem, size_t mem_bytes, const hecate_model *model,
                                  const hecate_session_opts *opts, hecate_session **out) {
    if (!out) return HECATE_E_NULL_ARG;
    *out = NULL;
    if (!mem || !valid_model(model)) return HECATE_E_NULL_ARG;
    if ((uintptr_t)mem % 16u) return HECATE_E_BUFFER_ALIGN;
    hecate_session_opts o;
    layout L;
    hecate_status st = resolve(model, opts, &o, &L);
    if (st != HECATE_OK) return st;
    if (L.total > (uint64_t)mem_bytes) return HECATE_E_BUFFER_TOO_SMALL;
    unsigned char *base = (unsigned char *)mem;
    hecate_session *s = (hecate_session *)mem;
    hct_bytes_zero(s, sizeof *s);
    s->model = model;
    s->opts = o;
    s->block = o.max_chunk;
    for (uint32_t i = 0; i < hct_n_mems(&model->cfg); i++) {
        s->mem_len[i] = (size_t)model->rule->state_len(&model->cfg); /* fits: plan() checked the total */
        s->mem_state[i] = (real *)(void *)(base + L.mem[i][0]);
        s->mem_spare[i] = (real *)(void *)(base + L.mem[i][1]);
        s->mem_at[i] = L.mem[i][2] ? (real *)(void *)(base + L.mem[i][2]) : NULL;
        s->mem_at_spare[i] = L.mem[i][3] ? (real *)(void *)(base + L.mem[i][3]) : NULL;
        s->mem_sum[i] = L.sum[i][0] ? (real *)(void *)(base + L.sum[i][0]) : NULL;
        s->mem_sum_spare[i] = L.sum[i][1] ? (real *)(void *)(base + L.sum[i][1]) : NULL;
        s->conv_state[i] = L.conv[i][0] ? (real *)(void *)(base + L.conv[i][0]) : NULL;
        s->conv_spare[i] = L.conv[i][1] ? (real *)(void *)(base + L.conv[i][1]) : NULL;
    }
    for (uint32_t l = 0; l < model->cfg.n_layers; l++) {
        s->ring_k[l] = (real *)(void *)(base + L.ring_k[l]);
        s->ring_v[l] = (real *)(void *)(base + L.ring_v[l]);
    }
    if (L.rope) {
        s->rope = (real *)(void *)(base + L.rope);
        hct_rope_table(s->rope, model->cfg.window, model->cfg.d / model->cfg.n_heads);
    }
    s->scratch = base + L.scratch;
    s->scratch_bytes = (size_t)L.scratch_bytes;
    s->magic = HCT_SESSION_MAGIC;
    hecate_session_reset(s);
    *out = s;
    return HECATE_OK;
}

hecate_status hecate_session_reset(hecate_session *s) {
    if (!valid_session(s)) return HECATE_E_NULL_ARG;
    const hecate_model *m = s->model;
    for (uint32_t i = 0; i < hct_n_mems(&m->cfg); i++) {
        m->rule->state_init(s->mem_state[i], &m->cfg);
        if (s->mem_at[i]) hct_copy(s->mem_at[i], s->mem_state[i], s->mem_len[i]);
        if (s->mem_sum[i]) hct_zero(s->mem_sum[i], m->cfg.d);
        if (s->conv_state[i]) hct_zero(s->conv_state[i], hct_conv_len(&m->cfg)); /* no earlier tokens */
    }
    size_t ring = hct_ring_len(m);
    for (uint32_t l = 0; l < m->cfg.n_layers; l++) {
        hct_zero(s->ring_k[l], ring);
        hct_zero(s->ring_v[l], ring);
    }
    s->position = 0;
    return HECATE_OK;
}

hecate_status hecate_session_position(const hecate_session *s, uint64_t *position) {
    if (!valid_session(s) || !position) return HECATE_E_NULL_ARG;
    *position = s->position;
    return HECATE_OK;
}

hecate_status hecate_session_memory(const hecate_session *s, uint32_t level, const hecate_real **state,
                                    size_t *n_elems) {
    if (!valid_session(s) || !state || !n_elems) return HECATE_E_NULL_ARG;
    if (level >= hct_n_mems(&s->model->cfg)) return HECATE_E_BAD_ARG;
    *state = s->mem_state[level];
    *n_elems = s->mem_len[level];
    return HECATE_OK;
}

hecate_status hecate_session_memory_read(const hecate_session *s, uint32_t level, const hecate_real **state,
                                         size_t *n_elems) {
    hecate_status st = hecate_session_memory(s, level, state, n_elems);
    if (st == HECATE_OK && s->mem_at[level]) *state = s->mem_at[level];
    return st;
}

hecate_status hecate_process(hecate_session *s, const uint32_t *tokens, size_t n, hecate_real *logits) {
    if (!valid_session(s) || (n && !tokens)) return HECATE_E_NULL_ARG;
    const hecate_model *m = s->model;
    for (size_t i = 0; i < n; i++) if (tokens[i] >= m->cfg.vocab) return HECATE_E_TOKEN_RANGE;
    for (size_t off = 0; off < n; off += s->block) {
        uint32_t T = (uint32_t)(n - off < s->block ? n - off : s->block);
        hct_block b;
        uint64_t used = hct_block_layout(m, T, false, s->scratch, &b);
        HCT_ASSERT(used <= s->scratch_bytes); /* init sized the scratch for s->block tokens */
        b.tokens = tokens + off;
        b.p0 = s->position;
        hecate_status st = hct_block_forward(s, &b, logits ? logits + off * m->cfg.vocab : NULL, false);
        if (st != HECATE_OK) return st;
        hct_block_commit(s, &b);
    }
    return HECATE_OK;
}

hecate_status hecate_step(hecate_session *s, uint32_t token, hecate_real *logits) {
    return hecate_process(s, &token, 1, logits);
}

/* rules/loop.c — the token loop and tape layout shared by every rule (loop.h). */
#include "loop.h"

uint64_t hct_tape_len(uint64_t state_len, uint64_t extra_len, uint32_t T) {
    return ((uint64_t)T + 1) * state_len + (uint64_t)T * extra_len;
}

const real *hct_tape_state(const hct_rule_io *io, uint32_t t, uint64_t state_len) {
    return io->tape + (size_t)t * (size_t)state_len;
}

const real *hct_tape_extra(const hct_rule_io *io, uint32_t t, uint64_t state_len, uint64_t extra_len) {
    return io->tape + (size_t)(io->T + 1) * (size_t)state_len + (size_t)t * (size_t)extra_len;
}

hct_token_grad hct_token_slices(const hct_rule_grad *g, uint32_t t, uint32_t n_gates) {
    const hct_rule_io *io = g->fwd;
    size_t at = (size_t)t * io->d, gat = (size_t)t * n_gates;
    hct_token_grad v = {io->k + at, io->v + at, io->q + at, io->gates + gat, g->dy + at,
                        g->dk + at, g->dv + at, g->dq + at, g->dgates + gat};
    return v;
}

hecate_status hct_params_unused(const hct_config *cfg, int first) {
    for (int i = first; i < 8; i++)
        if (cfg->rule_params[i] != 0.0f) return HECATE_E_FILE_CONFIG;
    return HECATE_OK;
}

real hct_unit_hash(size_t i) {
    uint32_t u = (uint32_t)i * 2654435761u; /* mod 2^32 */
    return (real)u / (real)4294967295.0;
}

/* ---- the per-token interface (rule.h): token loop with CMS periods ---- */

static bool cms(const hct_rule_io *io) { return io->period > 1; }

/* offset of token t in its CMS block (0: the block starts at t) */
static uint32_t block_offset(const hct_rule_io *io, uint32_t t) {
    return cms(io) ? (uint32_t)((io->pos0 + t) % io->period) : 0;
}

static bool fires(const hct_rule_io *io, uint32_t t) { return block_offset(io, t) + 1 == (cms(io) ? io->period : 1); }

/* MATH §6.1: the state reads see without a write (frozen sessions). */
static const real *readable(const hct_rule_io *io) { return cms(io) ? io->at_in : io->state_in; }

static void run_tokens(const hct_rule_io *io) {
    const hct_rule *r = io->rule;
    uint64_t n = r->state_len(io->cfg), e = r->extra_len(io->cfg);
    if (io->frozen) {
        for (uint32_t t = 0; t < io->T; t++) r->read(io, t, readable(io), io->y + (size_t)t * io->d);
        return;
    }
    const real *src = io->state_in, *at = io->at_in;
    if (io->tape) hct_copy(io->tape, io->state_in, (size_t)n);
    for (uint32_t t = 0; t < io->T; t++) {
        real *dst = io->tape ? io->tape + (size_t)(t + 1) * n : io->state;
        real *extra = io->tape ? (real *)(uintptr_t)hct_tape_extra(io, t, n, e) : io->scratch;
        real *y = io->y + (size_t)t * io->d;
        /* at a block start the state is its own block-start state */
        r->token(io, t, block_offset(io, t) ? at : src, src, dst, y, extra);
        if (cms(io)) {
            if (!fires(io, t)) {
                r->read(io, t, at, y);
            } else if (io->tape) {
                at = dst;
            } else {
                hct_copy(io->at_out, dst, (size_t)n);
                at = io->at_out;
            }
        }
        src = dst;
    }
    if (io->tape) hct_copy(io->state, src, (size_t)n);
    if (cms(io) && at != io->at_out) hct_copy(io->at_out, at, (size_t)n);
}

void hct_rule_forward(const hct_rule_io *io) { run_tokens(io); }

static void add_into(real *dst, const real *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* Reverse of run_tokens.  ds: gradient of the state after the token; dat:
 * of the current block's start state from the block's later tokens (their
 * inner gradients and reads), folded into ds at the block start, where the
 * two states are one (MATH §6.1, §7). */
static void backward_tokens(const hct_rule_grad *g0) {
    const hct_rule_io *io = g0->fwd;
    const hct_rule *r = io->rule;
    uint32_t d = io->d, G = r->n_gates;
    size_t n = (size_t)r->state_len(io->cfg);
    uint64_t e = r->extra_len(io->cfg);
    hct_rule_grad g = *g0;
    real *ds = g0->work, *dat = ds + n;
    g.work = dat + n;
    hct_zero(ds, n);
    if (cms(io)) hct_zero(dat, n); /* period 1: every token starts a block, dat is ds */
    for (uint32_t tt = io->T; tt-- > 0;) {
        const real *dy = g.dy + (size_t)tt * d;
        real *dq = g.dq + (size_t)tt * d;
        if (io->frozen) {
            hct_zero(g.dk + (size_t)tt * d, d);
            hct_zero(g.dv + (size_t)tt * d, d);
            hct_zero(g.dgates + (size_t)tt * G, G);
            hct_zero(dq, d);
            r->read_backward(&g, tt, readable(io), dy, NULL, dq);
            continue;
        }
        const real *in = hct_tape_state(io, tt, n);
        uint32_t off = block_offset(io, tt);
        const real *at = off == 0 ? in : tt >= off ? hct_tape_state(io, tt - off, n) : io->at_in;
        hct_token_step st = {tt, at, in, in + n, hct_tape_extra(io, tt, n, e), fires(io, tt) ? dy : NULL, ds,
                             off == 0 ? ds : dat};
        r->token_backward(&g, &st);
        if (!st.dy) r->read_backward(&g, tt, at, dy, st.dat, dq);
        if (cms(io) && off == 0) {
            add_into(ds, dat, n);
            hct_zero(dat, n);
        }
    }
}

void hct_rule_backward(const hct_rule_grad *g) { backward_tokens(g); }

uint64_t hct_rule_tape_len(const hct_rule *rule, const hct_config *cfg, uint32_t T) {
    return hct_tape_len(rule->state_len(cfg), rule->extra_len(cfg), T);
}

uint64_t hct_rule_work_len(const hct_rule *rule, const hct_config *cfg) {
    return rule->work_len(cfg) + 2 * rule->state_len(cfg);
}

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

/* The state before token t (t = 0 .. T; token 0's is state_in, which a
 * pre-write read may need before run() has copied it to the tape). */
static const real *state_before(const hct_rule_io *io, uint32_t t, size_t n) {
    if (t == 0) return io->state_in;
    return io->tape ? hct_tape_state(io, t, n) : io->state;
}

/* Token t's gradient point (t = 0 .. T): its block-start state P (MATH
 * §6.1), the state itself when the block starts at t (or period 1).
 * Without a tape, a block that starts inside the call keeps P in at_out
 * (run() copies it there at the block start, before that token's write). */
static const real *point(const hct_rule_io *io, uint32_t t, size_t n) {
    uint32_t off = block_offset(io, t);
    if (off == 0) return state_before(io, t, n);
    if (t < off) return io->at_in;
    return io->tape ? hct_tape_state(io, t - off, n) : io->at_out;
}

void hct_rule_run(const hct_rule_io *io, uint32_t t0, uint32_t t1) {
    const hct_rule *r = io->rule;
    size_t n = (size_t)r->state_len(io->cfg);
    uint64_t e = r->extra_len(io->cfg);
    if (t0 == 0 && r->prepare) r->prepare(io, io->consts);
    if (t0 == 0 && io->tape && !io->frozen) hct_copy(io->tape, io->state_in, n);
    for (uint32_t t = t0; t < t1; t++) {
        real *y = io->y + (size_t)t * io->d;
        if (io->frozen) {
            r->read(io, t, readable(io), y);
            continue;
        }
        const real *src = state_before(io, t, n), *at = point(io, t, n);
        if (cms(io) && !io->tape && block_offset(io, t) == 0) { /* P := A, kept past the write */
            hct_copy(io->at_out, src, n);
            at = io->at_out;
        }
        real *dst = io->tape ? io->tape + (size_t)(t + 1) * n : io->state;
        real *extra = io->tape ? (real *)(uintptr_t)hct_tape_extra(io, t, n, e) : io->scratch;
        r->token(io, t, at, src, dst, y, extra);
        if (cms(io) && !fires(io, t)) r->read(io, t, at, y);
    }
    if (t1 < io->T || io->frozen) return;
    if (io->tape) hct_copy(io->state, hct_tape_state(io, io->T, n), n);
    if (cms(io)) { /* P after the call: the new block's start when one begins at T */
        const real *P = point(io, io->T, n);
        if (P != io->at_out) hct_copy(io->at_out, P, n);
    }
}

void hct_rule_forward(const hct_rule_io *io) { hct_rule_run(io, 0, io->T); }

void hct_rule_pre_read(const hct_rule_io *io, const real *q, uint32_t t, real *y) {
    hct_rule_io pre; /* io with the pre-read queries (copied by hand: no memcpy freestanding) */
    hct_bytes_copy(&pre, io, sizeof pre);
    pre.q = q;
    io->rule->read(&pre, t, io->frozen ? readable(io) : point(io, t, (size_t)io->rule->state_len(io->cfg)), y);
}

static void add_into(real *dst, const real *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* The backward's state gradients at the head of g->work: ds, of the state
 * after the token being run back; dat, of the current block's start state
 * from the block's later tokens (their inner gradients and reads), folded
 * into ds at the block start, where the two states are one (MATH §6.1, §7).
 * The rule's own work follows them. */
typedef struct state_grads { real *ds, *dat; hct_rule_grad g; } state_grads;

static state_grads state_grads_of(const hct_rule_grad *g0) {
    size_t n = (size_t)g0->fwd->rule->state_len(g0->fwd->cfg);
    state_grads v = {g0->work, g0->work + n, *g0};
    v.g.work = v.dat + n;
    return v;
}

void hct_rule_backward_begin(const hct_rule_grad *g) {
    state_grads sg = state_grads_of(g);
    size_t n = (size_t)g->fwd->rule->state_len(g->fwd->cfg);
    hct_zero(sg.ds, n);
    if (cms(g->fwd)) hct_zero(sg.dat, n); /* period 1: every token starts a block, dat is ds */
}

void hct_rule_backward_tokens(const hct_rule_grad *g0, uint32_t t0, uint32_t t1) {
    const hct_rule_io *io = g0->fwd;
    const hct_rule *r = io->rule;
    uint32_t d = io->d, G = r->n_gates;
    size_t n = (size_t)r->state_len(io->cfg);
    uint64_t e = r->extra_len(io->cfg);
    state_grads sg = state_grads_of(g0);
    hct_rule_grad *g = &sg.g;
    for (uint32_t tt = t1; tt-- > t0;) {
        const real *dy = g->dy + (size_t)tt * d;
        real *dq = g->dq + (size_t)tt * d;
        if (io->frozen) {
            hct_zero(g->dk + (size_t)tt * d, d);
            hct_zero(g->dv + (size_t)tt * d, d);
            hct_zero(g->dgates + (size_t)tt * G, G);
            hct_zero(dq, d);
            r->read_backward(g, tt, readable(io), dy, NULL, dq);
            continue;
        }
        const real *in = hct_tape_state(io, tt, n), *at = point(io, tt, n);
        bool start = block_offset(io, tt) == 0;
        hct_token_step st = {tt, at, in, in + n, hct_tape_extra(io, tt, n, e), fires(io, tt) ? dy : NULL, sg.ds,
                             start ? sg.ds : sg.dat};
        r->token_backward(g, &st);
        if (!st.dy) r->read_backward(g, tt, at, dy, st.dat, dq);
        if (cms(io) && start) {
            add_into(sg.ds, sg.dat, n);
            hct_zero(sg.dat, n);
        }
    }
}

void hct_rule_backward(const hct_rule_grad *g) {
    hct_rule_backward_begin(g);
    hct_rule_backward_tokens(g, 0, g->fwd->T);
}

void hct_rule_pre_read_backward(const hct_rule_grad *g0, const real *q, uint32_t t, const real *dy, real *dq) {
    const hct_rule_io *io = g0->fwd;
    size_t n = (size_t)io->rule->state_len(io->cfg);
    hct_rule_io pre;
    hct_bytes_copy(&pre, io, sizeof pre);
    pre.q = q;
    state_grads sg = state_grads_of(g0);
    sg.g.fwd = &pre;
    if (io->frozen) {
        io->rule->read_backward(&sg.g, t, readable(io), dy, NULL, dq);
        return;
    }
    /* after token t's backward (and its block-start fold) ds is the gradient of the state before t */
    real *ds = block_offset(io, t) == 0 ? sg.ds : sg.dat;
    io->rule->read_backward(&sg.g, t, point(io, t, n), dy, ds, dq);
}

uint64_t hct_rule_tape_len(const hct_rule *rule, const hct_config *cfg, uint32_t T) {
    return hct_tape_len(rule->state_len(cfg), rule->extra_len(cfg), T);
}

uint64_t hct_rule_work_len(const hct_rule *rule, const hct_config *cfg) {
    return rule->work_len(cfg) + 2 * rule->state_len(cfg);
}

uint64_t hct_rule_consts_len(const hct_rule *rule, const hct_config *cfg) {
    return rule->consts_len ? rule->consts_len(cfg) : 0;
}

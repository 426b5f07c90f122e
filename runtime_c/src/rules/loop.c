/* rules/loop.c — the token loop and tape layout shared by every rule (loop.h). */
#include "loop.h"
#include "../mathfn.h"

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
    hct_token_grad v = {.k = io->k + at, .v = io->v + at, .q = io->q + at, .gates = io->gates + gat,
                        .dy = g->dy + at, .dk = g->dk + at, .dv = g->dv + at, .dq = g->dq + at,
                        .dgates = g->dgates + gat};
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

static bool gated(const hct_rule_io *io) { return io->freq_w != NULL; }

/* The level keeps a block-start state P apart from its state (MATH §6.1, §6.2). */
static bool cms(const hct_rule_io *io) { return io->period > 1 || gated(io); }

/* offset of token t in its CMS block (0: the block starts at t) */
static uint32_t block_offset(const hct_rule_io *io, uint32_t t) {
    return cms(io) ? (uint32_t)((io->pos0 + t) % io->period) : 0;
}

static bool fires(const hct_rule_io *io, uint32_t t) { return block_offset(io, t) + 1 == (cms(io) ? io->period : 1); }

/* A gated level's gate pre-activations, one slot per token (those of its
 * blocks' last tokens used), after the tape's states and extras. */
static real *gate_tape(const hct_rule_io *io) {
    const hct_rule *r = io->rule;
    return io->tape + hct_tape_len(r->state_len(io->cfg), r->extra_len(io->cfg), io->T);
}

static uint64_t gate_tape_len(const hct_config *cfg, uint32_t T) {
    return cfg->flags & HCT_FLAG_FREQ_GATES ? T : 0;
}

/* MATH §6.2: adds x_t to the block's input sum; at the block's last token
 * evaluates the gate on the mean (pre-activation kept on the tape), clears
 * the sum and returns whether the gate is shut.  Neither a NaN gate nor a
 * shut one hides a NaN (D39): a NaN pre-activation is written into the
 * block's update `dst` (n scalars), and a shut gate does not discard an
 * update that is not finite (the gate counts as open), so the block's finite
 * check sees both; an O(n) scan only where a shut gate fires. */
static bool gate_shut(const hct_rule_io *io, uint32_t t, real *dst, size_t n) {
    uint32_t d = io->d;
    real *S = io->sum_out;
    const real *x = io->x + (size_t)t * d;
    bool start = block_offset(io, t) == 0;
    for (uint32_t i = 0; i < d; i++) S[i] = (start ? (real)0 : S[i]) + x[i];
    if (!fires(io, t)) return false;
    real pre = hct_dot(io->freq_w, S, d) / (real)io->period + io->freq_b[0];
    hct_zero(S, d);
    if (io->tape) gate_tape(io)[t] = pre;
    if (io->fixed_schedule) return false;
    if (!(pre == pre)) {
        dst[0] = pre;
        return false;
    }
    return pre <= 0 && hct_all_finite(dst, n);
}

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

hct_plain_token hct_plain_token_at(const hct_rule_io *io, uint32_t t) {
    size_t n = (size_t)io->rule->state_len(io->cfg);
    uint64_t e = io->rule->extra_len(io->cfg);
    return (hct_plain_token){.in = state_before(io, t, n),
                             .out = io->tape ? io->tape + (size_t)(t + 1) * n : io->state,
                             .y = io->y + (size_t)t * io->d,
                             .extra = io->tape ? (real *)(uintptr_t)hct_tape_extra(io, t, n, e) : io->scratch};
}

void hct_rule_run(const hct_rule_io *io, uint32_t t0, uint32_t t1) {
    const hct_rule *r = io->rule;
    size_t n = (size_t)r->state_len(io->cfg);
    HCT_ASSERT(t0 <= t1 && t1 <= io->T);
    if (t0 == 0 && r->prepare) r->prepare(io, io->consts);
    if (t0 == 0 && io->tape && !io->frozen) hct_copy(io->tape, io->state_in, n);
    if (t0 == 0 && gated(io) && !io->frozen) hct_copy(io->sum_out, io->sum_in, io->d);
    bool done = r->tokens_forward && !io->frozen && !cms(io) && r->tokens_forward(io, t0, t1);
    for (uint32_t t = t0; !done && t < t1; t++) {
        if (io->frozen) {
            r->read(io, io->q + (size_t)t * io->d, readable(io), io->y + (size_t)t * io->d);
            continue;
        }
        hct_plain_token p = hct_plain_token_at(io, t);
        const real *at = point(io, t, n);
        if (cms(io) && !io->tape && block_offset(io, t) == 0) { /* P := A, kept past the write */
            hct_copy(io->at_out, p.in, n);
            at = io->at_out;
        }
        r->token(io, t, at, p.in, p.out, p.y, p.extra);
        bool shut = gated(io) && gate_shut(io, t, p.out, n);
        if (shut) hct_copy(p.out, at, n); /* MATH §6.2: the block's update is discarded, the state stays P */
        if (cms(io) && (shut || !fires(io, t))) r->read(io, io->q + (size_t)t * io->d, at, p.y);
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
    io->rule->read(io, q, io->frozen ? readable(io) : point(io, t, (size_t)io->rule->state_len(io->cfg)), y);
}

static void add_into(real *dst, const real *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

/* The backward's state gradients at the head of g->work: ds, of the state
 * after the token being run back; dat, of the current block's start state
 * from the block's later tokens (their inner gradients and reads), folded
 * into ds at the block start, where the two states are one (MATH §6.1, §7).
 * With frequency gates (MATH §6.2) then: a1, a shut gate's discarded state
 * rematerialized; dq, its read's query gradient; c, d pre / C of the gate
 * of the block being run back (0 when it ends after the chunk).  The
 * rule's own work follows them. */
typedef struct state_grads { real *ds, *dat, *a1, *dq, *c; hct_rule_grad g; } state_grads;

static uint64_t gate_work_len(const hct_config *cfg, uint64_t state_len) {
    return cfg->flags & HCT_FLAG_FREQ_GATES ? state_len + cfg->d + 1 : 0;
}

static state_grads state_grads_of(const hct_rule_grad *g0) {
    const hct_rule_io *io = g0->fwd;
    size_t n = (size_t)io->rule->state_len(io->cfg);
    state_grads v = {.ds = g0->work, .dat = g0->work + n, .g = *g0};
    if (gate_work_len(io->cfg, n)) {
        v.a1 = v.dat + n;
        v.dq = v.a1 + n;
        v.c = v.dq + io->d;
    }
    v.g.work = v.dat + n + gate_work_len(io->cfg, n);
    return v;
}

/* Backward of a gated level's block-end token (MATH §6.2): the read of A''
 * = P + h (A' - P), the straight-through gate gradient (h as the multiplier
 * of the block's update: dh = <dA'', A' - P>, d pre = dh g (1 - g)), then
 * dA' = h dA'' into the rule's token backward, or dP += dA'' when shut (the
 * token's write then has no gradient at all). */
static void gate_backward(state_grads *sg, hct_token_step *st, const real *dy, real *dq) {
    const hct_rule_io *io = sg->g.fwd;
    const hct_rule *r = io->rule;
    size_t n = (size_t)r->state_len(io->cfg);
    uint32_t d = io->d, G = r->n_gates, t = st->t;
    real pre = gate_tape(io)[t];
    bool open = io->fixed_schedule || !(pre <= 0); /* as the forward: NaN is open */
    const real *a1 = st->out; /* A' (the tape holds A'', equal to it when open) */
    if (!open) { /* rematerialize A' from the token's inputs (its y lands in sg->dq, cleared next) */
        r->token(io, t, st->at, st->in, sg->a1, sg->dq, io->scratch);
        a1 = sg->a1;
    }
    hct_zero(sg->dq, d);
    r->read_backward(&sg->g, io->q + (size_t)t * d, st->out, dy, sg->ds, sg->dq); /* ds = dA'' */
    if (!io->fixed_schedule) {
        real dh = 0, g = hct_sigmoid(pre);
        for (size_t i = 0; i < n; i++) dh += sg->ds[i] * (a1[i] - st->at[i]);
        real dpre = dh * g * ((real)1 - g);
        *sg->c = dpre / (real)io->period;
        sg->g.dfreq_b[0] += dpre;
    }
    st->dy = NULL;
    if (open) {
        r->token_backward(&sg->g, st);
    } else {
        hct_zero(sg->g.dk + (size_t)t * d, d);
        hct_zero(sg->g.dv + (size_t)t * d, d);
        hct_zero(sg->g.dgates + (size_t)t * G, G);
        if (st->dat != sg->ds) { /* dP += dA'', dA' = 0 (period 1: P is the state before, ds already) */
            add_into(st->dat, sg->ds, n);
            hct_zero(sg->ds, n);
        }
    }
    hct_copy(dq, sg->dq, d); /* the token backward left dq 0 (no read of its own) */
}

/* MATH §6.2: the gate's mean-input term at token t of its block, with c =
 * d pre / C: dx_t += c w, dw += c x_t, and at the chunk start c times the
 * sum carried in (the earlier inputs are constants, §7); c clears at the
 * block's start. */
static void block_input_backward(const state_grads *sg, uint32_t t) {
    const hct_rule_io *io = sg->g.fwd;
    uint32_t d = io->d;
    real c = *sg->c;
    if (c != 0) {
        hct_axpy(sg->g.dx + (size_t)t * d, c, io->freq_w, d);
        hct_axpy(sg->g.dfreq_w, c, io->x + (size_t)t * d, d);
        if (t == 0 && block_offset(io, 0) > 0) hct_axpy(sg->g.dfreq_w, c, io->sum_in, d);
    }
    if (block_offset(io, t) == 0) *sg->c = 0;
}

void hct_rule_backward_begin(const hct_rule_grad *g) {
    state_grads sg = state_grads_of(g);
    size_t n = (size_t)g->fwd->rule->state_len(g->fwd->cfg);
    hct_zero(sg.ds, n);
    if (cms(g->fwd)) hct_zero(sg.dat, n); /* period 1: every token starts a block, dat is ds */
    if (gated(g->fwd)) *sg.c = 0;
}

hct_token_step hct_plain_step(const hct_rule_grad *g, real *ds, uint32_t t) {
    const hct_rule_io *io = g->fwd;
    size_t n = (size_t)io->rule->state_len(io->cfg);
    const real *in = hct_tape_state(io, t, n);
    return (hct_token_step){.t = t, .at = point(io, t, n), .in = in, .out = in + n,
                            .extra = hct_tape_extra(io, t, n, io->rule->extra_len(io->cfg)),
                            .dy = g->dy + (size_t)t * io->d, .ds = ds, .dat = ds};
}

void hct_rule_backward_tokens(const hct_rule_grad *g0, uint32_t t0, uint32_t t1) {
    const hct_rule_io *io = g0->fwd;
    const hct_rule *r = io->rule;
    uint32_t d = io->d, G = r->n_gates;
    size_t n = (size_t)r->state_len(io->cfg);
    uint64_t e = r->extra_len(io->cfg);
    state_grads sg = state_grads_of(g0);
    hct_rule_grad *g = &sg.g;
    HCT_ASSERT(t0 <= t1 && t1 <= io->T && (io->tape || io->frozen)); /* the forward kept its tape */
    if (r->tokens_backward && !io->frozen && !cms(io) && r->tokens_backward(g, sg.ds, t0, t1)) return;
    for (uint32_t tt = t1; tt-- > t0;) {
        const real *dy = g->dy + (size_t)tt * d;
        real *dq = g->dq + (size_t)tt * d;
        if (io->frozen) {
            hct_zero(g->dk + (size_t)tt * d, d);
            hct_zero(g->dv + (size_t)tt * d, d);
            hct_zero(g->dgates + (size_t)tt * G, G);
            hct_zero(dq, d);
            r->read_backward(g, io->q + (size_t)tt * d, readable(io), dy, NULL, dq);
            continue;
        }
        const real *in = hct_tape_state(io, tt, n), *at = point(io, tt, n);
        bool start = block_offset(io, tt) == 0, fire = fires(io, tt);
        hct_token_step st = {.t = tt, .at = at, .in = in, .out = in + n, .extra = hct_tape_extra(io, tt, n, e),
                             .dy = fire ? dy : NULL, .ds = sg.ds, .dat = start ? sg.ds : sg.dat};
        if (gated(io) && fire) {
            gate_backward(&sg, &st, dy, dq);
        } else {
            r->token_backward(g, &st);
            if (!st.dy) r->read_backward(g, io->q + (size_t)tt * d, at, dy, st.dat, dq);
        }
        if (gated(io)) block_input_backward(&sg, tt);
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
    state_grads sg = state_grads_of(g0);
    if (io->frozen) {
        io->rule->read_backward(&sg.g, q, readable(io), dy, NULL, dq);
        return;
    }
    /* after token t's backward (and its block-start fold) ds is the gradient of the state before t */
    real *ds = block_offset(io, t) == 0 ? sg.ds : sg.dat;
    io->rule->read_backward(&sg.g, q, point(io, t, n), dy, ds, dq);
}

uint64_t hct_rule_tape_len(const hct_rule *rule, const hct_config *cfg, uint32_t T) {
    return hct_tape_len(rule->state_len(cfg), rule->extra_len(cfg), T) + gate_tape_len(cfg, T);
}

uint64_t hct_rule_work_len(const hct_rule *rule, const hct_config *cfg) {
    return rule->work_len(cfg) + 2 * rule->state_len(cfg) + gate_work_len(cfg, rule->state_len(cfg));
}

uint64_t hct_rule_consts_len(const hct_rule *rule, const hct_config *cfg) {
    return rule->consts_len ? rule->consts_len(cfg) : 0;
}

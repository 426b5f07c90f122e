/* rules/loop.h — what the rules share around the token loop of loop.c
 * (hct_rule_forward / hct_rule_backward, rule.h): the tape layout and its
 * views, the per-token slices of a backward's arrays, and small helpers. */
#ifndef HECATE_RULES_LOOP_H
#define HECATE_RULES_LOOP_H
#include "rule.h"

/* Scalars of a tape: states 0 .. T, then extra_len scalars per token. */
uint64_t hct_tape_len(uint64_t state_len, uint64_t extra_len, uint32_t T);

/* Tape views for token t: the state before it and its extra values. */
const real *hct_tape_state(const hct_rule_io *io, uint32_t t, uint64_t state_len);
const real *hct_tape_extra(const hct_rule_io *io, uint32_t t, uint64_t state_len, uint64_t extra_len);

/* Token t's slices of the backward's inputs and outputs. */
typedef struct hct_token_grad {
    const real *k, *v, *q, *gates, *dy;
    real *dk, *dv, *dq, *dgates;
} hct_token_grad;

hct_token_grad hct_token_slices(const hct_rule_grad *g, uint32_t t, uint32_t n_gates);
/* Token t of a level's forward that is not frozen (hct_rule_run, and a
 * plain level's tokens_forward, rule.h): the state before it (state_in for
 * t = 0), where its write goes (its tape slot, or the state), its read row
 * and where its extra goes (its tape slot, or io->scratch, the same for
 * every token). */
typedef struct hct_plain_token {
    const real *in;
    real *out, *y, *extra;
} hct_plain_token;
hct_plain_token hct_plain_token_at(const hct_rule_io *io, uint32_t t);

/* Token t's step in a plain level (rule.h, tokens_backward): its states from
 * the tape, its read's gradient, ds as the state gradient (and dat). */
hct_token_step hct_plain_step(const hct_rule_grad *g, real *ds, uint32_t t);

/* HECATE_OK if the rule's hyper-parameter slots from `first` on are all 0
 * (unused), else HECATE_E_FILE_CONFIG. */
hecate_status hct_params_unused(const hct_config *cfg, int first);

/* MATH §3.5: hash(i) = (i 2654435761 mod 2^32) / (2^32 - 1), in [0, 1]; the
 * deterministic init of the MLP rules and Lattice. */
real hct_unit_hash(size_t i);

#endif

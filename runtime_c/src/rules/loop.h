/* rules/loop.h — the token loop every rule shares: in place on the session's
 * state for inference, out of place into the tape for training (so the
 * backward can walk the states in reverse), plus the tape views and the
 * per-token slices of a backward's arrays. */
#ifndef HECATE_RULES_LOOP_H
#define HECATE_RULES_LOOP_H
#include "rule.h"

/* One token of a rule from state `in` to `out` (they may be the same buffer):
 * writes y (d) and may keep per-token values in `extra` (extra_len scalars:
 * a tape slot when training, else io->scratch). */
typedef void (*hct_token_fn)(const hct_rule_io *io, uint32_t t, const real *in, real *out, real *y,
                             real *extra);

/* Runs `token` over io->T tokens of a state of state_len scalars.  Tape:
 * states 0 .. T, then extra_len scalars per token.  Inference uses the
 * first extra_len scalars of io->scratch for `extra`. */
void hct_rule_loop(const hct_rule_io *io, hct_token_fn token, uint64_t state_len, uint64_t extra_len);
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

/* HECATE_OK if the rule's hyper-parameter slots from `first` on are all 0
 * (unused), else HECATE_E_FILE_CONFIG. */
hecate_status hct_params_unused(const hct_config *cfg, int first);

/* MATH §3.5: hash(i) = (i 2654435761 mod 2^32) / (2^32 - 1), in [0, 1]; the
 * deterministic init of the MLP rules and Lattice. */
real hct_unit_hash(size_t i);

#endif

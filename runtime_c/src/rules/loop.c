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

/* Inference writes token by token into io->state; training writes state t+1
 * straight into the tape (state 0 is a copy of the incoming one), then
 * copies the last one out. */
void hct_rule_loop(const hct_rule_io *io, hct_token_fn token, uint64_t state_len, uint64_t extra_len) {
    size_t n = (size_t)state_len;
    const real *src = io->state_in;
    if (io->tape) hct_copy(io->tape, io->state_in, n);
    for (uint32_t t = 0; t < io->T; t++) {
        real *dst = io->tape ? io->tape + (size_t)(t + 1) * n : io->state;
        real *extra = io->tape ? (real *)(uintptr_t)hct_tape_extra(io, t, state_len, extra_len) : io->scratch;
        token(io, t, src, dst, io->y + (size_t)t * io->d, extra);
        src = dst;
    }
    if (io->tape) hct_copy(io->state, src, n);
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

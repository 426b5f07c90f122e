/* rules/ops.c — the low-level ops API of hecate.h: a rule's recurrence on
 * caller arrays, through the same vtable the model uses (no copy of the math). */
#include "rule.h"

static hecate_status lookup(uint32_t rule_id, uint32_t d, const hct_rule **out) {
    *out = hct_rule_by_id(rule_id);
    return (*out && d >= 1 && d <= 4096) ? HECATE_OK : HECATE_E_BAD_ARG;
}

hecate_status hecate_rule_shape(uint32_t rule_id, uint32_t d, uint32_t *n_gates, size_t *state_len) {
    const hct_rule *rule;
    if (!n_gates || !state_len) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(rule_id, d, &rule);
    if (st != HECATE_OK) return st;
    *n_gates = rule->n_gates;
    *state_len = (size_t)rule->state_len(d);
    return HECATE_OK;
}

hecate_status hecate_rule_init(uint32_t rule_id, uint32_t d, hecate_real *state) {
    const hct_rule *rule;
    if (!state) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(rule_id, d, &rule);
    if (st != HECATE_OK) return st;
    rule->state_init(state, d);
    return HECATE_OK;
}

hecate_status hecate_rule_forward(uint32_t rule_id, uint32_t d, uint32_t T, const hecate_real *k,
                                  const hecate_real *v, const hecate_real *q, const hecate_real *gates,
                                  hecate_real *state, hecate_real *y, hecate_real *scratch) {
    const hct_rule *rule;
    if (T > 0 && (!k || !v || !q || !gates || !y)) return HECATE_E_NULL_ARG;
    if (!state || !scratch) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(rule_id, d, &rule);
    if (st != HECATE_OK) return st;
    if (!hct_all_finite(state, (size_t)rule->state_len(d))) return HECATE_E_NONFINITE;
    hct_rule_io io;
    hct_bytes_zero(&io, sizeof io);
    io.d = d;
    io.T = T;
    io.k = k;
    io.v = v;
    io.q = q;
    io.gates = gates;
    io.state_in = state; /* the matrix rules read each element before writing it: in place is safe */
    io.state = state;
    io.y = y;
    io.scratch = scratch;
    if (T > 0) rule->forward(&io);
    return HECATE_OK;
}

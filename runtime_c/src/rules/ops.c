/* rules/ops.c — the low-level ops API of hecate.h: a rule's recurrence on
 * caller arrays, through the same vtable the model uses (no copy of the math). */
#include "rule.h"

/* The rule of a spec and a config holding its d and hyper-parameters. */
static hecate_status lookup(const hecate_rule_spec *spec, const hct_rule **out, hct_config *cfg) {
    hct_bytes_zero(cfg, sizeof *cfg);
    *out = hct_rule_by_id(spec->rule);
    if (!*out || spec->d < 1 || spec->d > 4096) return HECATE_E_BAD_ARG;
    cfg->d = spec->d;
    cfg->rule = spec->rule;
    for (int i = 0; i < HECATE_RULE_PARAMS; i++) {
        float v = spec->params[i];
        if (!(v == v) || v > FLT_MAX || v < -FLT_MAX) return HECATE_E_BAD_ARG;
        cfg->rule_params[i] = v;
    }
    cfg->retention = spec->retention;
    cfg->retention_param = spec->retention_param;
    if ((*out)->check_params(cfg) != HECATE_OK) return HECATE_E_BAD_ARG;
    return hct_rule_check_retention(*out, cfg) == HECATE_OK ? HECATE_OK : HECATE_E_BAD_ARG;
}

static uint32_t period(const hecate_rule_spec *spec) { return spec->period > 1 ? spec->period : 1; }

/* scalars of the op's state: the rule's, twice with a CMS period */
static uint64_t op_state_len(const hecate_rule_spec *spec, const hct_rule *rule, const hct_config *cfg) {
    return (period(spec) > 1 ? 2 : 1) * rule->state_len(cfg);
}

hecate_status hecate_rule_shape(const hecate_rule_spec *spec, uint32_t *n_gates, size_t *state_len,
                                size_t *scratch_len) {
    const hct_rule *rule;
    hct_config cfg;
    if (!spec || !n_gates || !state_len || !scratch_len) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, &cfg);
    if (st != HECATE_OK) return st;
    *n_gates = rule->n_gates;
    *state_len = (size_t)op_state_len(spec, rule, &cfg);
    *scratch_len = (size_t)(rule->scratch_len(&cfg) + hct_rule_consts_len(rule, &cfg));
    return HECATE_OK;
}

hecate_status hecate_rule_tensor_len(const hecate_rule_spec *spec, uint32_t index, size_t *len) {
    const hct_rule *rule;
    hct_config cfg;
    if (!spec || !len) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, &cfg);
    if (st != HECATE_OK) return st;
    if (index >= rule->n_tensors) return HECATE_E_BAD_ARG;
    uint32_t ndim = 0, shape[2] = {1, 1};
    rule->tensor_shape(&cfg, index, &ndim, shape);
    *len = (size_t)shape[0] * shape[1];
    return HECATE_OK;
}

hecate_status hecate_rule_init(const hecate_rule_spec *spec, hecate_real *state) {
    const hct_rule *rule;
    hct_config cfg;
    if (!spec || !state) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, &cfg);
    if (st != HECATE_OK) return st;
    rule->state_init(state, &cfg);
    if (period(spec) > 1) hct_copy(state + rule->state_len(&cfg), state, (size_t)rule->state_len(&cfg));
    return HECATE_OK;
}

/* The checks and the io every op call shares: spec, required pointers, the
 * rule's tensors and a finite incoming state. */
static hecate_status op_io(const hecate_rule_spec *spec, uint32_t T, const hecate_real *k,
                           const hecate_real *v, const hecate_real *q, const hecate_real *x,
                           const hecate_real *gates, const hecate_real *const *tensors,
                           const hecate_real *state, hct_config *cfg, hct_rule_io *io) {
    const hct_rule *rule;
    if (T > 0 && (!k || !v || !q || !gates)) return HECATE_E_NULL_ARG;
    if (!spec || !state) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, cfg);
    if (st != HECATE_OK) return st;
    if (rule->n_tensors && !tensors) return HECATE_E_NULL_ARG;
    for (uint32_t i = 0; i < rule->n_tensors; i++) if (!tensors[i]) return HECATE_E_NULL_ARG;
    if (!hct_all_finite(state, (size_t)op_state_len(spec, rule, cfg))) return HECATE_E_NONFINITE;
    hct_bytes_zero(io, sizeof *io);
    io->rule = rule;
    io->cfg = cfg;
    io->d = spec->d;
    io->T = T;
    io->k = k;
    io->v = v;
    io->q = q;
    io->x = x ? x : k;
    io->gates = gates;
    io->tensors = tensors;
    io->state_in = state;
    io->period = period(spec);
    io->pos0 = spec->position;
    io->at_in = state + rule->state_len(cfg);
    return HECATE_OK;
}

hecate_status hecate_rule_forward(const hecate_rule_spec *spec, uint32_t T, const hecate_real *k,
                                  const hecate_real *v, const hecate_real *q, const hecate_real *x,
                                  const hecate_real *gates, const hecate_real *const *tensors,
                                  hecate_real *state, hecate_real *y, hecate_real *scratch) {
    hct_config cfg;
    hct_rule_io io;
    if ((T > 0 && !y) || !scratch) return HECATE_E_NULL_ARG;
    hecate_status st = op_io(spec, T, k, v, q, x, gates, tensors, state, &cfg, &io);
    if (st != HECATE_OK) return st;
    io.state = state; /* every rule supports running in place (rule.h) */
    io.at_out = state + io.rule->state_len(&cfg);
    io.y = y;
    io.scratch = scratch;
    io.consts = scratch + io.rule->scratch_len(&cfg);
    if (T > 0) hct_rule_forward(&io);
    return HECATE_OK;
}

/* pointer p advanced by i rows of `len` scalars (NULL stays NULL) */
#define HCT_ROW(p, i, len) ((p) ? (p) + (uint64_t)(i) * (len) : (p))

/* How far one sequence of a batched op call reaches in each buffer: its
 * state (state_len), its (T, d) rows and its (T, n_gates) gates. */
typedef struct {
    uint64_t state, rows, gates;
} batch_strides;

static hecate_status strides_of(const hecate_rule_spec *spec, uint32_t T, const hecate_real *state,
                                batch_strides *b) {
    const hct_rule *rule;
    hct_config cfg;
    if (!spec || !state) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, &cfg);
    if (st != HECATE_OK) return st;
    b->state = op_state_len(spec, rule, &cfg);
    b->rows = (uint64_t)T * spec->d;
    b->gates = (uint64_t)T * rule->n_gates;
    return HECATE_OK;
}

hecate_status hecate_rule_forward_batch(const hecate_rule_spec *spec, uint32_t n, uint32_t T,
                                        const hecate_real *k, const hecate_real *v, const hecate_real *q,
                                        const hecate_real *x, const hecate_real *gates,
                                        const hecate_real *const *tensors, hecate_real *state, hecate_real *y,
                                        hecate_real *scratch) {
    batch_strides b;
    hecate_status st = strides_of(spec, T, state, &b);
    if (st != HECATE_OK) return st;
    if (!hct_all_finite(state, (size_t)(b.state * n))) return HECATE_E_NONFINITE;
    for (uint32_t i = 0; i < n; i++) {
        st = hecate_rule_forward(spec, T, HCT_ROW(k, i, b.rows), HCT_ROW(v, i, b.rows), HCT_ROW(q, i, b.rows),
                                 HCT_ROW(x, i, b.rows), HCT_ROW(gates, i, b.gates), tensors, state + i * b.state,
                                 HCT_ROW(y, i, b.rows), scratch);
        if (st != HECATE_OK) return st;
    }
    return HECATE_OK;
}

/* work of hecate_rule_backward: tape, backward work, scratch, consts, final op state, y, dx */
static uint64_t backward_len(const hct_rule *rule, const hct_config *cfg, uint32_t T) {
    return hct_rule_tape_len(rule, cfg, T) + hct_rule_work_len(rule, cfg) + rule->scratch_len(cfg) +
           hct_rule_consts_len(rule, cfg) + 2 * rule->state_len(cfg) + 2 * (uint64_t)T * cfg->d;
}

hecate_status hecate_rule_backward_len(const hecate_rule_spec *spec, uint32_t T, size_t *work_len) {
    const hct_rule *rule;
    hct_config cfg;
    if (!spec || !work_len) return HECATE_E_NULL_ARG;
    hecate_status st = lookup(spec, &rule, &cfg);
    if (st != HECATE_OK) return st;
    uint64_t n = backward_len(rule, &cfg, T);
    if (n > (uint64_t)SIZE_MAX) return HECATE_E_BAD_ARG;
    *work_len = (size_t)n;
    return HECATE_OK;
}

hecate_status hecate_rule_backward(const hecate_rule_spec *spec, uint32_t T, const hecate_real *k,
                                   const hecate_real *v, const hecate_real *q, const hecate_real *x,
                                   const hecate_real *gates, const hecate_real *const *tensors,
                                   const hecate_real *state, const hecate_real *dy, hecate_real *dk,
                                   hecate_real *dv, hecate_real *dq, hecate_real *dx, hecate_real *dgates,
                                   hecate_real *const *dtensors, hecate_real *work) {
    hct_config cfg;
    hct_rule_io io;
    if (!work || (T > 0 && (!dy || !dk || !dv || !dq || !dgates))) return HECATE_E_NULL_ARG;
    hecate_status st = op_io(spec, T, k, v, q, x, gates, tensors, state, &cfg, &io);
    if (st != HECATE_OK) return st;
    if (io.rule->n_tensors && !dtensors) return HECATE_E_NULL_ARG;
    if (T == 0) return HECATE_OK;
    size_t n = (size_t)T * spec->d;
    io.tape = work;
    real *rule_work = work + hct_rule_tape_len(io.rule, &cfg, T);
    io.scratch = rule_work + hct_rule_work_len(io.rule, &cfg);
    io.consts = io.scratch + io.rule->scratch_len(&cfg);
    io.state = io.consts + hct_rule_consts_len(io.rule, &cfg);
    io.at_out = io.state + io.rule->state_len(&cfg);
    io.y = io.at_out + io.rule->state_len(&cfg);
    real *dx_all = io.y + n;
    hct_rule_forward(&io);
    hct_zero(dx_all, n);
    hct_rule_grad g = {.fwd = &io, .dy = dy, .dk = dk, .dv = dv, .dq = dq, .dx = dx_all, .dgates = dgates,
                       .dtensors = dtensors, .work = rule_work};
    hct_rule_backward(&g);
    for (size_t i = 0; i < n; i++) {
        if (!x) dk[i] += dx_all[i];
        else if (dx) dx[i] = dx_all[i];
    }
    return HECATE_OK;
}

hecate_status hecate_rule_backward_batch(const hecate_rule_spec *spec, uint32_t n, uint32_t T,
                                         const hecate_real *k, const hecate_real *v, const hecate_real *q,
                                         const hecate_real *x, const hecate_real *gates,
                                         const hecate_real *const *tensors, const hecate_real *state,
                                         const hecate_real *dy, hecate_real *dk, hecate_real *dv, hecate_real *dq,
                                         hecate_real *dx, hecate_real *dgates, hecate_real *const *dtensors,
                                         hecate_real *work) {
    batch_strides b;
    hecate_status st = strides_of(spec, T, state, &b);
    if (st != HECATE_OK) return st;
    for (uint32_t i = 0; i < n; i++) {
        st = hecate_rule_backward(spec, T, HCT_ROW(k, i, b.rows), HCT_ROW(v, i, b.rows), HCT_ROW(q, i, b.rows),
                                  HCT_ROW(x, i, b.rows), HCT_ROW(gates, i, b.gates), tensors, state + i * b.state,
                                  HCT_ROW(dy, i, b.rows), HCT_ROW(dk, i, b.rows), HCT_ROW(dv, i, b.rows),
                                  HCT_ROW(dq, i, b.rows), HCT_ROW(dx, i, b.rows), HCT_ROW(dgates, i, b.gates),
                                  dtensors, work);
        if (st != HECATE_OK) return st;
    }
    return HECATE_OK;
}

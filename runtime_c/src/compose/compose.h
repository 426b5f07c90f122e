/* compose/compose.h — the composition vtable (MATH §4): how attention and
 * the memory level combine inside a block, from the block input b->x to the
 * output b->p that the LM head reads, and back.  Adding a composition = one
 * file in compose/ plus one line in compose/registry.c. */
#ifndef HECATE_COMPOSE_H
#define HECATE_COMPOSE_H
#include "../block.h"

typedef struct hct_composition {
    uint32_t id;
    const char *name;
    /* attention entries per token in the window (MATH §2; MAC: 2, §4.4):
     * the window cache holds window x entries keys and values per block */
    uint32_t window_entries;
    bool reads_before_write; /* the levels' reads before each write feed attention (MAC) */
    /* the composition's own parameter tensors, "blk<l>.<name>", each of
     * shape (n_levels), stored after the block's attention when the block
     * has more than one level (FORMAT.md) */
    uint32_t n_tensors;
    const char *const *tensor_names;
    /* b->x -> b->p (only when need_out), the block's memory state and its
     * attention keys/values (always: they are session state) */
    void (*forward)(const hecate_session *s, hct_block *b, bool need_out, bool training);
    /* b->dp -> b->dx (added) and every weight gradient of the block */
    void (*backward)(const hecate_session *s, hct_block *b, hct_weights *grad);
} hct_composition;

/* NULL if the id is unknown. */
const hct_composition *hct_composition_by_id(uint32_t id);

/* Attention projections of rows `in` (T, d) into b->q (when need_q), b->k,
 * b->v, then causal window attention of every token into b->a (when need_q). */
void hct_attention_forward(const hecate_session *s, hct_block *b, const real *in, bool need_q);

/* Backward of hct_attention_forward from b->da: weight gradients and
 * din (T, d) += the input gradient. */
void hct_attention_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din);

/* The projections alone (a composition that runs the window attention a
 * token at a time, MAC): L->q, L->k, L->v of rows `in` (T, d); backward from
 * b->dq, b->dk, b->dv: weight gradients and din (T, d) += the input gradient. */
void hct_attention_project(const hecate_session *s, hct_block *b, const real *in, bool need_q);
void hct_attention_project_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad,
                                    real *din);

/* The output gate (output_gate.c, MATH §4): L->gy = sigmoid(L->y),
 * L->o = L->a * L->gy, L->p = L->o Wo; backward from b->dp: Wo's gradient,
 * b->da and b->dy overwritten (b->do_ its scratch). */
void hct_output_gate_forward(const hecate_session *s, hct_block *b);
void hct_output_gate_backward(const hecate_session *s, hct_block *b, hct_weights *grad);

#endif

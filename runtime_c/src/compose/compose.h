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
    /* attention entries per token in the window (MATH §2), 1 ..
     * HCT_MAX_ENTRIES, each a key and a value row: the block carves L->k[e],
     * L->v[e] and their gradients, entry 0 takes the attention input's
     * projections, the composition fills the others; the window cache keeps
     * window x entries of them per block */
    uint32_t window_entries;
    /* the composition's own parameter tensors, "blk<l>.<name>", each of
     * shape (n_levels), stored after the block's attention when the block
     * has more than one level (FORMAT.md) */
    uint32_t n_tensors;
    const char *const *tensor_names;
    /* carve the composition's own arrays for b->T tokens (training: its
     * backward's too) from cv after the block's shared ones: a struct its
     * file defines, at b->own (hct_take_own); it may re-point L->y, which
     * the block gives the first level's read when there is one level */
    void (*layout)(hct_carver *cv, const hecate_model *m, bool training, hct_block *b);
    /* b->x -> b->p (only when need_out), the block's memory state and its
     * attention keys/values (always: they are session state) */
    void (*forward)(const hecate_session *s, hct_block *b, bool need_out, bool training);
    /* b->dp -> b->dx (added) and every weight gradient of the block */
    void (*backward)(const hecate_session *s, hct_block *b, hct_weights *grad);
} hct_composition;

/* NULL if the id is unknown. */
const hct_composition *hct_composition_by_id(uint32_t id);

/* Attention projections of rows `in` (T, d) into b->q (when need_q),
 * b->k[0], b->v[0], then causal window attention of every token into b->a
 * (when need_q). */
void hct_attention_forward(const hecate_session *s, hct_block *b, const real *in, bool need_q);

/* Backward of hct_attention_forward from b->da: weight gradients and
 * din (T, d) += the input gradient. */
void hct_attention_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad, real *din);

/* The projections alone, for a composition that runs the window attention
 * a token at a time: L->q (when need_q), L->k[0], L->v[0] of rows `in`
 * (T, d); backward from b->dq, b->dk[0], b->dv[0]: weight gradients and
 * din (T, d) += the input gradient. */
void hct_attention_project(const hecate_session *s, hct_block *b, const real *in, bool need_q);
void hct_attention_project_backward(const hecate_session *s, hct_block *b, const real *in, hct_weights *grad,
                                    real *din);

/* The output gate (output_gate.c, MATH §4) in a composition's own arrays
 * of one layer: gy = sigmoid(L->y), o = L->a * gy, L->p = o Wo; backward
 * from b->dp: Wo's gradient, b->da and b->dy overwritten. */
typedef struct hct_output_gate {
    real *gy;                 /* (T, d) sigmoid(y) */
    real *o;                  /* (T, d) the gated attention */
} hct_output_gate;

void hct_output_gate_layout(hct_carver *cv, uint64_t Td, hct_output_gate *g);
void hct_output_gate_forward(const hecate_session *s, hct_block *b, const hct_output_gate *g);
void hct_output_gate_backward(const hecate_session *s, hct_block *b, const hct_output_gate *g, hct_weights *grad);

#endif

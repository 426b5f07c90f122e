/* compose/mag.c — MAG, memory as gate (MATH §4): attention and the memory
 * both read the block input x; o = a * sigmoid(y); p = o Wo. */
#include "compose.h"

/* MAG's own arrays: each layer's output gate (inference's layers share one). */
typedef struct mag_arrays { hct_output_gate gate[HCT_MAX_LAYERS]; } mag_arrays;

static void mag_layout(hct_carver *cv, const hecate_model *m, bool training, hct_block *b) {
    mag_arrays measuring, *A = hct_take_own(cv, b, sizeof *A, &measuring);
    for (uint32_t l = 0; l < m->cfg.n_layers; l++) {
        if (l > 0 && !training) A->gate[l] = A->gate[0];
        else hct_output_gate_layout(cv, (uint64_t)b->T * m->cfg.d, &A->gate[l]);
    }
}

static const hct_output_gate *gate_of(const hct_block *b) { return &((const mag_arrays *)b->own)->gate[b->layer]; }

static void mag_forward(const hecate_session *s, hct_block *b, bool need_out, bool training) {
    hct_attention_forward(s, b, b->L->x, need_out);
    hct_memory_forward(s, b, b->L->x, training);
    if (need_out) hct_output_gate_forward(s, b, gate_of(b));
}

static void mag_backward(const hecate_session *s, hct_block *b, hct_weights *g) {
    hct_output_gate_backward(s, b, gate_of(b), g);
    hct_memory_backward(s, b, b->L->x, g, b->dx);
    hct_attention_backward(s, b, b->L->x, g, b->dx);
}

const hct_composition hct_compose_mag = {
    .id = 0,
    .name = "mag",
    .window_entries = 1,
    .layout = mag_layout,
    .forward = mag_forward,
    .backward = mag_backward,
};

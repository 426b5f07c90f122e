/* compose/mag.c — MAG, memory as gate (MATH §4): attention and the memory
 * both read the block input x; o = a * sigmoid(y); p = o Wo. */
#include "compose.h"

static void mag_forward(const hecate_session *s, hct_block *b, bool need_out, bool training) {
    hct_attention_forward(s, b, b->L->x, need_out);
    hct_memory_forward(s, b, b->L->x, training);
    if (need_out) hct_output_gate_forward(s, b);
}

static void mag_backward(const hecate_session *s, hct_block *b, hct_weights *g) {
    hct_output_gate_backward(s, b, g);
    hct_memory_backward(s, b, b->L->x, g, b->dx);
    hct_attention_backward(s, b, b->L->x, g, b->dx);
}

const hct_composition hct_compose_mag = {
    .id = 0,
    .name = "mag",
    .window_entries = 1,
    .forward = mag_forward,
    .backward = mag_backward,
};

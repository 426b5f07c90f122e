/* compose/registry.c — the one list of compositions the runtime knows. */
#include "compose.h"

extern const hct_composition hct_compose_mag;
extern const hct_composition hct_compose_mal;
extern const hct_composition hct_compose_mac;

static const hct_composition *const COMPOSITIONS[] = {
    &hct_compose_mag,
    &hct_compose_mal,
    &hct_compose_mac,
};

const hct_composition *hct_composition_by_id(uint32_t id) {
    for (size_t i = 0; i < sizeof(COMPOSITIONS) / sizeof(COMPOSITIONS[0]); i++)
        if (COMPOSITIONS[i]->id == id) return COMPOSITIONS[i];
    return NULL;
}

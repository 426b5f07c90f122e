/* rules/registry.c — the one list of memory rules the runtime knows. */
#include "rule.h"

extern const hct_rule hct_rule_delta;
extern const hct_rule hct_rule_hebbian;
extern const hct_rule hct_rule_titans;
extern const hct_rule hct_rule_moneta;
extern const hct_rule hct_rule_yaad;
extern const hct_rule hct_rule_memora;
extern const hct_rule hct_rule_lattice;
extern const hct_rule hct_rule_atlas;

static const hct_rule *const RULES[] = {
    &hct_rule_delta,
    &hct_rule_hebbian,
    &hct_rule_titans,
    &hct_rule_moneta,
    &hct_rule_yaad,
    &hct_rule_memora,
    &hct_rule_lattice,
    &hct_rule_atlas,
};

const hct_rule *hct_rule_by_id(uint32_t id) {
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++)
        if (RULES[i]->id == id) return RULES[i];
    return NULL;
}

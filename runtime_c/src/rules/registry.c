/* rules/registry.c — the one list of memory rules the runtime knows. */
#include "rule.h"

extern const hct_rule hct_rule_delta;
extern const hct_rule hct_rule_hebbian;
extern const hct_rule hct_rule_titans;
extern const hct_rule hct_rule_moneta;
extern const hct_rule hct_rule_yaad;
extern const hct_rule hct_rule_memora;
extern const hct_rule hct_rule_lattice;
extern const hct_rule hct_rule_trellis;
extern const hct_rule hct_rule_atlas;
extern const hct_rule hct_rule_ssm;

static const hct_rule *const RULES[] = {
    &hct_rule_delta,
    &hct_rule_hebbian,
    &hct_rule_titans,
    &hct_rule_moneta,
    &hct_rule_yaad,
    &hct_rule_memora,
    &hct_rule_lattice,
    &hct_rule_trellis,
    &hct_rule_atlas,
    &hct_rule_ssm,
};

const hct_rule *hct_rule_by_id(uint32_t id) {
    for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++)
        if (RULES[i]->id == id) return RULES[i];
    return NULL;
}

hecate_status hct_rule_check_retention(const hct_rule *rule, hct_config *cfg) {
    if (cfg->retention == HCT_RET_DEFAULT) cfg->retention = rule->retention_default;
    if (cfg->retention >= HCT_RET_COUNT || !(rule->retention_ok & HCT_RET_BIT(cfg->retention)))
        return HECATE_E_FILE_RETENTION;
    float lambda = cfg->retention_param;
    if (cfg->retention == HCT_RET_ELASTIC) /* a threshold: finite and > 0 */
        return lambda > 0.0f && lambda <= FLT_MAX ? HECATE_OK : HECATE_E_FILE_CONFIG;
    return lambda == 0.0f ? HECATE_OK : HECATE_E_FILE_CONFIG;
}

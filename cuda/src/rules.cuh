/* cuda/src/rules.cuh — the registry of the memory rules the CUDA kernels run: their ids
 * (docs/FORMAT.md) and the one list every dispatch walks; a rule's math and shape are its
 * RuleOps specialization (rule_ops.cuh). */
#ifndef HECATE_CUDA_RULES_CUH
#define HECATE_CUDA_RULES_CUH

namespace hct {

enum { RULE_DELTA = 0, RULE_TITANS = 1, RULE_HEBBIAN = 2, RULE_ATLAS = 8 };

template <int... IDS> struct RuleList {};

/* The rules with kernels: a new one is its RuleOps specialization plus its id here. */
using CudaRules = RuleList<RULE_DELTA, RULE_TITANS, RULE_HEBBIAN, RULE_ATLAS>;

/* F::run<ID>(args...) for the listed ID equal to rule; `none` when no listed ID is. */
template <class F, class Ret, int... IDS, class... A>
Ret on_rule(RuleList<IDS...>, int rule, Ret none, const A &...args) {
    Ret out = none;
    (void)((rule == IDS && (out = F::template run<IDS>(args...), true)) || ...);
    return out;
}

} /* namespace hct */
#endif

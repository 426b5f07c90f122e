/* cuda/src/rules.cu — the host side of the rule registry: what the spec checks, the model
 * step and the backward's work size ask of a rule id or spec (launch.cuh), each answer
 * read off the RuleOps of the rules in CudaRules. */
#include <string>

#include "launch.cuh"
#include "rule_ops.cuh"

namespace hct {

namespace {

struct Mats {
    template <int ID> static int run() { return RuleOps<ID>::MATS; }
};

struct WindowRows {
    template <int ID> static int run(const hecate_rule_spec &spec) {
        return RuleOps<ID>::WINDOW ? (int)spec.params[0] : 0;
    }
};

struct Refusal {
    template <int ID> static const char *run(const hecate_rule_spec &spec) { return RuleOps<ID>::refusal(spec); }
};

template <int... IDS> std::string joined_names(RuleList<IDS...>) {
    std::string s;
    ((s += s.empty() ? "" : ", ", s += RuleOps<IDS>::NAME), ...);
    return s;
}

} /* namespace */

int rule_mats(int rule) { return on_rule<Mats>(CudaRules{}, rule, 0); }

int rule_window(const hecate_rule_spec &spec) { return on_rule<WindowRows>(CudaRules{}, (int)spec.rule, 0, spec); }

const char *rule_refusal(const hecate_rule_spec &spec) {
    return on_rule<Refusal>(CudaRules{}, (int)spec.rule, (const char *)nullptr, spec);
}

const char *rule_names() {
    static const std::string names = joined_names(CudaRules{});
    return names.c_str();
}

} /* namespace hct */

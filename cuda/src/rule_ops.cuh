/* cuda/src/rule_ops.cuh — RuleOps<RULE>: all a kernel or a check needs of one rule, its
 * state's matrices and window, its token step (forward and backward replay), its reverse
 * step and what of its spec it refuses; the kernels call these and name no rule. */
#ifndef HECATE_CUDA_RULE_OPS_CUH
#define HECATE_CUDA_RULE_OPS_CUH
#include "backs.cuh"
#include "hecate.h"
#include "rules.cuh"
#include "steps.cuh"
#include "window.cuh"

namespace hct {

/* Per rule: MATS (1 or 2: M, then Z when 2), WINDOW (the state ends in a window of
 * params[0] key/value rows), NAME, and
 *   ring_load / ring_store  the forward's window from / back into the state;
 *   step                    one token in the forward, returning y_i;
 *   replay                  the same token in the backward (no y), window rebuilt;
 *   back                    the reverse step of token t (backs.cuh); a window rule adds its
 *                           rows' key/value gradients into the kernel's ring Window::gK, gV,
 *                           which hands a row out as dk, dv once its token is reached;
 *   refusal                 host: why the kernels do not run this spec, or NULL.
 * Z, Z0, dZ and the window arguments are unused where a rule has no such part. */
template <int RULE> struct RuleOps;

/* The defaults of a rule whose state is its matrices only and which runs every spec the C
 * runtime accepts: no window, the forward step and the replay are its `token`. */
template <class Ops> struct PlainRule {
    static constexpr bool WINDOW = false;
    static const char *refusal(const hecate_rule_spec &) { return nullptr; }
    template <int D> static __device__ __forceinline__ void ring_load(Ring &, const float *, size_t, int, int) {}
    template <int D> static __device__ __forceinline__ void ring_store(const Ring &, float *, size_t, int, int) {}
    template <int D>
    static __device__ __forceinline__ float step(float (&M)[R], float (&Z)[R], const float *k, const float *v,
                                                 const float *q, const float *g, int i, int p, int, Ring &) {
        return Ops::template token<D>(M, Z, k, v, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void replay(float (&M)[R], float (&Z)[R], const float *k, const float *v,
                                                  const float *q, const float *g, int i, int p, int, int,
                                                  const Window &) {
        Ops::template token<D>(M, Z, k, v, q, g, i, p);
    }
};

template <> struct RuleOps<RULE_DELTA> : PlainRule<RuleOps<RULE_DELTA>> {
    static constexpr int MATS = 1;
    static constexpr const char *NAME = "delta";
    template <int D>
    static __device__ __forceinline__ float token(float (&M)[R], float (&)[R], const float *k, const float *v,
                                                  const float *q, const float *g, int i, int p) {
        return delta_step<D>(M, k, v, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void back(const float (&S0)[R], const float (&)[R], const float (&S1)[R],
                                                float (&dM)[R], float (&)[R], const float *k, const float *v,
                                                const float *q, float dyi, const float *g, int i, int p, int lane,
                                                int, int, TokenGrad o, const Window &) {
        delta_back<D>(S0, S1, dM, k, v, q, dyi, g, i, p, lane, o);
    }
};

template <> struct RuleOps<RULE_HEBBIAN> : PlainRule<RuleOps<RULE_HEBBIAN>> {
    static constexpr int MATS = 1;
    static constexpr const char *NAME = "hebbian";
    template <int D>
    static __device__ __forceinline__ float token(float (&M)[R], float (&)[R], const float *k, const float *v,
                                                  const float *q, const float *g, int i, int p) {
        return hebbian_step<D>(M, k, v, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void back(const float (&S0)[R], const float (&)[R], const float (&S1)[R],
                                                float (&dM)[R], float (&)[R], const float *k, const float *v,
                                                const float *q, float dyi, const float *g, int i, int p, int lane,
                                                int, int, TokenGrad o, const Window &) {
        hebbian_back<D>(S0, S1, dM, k, v, q, dyi, g, i, p, lane, o);
    }
};

template <> struct RuleOps<RULE_TITANS> : PlainRule<RuleOps<RULE_TITANS>> {
    static constexpr int MATS = 2;
    static constexpr const char *NAME = "titans";
    template <int D>
    static __device__ __forceinline__ float token(float (&M)[R], float (&Z)[R], const float *k, const float *v,
                                                  const float *q, const float *g, int i, int p) {
        return titans_step<D>(M, Z, k, v, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void back(const float (&M0)[R], const float (&Z0)[R], const float (&M1)[R],
                                                float (&dM)[R], float (&dZ)[R], const float *k, const float *v,
                                                const float *q, float dyi, const float *g, int i, int p, int lane,
                                                int, int, TokenGrad o, const Window &) {
        titans_back<D>(M0, Z0, M1, dM, dZ, k, v, q, dyi, g, i, p, lane, o);
    }
};

/* Atlas (plain Omega rule): its state is M, Z and a window of c = params[0] rows. */
template <> struct RuleOps<RULE_ATLAS> {
    static constexpr int MATS = 2;
    static constexpr bool WINDOW = true;
    static constexpr const char *NAME = "atlas";
    static const char *refusal(const hecate_rule_spec &spec) {
        return spec.params[1] != 0.0f ? "atlas with ns_steps > 0 (Newton-Schulz momentum) is not implemented on CUDA"
                                      : nullptr;
    }
    template <int D>
    static __device__ __forceinline__ void ring_load(Ring &w, const float *state, size_t dd, int d, int tid) {
        hct::ring_load<D>(w, state, dd, d, tid);
    }
    template <int D>
    static __device__ __forceinline__ void ring_store(const Ring &w, float *state, size_t dd, int d, int tid) {
        hct::ring_store<D>(w, state, dd, d, tid);
    }
    template <int D>
    static __device__ __forceinline__ float step(float (&M)[R], float (&Z)[R], const float *k, const float *v,
                                                 const float *q, const float *g, int i, int p, int tid, Ring &w) {
        ring_push<D>(w, k, v, tid);
        return atlas_step<D>(M, Z, w.K, w.V, w.c, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void replay(float (&M)[R], float (&Z)[R], const float *, const float *,
                                                  const float *q, const float *g, int i, int p, int tid, int t,
                                                  const Window &w) {
        fill_window<D>(w.K, w.V, w.k, w.v, w.init, t, w.c, w.d, tid);
        atlas_step<D>(M, Z, w.K, w.V, w.c, q, g, i, p);
    }
    template <int D>
    static __device__ __forceinline__ void back(const float (&M0)[R], const float (&Z0)[R], const float (&M1)[R],
                                                float (&dM)[R], float (&dZ)[R], const float *, const float *,
                                                const float *q, float dyi, const float *g, int i, int p, int lane,
                                                int tid, int t, TokenGrad o, const Window &w) {
        fill_window<D>(w.K, w.V, w.k, w.v, w.init, t, w.c, w.d, tid);
        atlas_back<D>(M0, Z0, M1, dM, dZ, w.K, w.V, w.c, t, q, dyi, g, i, p, lane, o, w.gK, w.gV);
    }
};

} /* namespace hct */
#endif

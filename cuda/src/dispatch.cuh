/* cuda/src/dispatch.cuh — what the forward and backward launchers share:
 * picking the kernel instance of a rule id and padded width, and a launch
 * with more dynamic shared memory than the default 48 KiB. */
#ifndef HECATE_CUDA_DISPATCH_CUH
#define HECATE_CUDA_DISPATCH_CUH
#include "launch.cuh"
#include "rule_ops.cuh"

namespace hct {

/* L::run<RULE, D>(n_seq, a) at the padded width of a.d (kernels exist for those four). */
template <class L, int RULE> cudaError_t by_width(int n_seq, const RuleArgs &a) {
    switch (padded_width(a.d)) {
    case 16: return L::template run<RULE, 16>(n_seq, a);
    case 32: return L::template run<RULE, 32>(n_seq, a);
    case 64: return L::template run<RULE, 64>(n_seq, a);
    case 128: return L::template run<RULE, 128>(n_seq, a);
    default: return cudaErrorInvalidValue;
    }
}

/* by_width<L, RULE> as on_rule calls it. */
template <class L> struct ByWidth {
    template <int RULE> static cudaError_t run(const int &n_seq, const RuleArgs &a) { return by_width<L, RULE>(n_seq, a); }
};

/* L::run for `rule` (one of CudaRules) at the padded width of a.d. */
template <class L> cudaError_t by_rule(int rule, int n_seq, const RuleArgs &a) {
    return on_rule<ByWidth<L>>(CudaRules{}, rule, cudaErrorInvalidValue, n_seq, a);
}

/* kernel<<<blocks, threads, smem, a.stream>>>(a) after allowing it smem bytes
 * of dynamic shared memory; the CUDA error of the launch. */
template <class K> cudaError_t launch_with_smem(K *kernel, int blocks, int threads, size_t smem, const RuleArgs &a) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (err != cudaSuccess) return err;
    kernel<<<blocks, threads, smem, a.stream>>>(a);
    return cudaGetLastError();
}

} /* namespace hct */
#endif

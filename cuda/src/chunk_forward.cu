/* cuda/src/chunk_forward.cu — the chunked forward of the delta and Hebbian rules (docs/CUDA.md
 * "Chunked forward"; MATH §3.2, §3.4): the outputs and final state of forward.cu's token-by-token
 * kernels, computed CHUNK tokens at a time as matrix products, the state in registers and its
 * products on the tensor cores at every padded width (chunk_regs.cuh; DECISIONS D83). */
#include "chunk_regs.cuh"

namespace hct {

/* The shared memory of the kernel that runs width D. */
template <int D> static constexpr size_t smem_at() { return ChunkRegs<D>::FLOATS * sizeof(float); }

template <int D, bool ERROR> static cudaError_t chunk_forward_at(int n_seq, const RuleArgs &a) {
    return launch_with_smem(chunk_regs_kernel<D, ERROR>, n_seq, ChunkRegs<D>::NT, smem_at<D>(), a);
}

struct ChunkLaunch {
    template <int RULE, int D> static cudaError_t run(int n_seq, const RuleArgs &a) {
        if constexpr (RULE == RULE_DELTA) return chunk_forward_at<D, true>(n_seq, a);
        else if constexpr (RULE == RULE_HEBBIAN) return chunk_forward_at<D, false>(n_seq, a);
        else return cudaErrorInvalidValue;
    }
};

bool chunk_forward_runs(int rule) { return rule == RULE_DELTA || rule == RULE_HEBBIAN; }

cudaError_t launch_chunk_forward(int rule, int n_seq, const RuleArgs &a) {
    return by_rule<ChunkLaunch>(rule, n_seq, a);
}

size_t chunk_forward_smem(int d) {
    switch (padded_width(d)) {
    case 16: return smem_at<16>();
    case 32: return smem_at<32>();
    case 64: return smem_at<64>();
    case 128: return smem_at<128>();
    default: return 0;
    }
}

} /* namespace hct */

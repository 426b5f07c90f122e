/* cuda/src/launch.cuh — what api.cu needs of the kernel files: the padded
 * width a d runs at, and one launcher per direction (each returns the CUDA
 * error of its launch, cudaSuccess when it ran). */
#ifndef HECATE_CUDA_LAUNCH_CUH
#define HECATE_CUDA_LAUNCH_CUH
#include "columns.cuh"

namespace hct {

/* The padded width (16, 32, 64 or 128) d runs at, 0 when d > 128. */
inline int padded_width(int d) { return d <= 16 ? 16 : d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : 0; }

/* Forward of `rule` over args.n_seq = grid sequences (RuleArgs, columns.cuh). */
cudaError_t launch_forward(int rule, int n_seq, const RuleArgs &args);

/* Work scalars of the backward per sequence, and the backward itself. */
size_t backward_work_per_seq(int rule, int d, int T);
cudaError_t launch_backward(int rule, int n_seq, const RuleArgs &args);

} /* namespace hct */
#endif

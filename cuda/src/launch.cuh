/* cuda/src/launch.cuh — what api.cu and model.cu need of the kernel files: the padded
 * width a d runs at, what the kernels know of a rule (rules.cu), and one launcher per
 * direction (each returns the CUDA error of its launch, cudaSuccess when it ran). */
#ifndef HECATE_CUDA_LAUNCH_CUH
#define HECATE_CUDA_LAUNCH_CUH
#include "columns.cuh"
#include "hecate.h"

namespace hct {

/* The padded width (16, 32, 64 or 128) d runs at, 0 when d > 128. */
inline int padded_width(int d) { return d <= 16 ? 16 : d <= 32 ? 32 : d <= 64 ? 64 : d <= 128 ? 128 : 0; }

/* The d x d matrices of the rule's state the kernels hold (1 or 2), 0 for a rule id
 * without kernels; the window rows a spec's state ends in (0 for a rule without one);
 * why the kernels refuse a spec of a rule they run (NULL when they run it); the names of
 * the rules they run, comma-separated. */
int rule_mats(int rule);
int rule_window(const hecate_rule_spec &spec);
const char *rule_refusal(const hecate_rule_spec &spec);
const char *rule_names();

/* Forward of `rule` over args.n_seq = grid sequences (RuleArgs, columns.cuh). */
cudaError_t launch_forward(int rule, int n_seq, const RuleArgs &args);

/* Work scalars of the backward of n_seq sequences, and the backward itself. */
size_t backward_work(int rule, int d, int T, int n_seq);
cudaError_t launch_backward(int rule, int n_seq, const RuleArgs &args);

/* The chunked forward (chunk_forward.cu): whether it runs `rule`, and its launch (args.work:
 * NULL, or where the state at every chunk's start goes; args.state, args.y: NULL to skip the
 * final state and the reads).  The chunked backward (chunk_backward.cu): its work scalars (those
 * checkpoints) and launch. */
bool chunk_forward_runs(int rule);
cudaError_t launch_chunk_forward(int rule, int n_seq, const RuleArgs &args);
size_t chunk_backward_work(int d, int T, int n_seq);
cudaError_t launch_chunk_backward(int rule, int n_seq, const RuleArgs &args);
/* Bytes of shared memory a block of the chunked forward / backward takes at width d (0 past 128). */
size_t chunk_forward_smem(int d);
size_t chunk_backward_smem(int d);

} /* namespace hct */
#endif

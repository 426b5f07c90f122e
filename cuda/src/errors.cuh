/* cuda/src/errors.cuh — how the CUDA backend's C API reports failures: a
 * status plus a message kept for hecate_cuda_last_error (api.cu owns both),
 * and the on-device NaN/Inf check its calls share. */
#ifndef HECATE_CUDA_ERRORS_CUH
#define HECATE_CUDA_ERRORS_CUH
#include <cuda_runtime.h>

#include "hecate.h"

namespace hct {

/* Record the printf-style message and return status. */
hecate_status fail(hecate_status status, const char *fmt, ...);

/* HECATE_OK for cudaSuccess, else HECATE_E_DEVICE naming `what` and the CUDA error. */
hecate_status check_cuda(cudaError_t err, const char *what);

/* HECATE_OK when the n device floats at x are all finite, else HECATE_E_NONFINITE
 * with `what` in the message (or HECATE_E_DEVICE when the check itself fails). */
hecate_status all_finite(const float *x, size_t n, const char *what);

} /* namespace hct */
#endif

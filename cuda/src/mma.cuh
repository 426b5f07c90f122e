/* cuda/src/mma.cuh — float32 matrix products on the tensor cores (docs/CUDA.md "Tensor cores in
 * float32 accuracy"): one warp's 16 x 8 x 8 TF32 product (mma.sync, sm_80 and later) and the
 * split of a float into two TF32 parts, so that three TF32 products keep about float32's accuracy. */
#ifndef HECATE_CUDA_MMA_CUH
#define HECATE_CUDA_MMA_CUH
#include <cstdint>

namespace hct {

/* x = hi + lo exactly: hi = x rounded to TF32's 10 mantissa bits (to nearest, ties away from
 * zero: two integer operations, where cvt.rna.tf32 takes five), lo = x - hi (|lo| <= 2^-11 |x|),
 * which mma_tf32 reads truncated to TF32 (an error below 2^-21 |x|).  A NaN's hi may lose its
 * NaN bits; its lo keeps them, so the products stay NaN. */
struct Tf32 {
    uint32_t hi, lo;
};
__device__ __forceinline__ Tf32 split_tf32(float x) {
    Tf32 out;
    out.hi = (__float_as_uint(x) + 0x1000u) & 0xffffe000u;
    out.lo = __float_as_uint(x - __uint_as_float(out.hi));
    return out;
}

/* c += a b for one warp: a 16 x 8 (row-major fragment), b 8 x 8, c 16 x 8.  With g = lane / 4 and
 * i = lane % 4 the lane holds a[g][i], a[g + 8][i], a[g][i + 4], a[g + 8][i + 4];
 * b[i][g], b[i + 4][g]; c[g][2i], c[g][2i + 1], c[g + 8][2i], c[g + 8][2i + 1]. */
__device__ __forceinline__ void mma_tf32(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    asm("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* A warp's 16 x 8 A fragment and 8 x 8 B fragment, each split in TF32 parts. */
struct FragA {
    uint32_t hi[4], lo[4];
    __device__ __forceinline__ void set(int r, float x) {
        const Tf32 s = split_tf32(x);
        hi[r] = s.hi, lo[r] = s.lo;
    }
};
struct FragB {
    uint32_t hi[2], lo[2];
    __device__ __forceinline__ void set(int r, float x) {
        const Tf32 s = split_tf32(x);
        hi[r] = s.hi, lo[r] = s.lo;
    }
};

/* c += a b to about float32 accuracy: a_lo b_hi + a_hi b_lo + a_hi b_hi (the small terms
 * first; a_lo b_lo, below 2^-22 of the product, is dropped). */
__device__ __forceinline__ void mma3_tf32(float (&c)[4], const FragA &a, const FragB &b) {
    mma_tf32(c, a.lo, b.hi);
    mma_tf32(c, a.hi, b.lo);
    mma_tf32(c, a.hi, b.hi);
}

} /* namespace hct */
#endif

/* fma_peak.c — one core's fp32 arithmetic ceiling, for the roofline table of
 * benchmarks/RESULTS.md §11: GFLOP/s of independent chains of 256-bit vector
 * operations, (a) fused multiply-adds (2 flops per lane each) and (b) a
 * multiply then an add (the runtime's own form: it builds with
 * -ffp-contract=off, runtime_c/flags.txt, so every a += x w is two
 * instructions).  14 chains hide the latency (4 cycles an FMA, 3 + 3 a
 * multiply then an add) on two pipes.  x86-64 with AVX2 + FMA only, and
 * -ffp-contract=off, else gcc fuses (b) into (a) (the two checksums then agree):
 *   gcc -O2 -mavx2 -mfma -ffp-contract=off benchmarks/fma_peak.c -o fma_peak && ./fma_peak */
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

enum { CHAINS = 14, ITERS = 20000000, REPS = 7 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* acc = acc * m + c on every chain, fused or not, the chains in named
 * variables so that they stay in registers at any optimization level; the
 * sum of the lanes at the end keeps the compiler from dropping the work.
 * m < 1 keeps every value finite and normal. */
#define CHAIN_VARS a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13
#define ALL(OP) OP(a0) OP(a1) OP(a2) OP(a3) OP(a4) OP(a5) OP(a6) OP(a7) OP(a8) OP(a9) OP(a10) OP(a11) OP(a12) OP(a13)
#define FMA(a) a = _mm256_fmadd_ps(a, m, c);
#define MULADD(a) a = _mm256_add_ps(_mm256_mul_ps(a, m), c);
#define SUM(a) _mm256_storeu_ps(lanes, a); for (int l = 0; l < 8; l++) s += lanes[l];
static float run(int fused) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f), CHAIN_VARS;
    float lanes[8], s = 0, init = 0;
#define INIT(a) a = _mm256_set1_ps(init); init += 1;
    ALL(INIT)
    if (fused) {
        for (long n = 0; n < ITERS; n++) { ALL(FMA) }
    } else {
        for (long n = 0; n < ITERS; n++) { ALL(MULADD) }
    }
    ALL(SUM)
    return s;
}

int main(void) {
    const char *name[2] = {"mul+add", "fma"};
    for (int fused = 1; fused >= 0; fused--) {
        double best = 1e30;
        float sink = 0;
        for (int r = 0; r < REPS; r++) {
            double t0 = now();
            sink += run(fused);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        /* flops: 2 per lane per chain step (a multiply and an add, fused or not) */
        double gflops = 2.0 * 8 * CHAINS * (double)ITERS / best * 1e-9;
        printf("%-8s %7.1f GFLOP/s fp32, one core (best of %d; checksum %g)\n", name[fused], gflops, REPS,
               (double)sink);
    }
    return 0;
}

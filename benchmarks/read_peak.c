/* read_peak.c — one core's read bandwidth by working-set size, the memory side of the
 * roofline in benchmarks/RESULTS.md §11 (`step` at d = 256 streams its weights from L3 each
 * token): GB/s of summing a buffer of n bytes over and over with 256-bit loads into eight
 * independent add chains (so the adds never wait on each other), best of several timed runs
 * after one untimed pass that brings the buffer into the cache it fits.  x86-64 with AVX:
 *   gcc -O2 -mavx2 benchmarks/read_peak.c -o read_peak && ./read_peak [MiB ...] */
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { REPS = 7 };
static const double BYTES_A_RUN = 2e9; /* each timed run reads about this much */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The sum of `passes` passes over buf (n floats, n a multiple of 64). */
static float sum_passes(const float *buf, size_t n, long passes) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (long p = 0; p < passes; p++)
        for (size_t i = 0; i < n; i += 64) {
            a0 = _mm256_add_ps(a0, _mm256_load_ps(buf + i));
            a1 = _mm256_add_ps(a1, _mm256_load_ps(buf + i + 8));
            a2 = _mm256_add_ps(a2, _mm256_load_ps(buf + i + 16));
            a3 = _mm256_add_ps(a3, _mm256_load_ps(buf + i + 24));
            a4 = _mm256_add_ps(a4, _mm256_load_ps(buf + i + 32));
            a5 = _mm256_add_ps(a5, _mm256_load_ps(buf + i + 40));
            a6 = _mm256_add_ps(a6, _mm256_load_ps(buf + i + 48));
            a7 = _mm256_add_ps(a7, _mm256_load_ps(buf + i + 56));
        }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    float lanes[8], out = 0;
    _mm256_storeu_ps(lanes, s);
    for (int l = 0; l < 8; l++) out += lanes[l];
    return out;
}

int main(int argc, char **argv) {
    static const double DEFAULT_MIB[] = {0.03125, 0.5, 1.5, 2.75, 8, 24, 256};
    const int n_sizes = argc > 1 ? argc - 1 : (int)(sizeof DEFAULT_MIB / sizeof DEFAULT_MIB[0]);
    for (int s = 0; s < n_sizes; s++) {
        const double mib = argc > 1 ? atof(argv[s + 1]) : DEFAULT_MIB[s];
        size_t n = (size_t)(mib * 1048576.0 / sizeof(float)) / 64 * 64;
        if (n == 0) {
            fprintf(stderr, "read_peak: %s MiB is below one 256-byte block\n", argv[s + 1]);
            return 1;
        }
        float *buf = aligned_alloc(64, n * sizeof(float));
        if (!buf) {
            fprintf(stderr, "read_peak: no memory for %g MiB\n", mib);
            return 1;
        }
        for (size_t i = 0; i < n; i++) buf[i] = (float)(i % 7) * 0.125f;
        const long passes = (long)(BYTES_A_RUN / ((double)n * sizeof(float))) + 1;
        float sink = sum_passes(buf, n, 1);
        double best = 1e30;
        for (int r = 0; r < REPS; r++) {
            double t0 = now();
            sink += sum_passes(buf, n, passes);
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        printf("%9.3f MiB  %7.1f GB/s read, one core (best of %d; checksum %g)\n", mib,
               (double)n * sizeof(float) * (double)passes / best * 1e-9, REPS, (double)sink);
        free(buf);
    }
    return 0;
}

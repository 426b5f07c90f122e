/* util.c — byte/array helpers and CRC32 (IEEE, as zlib.crc32) used across
 * the runtime; no libc. */
#include "internal.h"
#include "mathfn.h"

void hct_zero(real *x, size_t n) { for (size_t i = 0; i < n; i++) x[i] = 0; }

void hct_copy(real *dst, const real *src, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = src[i]; }

void hct_bytes_copy(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < n; i++) d[i] = s[i];
}

void hct_bytes_zero(void *dst, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    for (size_t i = 0; i < n; i++) d[i] = 0;
}

/* Finite test without libm and without branches per element: x * 0 is 0
 * for finite x and NaN for NaN or +-Inf, so the sums stay 0 exactly when
 * everything is finite (and the loop vectorizes). 32 independent sums (with
 * AVX2 floats: four add chains of eight lanes, D62); the answer, not the
 * sum, is returned, so its order is free. */
#define FINITE_SUMS 32

#if HCT_VEC_IN_REGISTERS
/* Where lane vectors are in registers: four of them, each step one
 * multiply-add (one instruction where the build fuses, D77). */
bool hct_all_finite(const real *x, size_t n) {
    const hct_vec zero = HCT_VSPLAT((real)0);
    hct_vec a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    size_t i = 0;
    for (; i + 4 * HCT_LANES <= n; i += 4 * HCT_LANES) {
        a0 = HCT_VMADD(a0, HCT_VLOAD(x + i), zero);
        a1 = HCT_VMADD(a1, HCT_VLOAD(x + i + HCT_LANES), zero);
        a2 = HCT_VMADD(a2, HCT_VLOAD(x + i + 2 * HCT_LANES), zero);
        a3 = HCT_VMADD(a3, HCT_VLOAD(x + i + 3 * HCT_LANES), zero);
    }
    real s = hct_vsum(HCT_VADD(HCT_VADD(a0, a1), HCT_VADD(a2, a3)));
    for (; i < n; i++) s = hct_madd(s, x[i], (real)0);
    return s == 0;
}
#else
bool hct_all_finite(const real *x, size_t n) {
    real acc[FINITE_SUMS];
    for (size_t j = 0; j < FINITE_SUMS; j++) acc[j] = 0;
    size_t i = 0;
    for (; i + FINITE_SUMS <= n; i += FINITE_SUMS)
        for (size_t j = 0; j < FINITE_SUMS; j++) acc[j] += x[i + j] * (real)0;
    for (; i < n; i++) acc[0] += x[i] * (real)0;
    real s = 0;
    for (size_t j = 0; j < FINITE_SUMS; j++) s += acc[j];
    return s == 0;
}
#endif

/* CRC32, reflected polynomial 0xEDB88320, four bits at a time from a
 * constant 16-entry table (small enough for flash, no init race). */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t hct_crc32(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = crc_nibble[c & 0xFu] ^ (c >> 4);
        c = crc_nibble[c & 0xFu] ^ (c >> 4);
    }
    return c ^ 0xFFFFFFFFu;
}

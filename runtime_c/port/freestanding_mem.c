/* freestanding_mem.c — memset, memcpy and memmove for targets with no C
 * library at all (bare Cortex-M images, wasm without libc).  GCC and Clang
 * may emit calls to these four-or-so functions even for freestanding code
 * (GCC documents this), e.g. to zero an array of vectors on a core without
 * SIMD.  Hosted builds and firmware that links newlib take them from there
 * instead.  Compile with -ffreestanding -fno-tree-loop-distribute-patterns
 * (GCC) so these loops are not turned back into calls to themselves. */
#include <stddef.h>

void *memset(void *dst, int c, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    if (d < s) {
        while (n--) *d++ = *s++;
    } else {
        while (n--) d[n] = s[n];
    }
    return dst;
}

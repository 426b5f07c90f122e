/* freestanding_mem.c — memset/memcpy/memmove for bare targets (wasm32 without
 * libc, Cortex-M without newlib).  Compilers may turn the runtime's plain
 * loops into calls to these; hosted builds take them from libc instead, so
 * this file is linked only into freestanding builds. */
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
    if (d < s) while (n--) *d++ = *s++;
    else while (n--) d[n] = s[n];
    return dst;
}

/* fuzz_common.h — what the libFuzzer harnesses of this folder share: fuzz
 * bytes copied into a buffer of exactly their length (so AddressSanitizer
 * sees any read past them), CRC fields rewritten so that mutations reach the
 * checks after the CRC, a model and a session built from such bytes, and the
 * abort that reports a broken API promise as a crash. */
#ifndef HECATE_FUZZ_COMMON_H
#define HECATE_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include "hecate.h"

/* Largest session arena a harness builds: bigger configs are skipped, not
 * failures (the fuzzer would spend its time zeroing memory). */
#define FUZZ_MAX_ARENA ((size_t)16 << 20)

/* hecate_tensor_info.dtype of int8 tensors with row scales, the first of two (docs/FORMAT.md:
 * 2, and 3 with int16 activations). */
#define FUZZ_DTYPE_INT8 2u

/* A heap copy of data[0..n) of exactly n bytes (64-byte aligned); free() it. */
unsigned char *fuzz_copy(const uint8_t *data, size_t n);

/* Read a little-endian u64 at p. */
uint64_t fuzz_rd64(const unsigned char *p);

/* If the header of the file or blob at p (n bytes) records a size in
 * 28 .. n, write the CRC32 of bytes [28, size) at offset 24 (docs/FORMAT.md). */
void fuzz_fix_crc(unsigned char *p, size_t n);

/* A model opened in place from file (which must outlive it). */
typedef struct fuzz_model {
    void *mem;
    hecate_model *model;
    hecate_model_info info;
    int has_int8;    /* an int8 tensor: the model cannot train */
} fuzz_model;

hecate_status fuzz_model_open(fuzz_model *m, const unsigned char *file, size_t n);
void fuzz_model_close(fuzz_model *m);

/* A session of m with max_chunk 4 and max_train_tokens as given; NULL when
 * its arena is over FUZZ_MAX_ARENA (skipped), or a status other than OK
 * (aborts: a model that opened must give a session).  *arena: free() it. */
hecate_session *fuzz_session(const fuzz_model *m, uint32_t max_train_tokens, void **arena);

/* A saved state of s in a fresh buffer (free() it), its length in *len;
 * aborts when saving fails. */
unsigned char *fuzz_save(const hecate_session *s, size_t *len);

/* Abort with `what` on stderr unless cond: libFuzzer reports it as a crash. */
void fuzz_require(int cond, const char *what);

/* Whether all n values are finite. */
int fuzz_finite(const hecate_real *x, size_t n);

#endif

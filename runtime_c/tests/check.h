/* check.h — the C test programs' one assertion: counts passes and failures, prints each failure
 * with its place, and lets the program go on to its summary line. */
#ifndef HECATE_TESTS_CHECK_H
#define HECATE_TESTS_CHECK_H
#include <stdio.h>

static int passed = 0, failed = 0;

#define CHECK(cond, what)                                                        \
    do {                                                                         \
        if (cond) passed++;                                                      \
        else { failed++; fprintf(stderr, "FAIL %s:%d %s\n", __FILE__, __LINE__, what); } \
    } while (0)

#endif

/* state.c — session state blob v1 (docs/FORMAT.md): save, and a load that
 * validates everything before it touches the session.  The blob holds all
 * session state (MATH §6): position, every block's attention window and memories,
 * and each level's convolution state (MATH §3.1). */
#include "internal.h"

#define STATE_VERSION 1u
#define ENDIAN_MARK 0x01020304u
#define STATE_HEADER 56u

static const char STATE_MAGIC[8] = {'H', 'C', 'T', 'S', 'T', 'A', 'T', 'E'};

static void wr32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr64(unsigned char *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Part r (0 .. 2) of memory i in the blob: its state, its CMS block-start
 * state, its frequency gate's block input sum (MATH §6.1, §6.2); NULL for a
 * part the memory does not have.  *len: its scalar count. */
static real *memory_part(const hecate_session *s, uint32_t i, uint32_t r, size_t *len) {
    *len = r == 2 ? s->model->cfg.d : s->mem_len[i];
    return r == 0 ? s->mem_state[i] : r == 1 ? s->mem_at[i] : s->mem_sum[i];
}

/* Scalars after the header: every memory's parts (layer-major), then each
 * layer's window keys and values, then every memory's convolution state. */
static size_t payload_len(const hecate_session *s) {
    const hct_config *c = &s->model->cfg;
    size_t n = 0, len;
    for (uint32_t i = 0; i < hct_n_mems(c); i++)
        for (uint32_t r = 0; r < 3; r++) n += memory_part(s, i, r, &len) ? len : 0;
    return n + 2 * (size_t)c->n_layers * hct_ring_len(s->model) + hct_n_mems(c) * hct_conv_len(c);
}

static bool valid_session(const hecate_session *s) { return s && s->magic == HCT_SESSION_MAGIC; }

hecate_status hecate_state_bytes(const hecate_session *s, size_t *bytes) {
    if (!valid_session(s) || !bytes) return HECATE_E_NULL_ARG;
    *bytes = STATE_HEADER + payload_len(s) * sizeof(real);
    return HECATE_OK;
}

hecate_status hecate_state_save(const hecate_session *s, void *buf, size_t buf_bytes, size_t *written) {
    if (!valid_session(s) || !buf || !written) return HECATE_E_NULL_ARG;
    size_t total;
    hecate_state_bytes(s, &total);
    if (buf_bytes < total) return HECATE_E_BUFFER_TOO_SMALL;
    unsigned char *p = (unsigned char *)buf;
    hct_bytes_zero(p, STATE_HEADER);
    hct_bytes_copy(p, STATE_MAGIC, 8);
    wr32(p + 8, STATE_VERSION);
    wr32(p + 12, ENDIAN_MARK);
    wr64(p + 16, total);
    wr32(p + 28, (uint32_t)sizeof(real));
    wr32(p + 32, s->model->file_crc);
    wr64(p + 40, s->position);
    wr64(p + 48, payload_len(s));
    unsigned char *at = p + STATE_HEADER;
    size_t ring = hct_ring_len(s->model) * sizeof(real);
    for (uint32_t i = 0; i < hct_n_mems(&s->model->cfg); i++)
        for (uint32_t r = 0; r < 3; r++) {
            size_t len;
            const real *part = memory_part(s, i, r, &len);
            if (!part) continue;
            hct_bytes_copy(at, part, len * sizeof(real));
            at += len * sizeof(real);
        }
    for (uint32_t l = 0; l < s->model->cfg.n_layers; l++, at += 2 * ring) {
        hct_bytes_copy(at, s->ring_k[l], ring);
        hct_bytes_copy(at + ring, s->ring_v[l], ring);
    }
    size_t conv = hct_conv_len(&s->model->cfg) * sizeof(real);
    for (uint32_t i = 0; i < hct_n_mems(&s->model->cfg) && conv; i++, at += conv)
        hct_bytes_copy(at, s->conv_state[i], conv);
    wr32(p + 24, hct_crc32(p + 28, total - 28));
    *written = total;
    return HECATE_OK;
}

/* Finite check on unaligned bytes: copy one scalar at a time. */
static bool bytes_finite(const unsigned char *p, size_t n_reals) {
    for (size_t i = 0; i < n_reals; i++) {
        real v;
        hct_bytes_copy(&v, p + i * sizeof(real), sizeof(real));
        if (!hct_all_finite(&v, 1)) return false;
    }
    return true;
}

hecate_status hecate_state_load(hecate_session *s, const void *buf, size_t n) {
    if (!valid_session(s) || !buf) return HECATE_E_NULL_ARG;
    const unsigned char *p = (const unsigned char *)buf;
    size_t total;
    hecate_state_bytes(s, &total);
    if (n < 16) return HECATE_E_STATE_TRUNCATED;
    for (int i = 0; i < 8; i++) if (p[i] != (unsigned char)STATE_MAGIC[i]) return HECATE_E_STATE_MAGIC;
    if (rd32(p + 8) != STATE_VERSION) return HECATE_E_STATE_VERSION;
    if (rd32(p + 12) != ENDIAN_MARK) return HECATE_E_STATE_ENDIAN;
    if (n < STATE_HEADER) return HECATE_E_STATE_TRUNCATED;
    uint64_t recorded = rd64(p + 16);
    if (recorded > (uint64_t)n) return HECATE_E_STATE_TRUNCATED;
    if (recorded < STATE_HEADER) return HECATE_E_STATE_SIZE;
    if (hct_crc32(p + 28, (size_t)recorded - 28) != rd32(p + 24)) return HECATE_E_STATE_CRC;
    /* whose blob it is comes before its size: another model's blob is foreign, not short */
    if (rd32(p + 28) != sizeof(real) || rd32(p + 32) != s->model->file_crc) return HECATE_E_STATE_MODEL;
    if (rd32(p + 36) != 0) return HECATE_E_STATE_RESERVED;
    if (recorded != (uint64_t)total || n != total) return HECATE_E_STATE_SIZE;
    if (rd64(p + 48) != (uint64_t)payload_len(s)) return HECATE_E_STATE_SIZE;
    const unsigned char *at = p + STATE_HEADER;
    if (!bytes_finite(at, payload_len(s))) return HECATE_E_STATE_NONFINITE;
    /* all checks passed: now, and only now, change the session */
    s->position = rd64(p + 40);
    size_t ring = hct_ring_len(s->model) * sizeof(real);
    for (uint32_t i = 0; i < hct_n_mems(&s->model->cfg); i++)
        for (uint32_t r = 0; r < 3; r++) {
            size_t len;
            real *part = memory_part(s, i, r, &len);
            if (!part) continue;
            hct_bytes_copy(part, at, len * sizeof(real));
            at += len * sizeof(real);
        }
    for (uint32_t l = 0; l < s->model->cfg.n_layers; l++, at += 2 * ring) {
        hct_bytes_copy(s->ring_k[l], at, ring);
        hct_bytes_copy(s->ring_v[l], at + ring, ring);
    }
    size_t conv = hct_conv_len(&s->model->cfg) * sizeof(real);
    for (uint32_t i = 0; i < hct_n_mems(&s->model->cfg) && conv; i++, at += conv)
        hct_bytes_copy(s->conv_state[i], at, conv);
    return HECATE_OK;
}

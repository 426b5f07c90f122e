/* format.c — reads and fully validates a model file (docs/FORMAT.md, v1)
 * and builds the model handle whose weight pointers point into the file. */
#include "internal.h"
#include "rules/rule.h"
#include "compose/compose.h"
#include <stddef.h>

#define FORMAT_VERSION 1u
#define ENDIAN_MARK 0x01020304u

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static float rdf32(const unsigned char *p) {
    union { uint32_t u; float f; } v;
    v.u = rd32(p);
    return v.f;
}

static bool host_is_little_endian(void) {
    union { uint32_t u; unsigned char c[4]; } v;
    v.u = 1;
    return v.c[0] == 1;
}

size_t hecate_model_bytes(void) { return sizeof(hecate_model); }

/* ---- the tensors a config needs (FORMAT.md "Tensors and their order") ---- */

/* mat: byte offset of the tensor's hct_mat in hct_mats, NO_MAT for a tensor
 * that has none; the matrices hct_model_linear and hct_model_row read (and
 * only they) may be stored as int8 (FORMAT.md dtype table) */
typedef struct expect { char name[40]; uint32_t ndim, shape[4]; size_t field, mat; } expect;
#define NO_MAT ((size_t)-1)

/* out (40 bytes) = a then b, cut at 39 characters and NUL-terminated (a
 * rule's tensor names are short; a cut one would fail the name check) */
static void join(char *out, const char *a, const char *b) {
    size_t n = 0;
    while (*a && n < 39) out[n++] = *a++;
    while (*b && n < 39) out[n++] = *b++;
    out[n] = 0;
}

#if HCT_MAX_LAYERS > 9 || HCT_MAX_LEVELS > 9
#error "tensor names hold one digit of block and level"
#endif

/* "blk<layer>." + rest (layer < 10, checked above) */
static void layer_name(char *out, uint32_t layer, const char *rest) {
    char prefix[6] = {'b', 'l', 'k', (char)('0' + layer), '.', 0};
    join(out, prefix, rest);
}

/* Fill *e (written field by field: a struct copy would make compilers call memcpy). */
static void entry(expect *e, uint32_t ndim, uint32_t d0, uint32_t d1, size_t field, size_t mat) {
    hct_bytes_zero(e, sizeof *e);
    e->ndim = ndim;
    e->shape[0] = d0;
    e->shape[1] = d1;
    e->shape[2] = e->shape[3] = 1;
    e->field = field;
    e->mat = mat;
}

/* Tensor j (from 0) of memory level `level` of block `layer`: front end
 * (projections, the convolution's taps when on, gates), the rule's own, then
 * a gated level's frequency gate (MATH §3.1, §6.2). */
static void level_tensor(const hct_config *c, const hct_rule *r, uint32_t layer, uint32_t level, uint32_t j,
                         expect *e) {
    static const char *const conv[HCT_CONV_STREAMS] = {"conv_k", "conv_v", "conv_q"};
    static const char *const front[5] = {"wk", "wv", "wq", "gate_w", "gate_b"};
    static const char *const freq[2] = {"freq_w", "freq_b"};
    static const size_t front_at[5] = {offsetof(hct_level_w, wk), offsetof(hct_level_w, wv),
                                       offsetof(hct_level_w, wq), offsetof(hct_level_w, gate_w),
                                       offsetof(hct_level_w, gate_b)};
    static const size_t freq_at[2] = {offsetof(hct_level_w, freq_w), offsetof(hct_level_w, freq_b)};
    static const size_t mat_at[3] = {offsetof(hct_level_mats, wk), offsetof(hct_level_mats, wv),
                                     offsetof(hct_level_mats, wq)};
    uint32_t d = c->d, G = r->n_gates, own = 5 + r->n_tensors;
    size_t base = offsetof(hct_weights, layer) + layer * sizeof(hct_layer_w) + offsetof(hct_layer_w, level) +
                  level * sizeof(hct_level_w);
    size_t mats = offsetof(hct_mats, layer) + layer * sizeof(hct_layer_mats) + offsetof(hct_layer_mats, level) +
                  level * sizeof(hct_level_mats);
    char prefix[6] = {'m', 'e', 'm', (char)('0' + level), '.', 0}, rest[40];
    uint32_t n_conv = c->conv_k ? HCT_CONV_STREAMS : 0;
    if (j >= 3 && j < 3 + n_conv) { /* (K, d) taps, float (MATH §3.1) */
        entry(e, 2, c->conv_k, d, base + offsetof(hct_level_w, conv) + (j - 3) * sizeof(real *), NO_MAT);
        join(rest, prefix, conv[j - 3]);
        layer_name(e->name, layer, rest);
        return;
    }
    if (j >= 3) j -= n_conv;
    if (j < 3) entry(e, 2, d, d, base + front_at[j], mats + mat_at[j]);
    else if (j == 3) entry(e, 2, G, 2 * d, base + front_at[j], NO_MAT);
    else if (j == 4) entry(e, 1, G, 1, base + front_at[j], NO_MAT);
    else if (j < own) entry(e, 1, 1, 1, base + offsetof(hct_level_w, rule_t) + (j - 5) * sizeof(real *), NO_MAT);
    else entry(e, 1, j == own ? d : 1, 1, base + freq_at[j - own], NO_MAT);
    join(rest, prefix, j < 5 ? front[j] : j < own ? r->tensor_names[j - 5] : freq[j - own]);
    layer_name(e->name, layer, rest);
    if (j >= 5 && j < own) r->tensor_shape(c, j - 5, &e->ndim, e->shape);
}

/* Tensors of memory level `level`, before the levels of a block, and of a block. */
static uint32_t level_count(const hct_config *c, const hct_rule *r, uint32_t level) {
    return 5 + (c->conv_k ? HCT_CONV_STREAMS : 0u) + r->n_tensors + (hct_gated(c, level) ? 2u : 0u);
}
static uint32_t head_count(const hct_config *c) {
    return 4 + (c->n_levels > 1 ? hct_composition_by_id(c->composition)->n_tensors : 0);
}
static uint32_t layer_count(const hct_config *c, const hct_rule *r) {
    uint32_t n = head_count(c);
    for (uint32_t i = 0; i < c->n_levels; i++) n += level_count(c, r, i);
    return n;
}

/* Tensor j of block `layer` (FORMAT.md): attention, the composition's own,
 * then each memory level. */
static void layer_tensor(const hct_config *c, const hct_rule *r, uint32_t layer, uint32_t j, expect *e) {
    static const char *const attn[4] = {"attn.wq", "attn.wk", "attn.wv", "attn.wo"};
    static const size_t attn_at[4] = {offsetof(hct_layer_w, wq), offsetof(hct_layer_w, wk),
                                      offsetof(hct_layer_w, wv), offsetof(hct_layer_w, wo)};
    static const size_t mat_at[4] = {offsetof(hct_layer_mats, wq), offsetof(hct_layer_mats, wk),
                                     offsetof(hct_layer_mats, wv), offsetof(hct_layer_mats, wo)};
    const hct_composition *comp = hct_composition_by_id(c->composition);
    size_t base = offsetof(hct_weights, layer) + layer * sizeof(hct_layer_w);
    size_t mats = offsetof(hct_mats, layer) + layer * sizeof(hct_layer_mats);
    uint32_t h = head_count(c);
    if (j >= h) {
        uint32_t level = 0;
        for (j -= h; j >= level_count(c, r, level); level++) j -= level_count(c, r, level);
        level_tensor(c, r, layer, level, j, e);
    } else if (j >= 4) {
        entry(e, 1, c->n_levels, 1, base + offsetof(hct_layer_w, compose_t) + (j - 4) * sizeof(real *), NO_MAT);
        layer_name(e->name, layer, comp->tensor_names[j - 4]);
    } else {
        entry(e, 2, c->d, c->d, base + attn_at[j], mats + mat_at[j]);
        layer_name(e->name, layer, attn[j]);
    }
}

/* How many tensors a config has. */
static uint32_t tensor_count(const hct_config *c, const hct_rule *r) { return 2 + c->n_layers * layer_count(c, r); }

/* Tensor i of the file's order (FORMAT.md), built one at a time so that no
 * table of them sits on the stack.  mat: the matrices hct_model_linear /
 * hct_model_row read, which may be int8 (D29). */
static void expected_tensor(const hct_config *c, const hct_rule *r, uint32_t i, expect *e) {
    if (i == 0) {
        entry(e, 2, c->vocab, c->d, offsetof(hct_weights, emb), offsetof(hct_mats, emb));
        join(e->name, "emb", "");
    } else if (i + 1 == tensor_count(c, r)) {
        entry(e, 2, c->d, c->vocab, offsetof(hct_weights, head), offsetof(hct_mats, head));
        join(e->name, "head", "");
    } else {
        layer_tensor(c, r, (i - 1) / layer_count(c, r), (i - 1) % layer_count(c, r), e);
    }
}

/* ---- header and config ---- */

static hecate_status read_config(const unsigned char *p, hct_config *c) {
    c->vocab = rd32(p + 32);
    c->d = rd32(p + 36);
    c->n_heads = rd32(p + 40);
    c->window = rd32(p + 44);
    c->composition = rd32(p + 48);
    c->rule = rd32(p + 52);
    c->n_levels = rd32(p + 56);
    c->flags = rd32(p + 60);
    c->n_layers = rd32(p + 64);
    c->retention = rd32(p + 68);
    for (int i = 0; i < 8; i++) c->periods[i] = rd32(p + 72 + 4 * i);
    for (int i = 0; i < 8; i++) c->rule_params[i] = rdf32(p + 104 + 4 * i);
    c->retention_param = rdf32(p + 136);
    c->conv_k = rd32(p + 140);
    if (c->vocab < 2 || c->vocab > 65536 || c->d < 1 || c->d > 4096) return HECATE_E_FILE_CONFIG;
    if (c->n_heads < 1 || c->d % c->n_heads != 0) return HECATE_E_FILE_CONFIG;
    if (c->window < 1 || c->window > 4096) return HECATE_E_FILE_CONFIG;
    if (!hct_composition_by_id(c->composition)) return HECATE_E_FILE_COMPOSITION;
    if (!hct_rule_by_id(c->rule)) return HECATE_E_FILE_RULE;
    if (c->n_levels < 1 || c->n_levels > HCT_MAX_LEVELS) return HECATE_E_FILE_CONFIG;
    if (c->n_layers < 1 || c->n_layers > HCT_MAX_LAYERS) return HECATE_E_FILE_CONFIG;
    if (c->flags & ~(uint32_t)(HCT_FLAG_QK_NORM | HCT_FLAG_FREQ_GATES | HCT_FLAG_CONV | HCT_FLAG_ROPE |
                               HCT_FLAG_BOUNDED_STEP))
        return HECATE_E_FILE_CONFIG;
    if ((c->flags & HCT_FLAG_FREQ_GATES) && c->n_levels < 2) return HECATE_E_FILE_CONFIG; /* MATH §6.2 */
    if (hct_rope(c) && (c->d / c->n_heads) % 2) return HECATE_E_FILE_CONFIG; /* MATH §2: pairs of a head */
    if (c->periods[0] != 1) return HECATE_E_FILE_CONFIG; /* MATH §6.1: level 0 writes every token */
    for (uint32_t i = 1; i < 8; i++) {
        bool used = i < c->n_levels;
        if (used ? c->periods[i] < 1 || c->periods[i] > HCT_MAX_PERIOD : c->periods[i] != 0)
            return HECATE_E_FILE_CONFIG;
    }
    for (int i = 0; i < 8; i++) {
        float v = c->rule_params[i];
        if (!(v == v) || v > FLT_MAX || v < -FLT_MAX) return HECATE_E_FILE_CONFIG;
    }
    if (c->flags & HCT_FLAG_CONV ? c->conv_k < HCT_MIN_CONV || c->conv_k > HCT_MAX_CONV : c->conv_k != 0)
        return HECATE_E_FILE_CONFIG; /* MATH §3.1: K taps with the flag, 0 without */
    const hct_rule *rule = hct_rule_by_id(c->rule);
    hecate_status st = rule->check_params(c);
    return st != HECATE_OK ? st : hct_rule_check_retention(rule, c);
}

static hecate_status check_header(const unsigned char *p, size_t n) {
    static const char magic[8] = {'H', 'C', 'T', 'M', 'O', 'D', 'E', 'L'};
    if (n < 16) return HECATE_E_FILE_TRUNCATED;
    for (int i = 0; i < 8; i++) if (p[i] != (unsigned char)magic[i]) return HECATE_E_FILE_MAGIC;
    if (rd32(p + 8) != FORMAT_VERSION) return HECATE_E_FILE_VERSION;
    if (rd32(p + 12) != ENDIAN_MARK || !host_is_little_endian()) return HECATE_E_FILE_ENDIAN;
    if (n < HCT_HEADER_BYTES) return HECATE_E_FILE_TRUNCATED;
    uint64_t recorded = rd64(p + 16);
    if (recorded > (uint64_t)n) return HECATE_E_FILE_TRUNCATED;
    if (recorded < (uint64_t)n) return HECATE_E_FILE_SIZE;
    if (hct_crc32(p + 28, n - 28) != rd32(p + 24)) return HECATE_E_FILE_CRC;
    for (size_t i = 144; i < HCT_HEADER_BYTES; i++) if (p[i]) return HECATE_E_FILE_RESERVED;
    return HECATE_OK;
}

/* ---- tensor directory ---- */

static bool name_matches(const unsigned char *field, const char *want) {
    size_t i = 0;
    for (; want[i]; i++) if (field[i] != (unsigned char)want[i]) return false;
    for (; i < 40; i++) if (field[i] != 0) return false; /* NUL-padded to the end */
    return true;
}

/* Bytes of a tensor's data: elements x scalar, or for int8 one float32
 * scale per row (shape[0]) before the int8 values. */
static uint64_t data_bytes(const hecate_tensor_info *t) {
    return t->dtype >= HCT_DTYPE_I8 ? (uint64_t)t->shape[0] * 4u + t->n_elems : t->n_elems * sizeof(real);
}

static hecate_status check_entry(const unsigned char *e, const expect *x, size_t n, uint64_t dir_end,
                                 hecate_tensor_info *info) {
    if (!name_matches(e, x->name)) return HECATE_E_FILE_TENSOR_NAME;
    uint32_t dtype = rd32(e + 40), ndim = rd32(e + 44);
    bool real_dtype = dtype <= HCT_DTYPE_F64 && (dtype == HCT_DTYPE_F32 ? 4u : 8u) == sizeof(real);
    /* int8 only for the matrices the kernels read; with int16 activations not for the embedding (a lookup) */
    bool int8 = x->mat != NO_MAT && (dtype == HCT_DTYPE_I8 ||
                                     (dtype == HCT_DTYPE_I8_A16 && x->field != offsetof(hct_weights, emb)));
    if (!real_dtype && !int8) return HECATE_E_FILE_TENSOR_DTYPE;
    if (ndim != x->ndim) return HECATE_E_FILE_TENSOR_SHAPE;
    uint64_t elems = 1;
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t dim = rd32(e + 48 + 4 * i);
        uint32_t want = x->shape[i]; /* unused dims are 1 */
        if (dim != want) return HECATE_E_FILE_TENSOR_SHAPE;
        info->shape[i] = dim;
        elems *= dim;
    }
    info->dtype = dtype;
    info->n_elems = elems;
    uint64_t off = rd64(e + 64), bytes = rd64(e + 72);
    if (bytes != data_bytes(info)) return HECATE_E_FILE_TENSOR_SIZE;
    if (off > (uint64_t)n || bytes > (uint64_t)n - off) return HECATE_E_FILE_TENSOR_RANGE;
    if (off % HCT_ALIGN) return HECATE_E_FILE_TENSOR_ALIGN;
    if (off < dir_end) return HECATE_E_FILE_TENSOR_OVERLAP;
    for (size_t i = 0; x->name[i]; i++) info->name[i] = x->name[i];
    info->ndim = ndim;
    info->file_offset = off;
    return HECATE_OK;
}

hecate_status hecate_model_open(void *mem, size_t mem_bytes, const void *file, size_t file_bytes,
                                hecate_model **out) {
    if (!out) return HECATE_E_NULL_ARG;
    *out = NULL;
    if (!mem || !file) return HECATE_E_NULL_ARG;
    if (mem_bytes < sizeof(hecate_model)) return HECATE_E_BUFFER_TOO_SMALL;
    if ((uintptr_t)mem % 16u || (uintptr_t)file % 8u) return HECATE_E_BUFFER_ALIGN;
    const unsigned char *p = (const unsigned char *)file;
    hecate_status st = check_header(p, file_bytes);
    if (st != HECATE_OK) return st;
    hecate_model *m = (hecate_model *)mem;
    hct_bytes_zero(m, sizeof *m);
    if ((st = read_config(p, &m->cfg)) != HECATE_OK) return st;
    m->rule = hct_rule_by_id(m->cfg.rule);
    m->composition = hct_composition_by_id(m->cfg.composition);
    uint32_t n_t = rd32(p + 28);
    if (n_t != tensor_count(&m->cfg, m->rule)) return HECATE_E_FILE_TENSOR_COUNT;
    uint64_t dir_end = HCT_HEADER_BYTES + (uint64_t)n_t * HCT_DIR_ENTRY_BYTES;
    if (dir_end > (uint64_t)file_bytes) return HECATE_E_FILE_TRUNCATED;
    uint64_t grad_at = 0;
    for (uint32_t i = 0; i < n_t; i++) {
        hct_tensor *t = &m->tensors[i];
        expect want;
        hecate_tensor_info info;
        expected_tensor(&m->cfg, m->rule, i, &want);
        st = check_entry(p + HCT_HEADER_BYTES + (size_t)i * HCT_DIR_ENTRY_BYTES, &want, file_bytes, dir_end,
                         &info);
        if (st != HECATE_OK) return st;
        t->file_offset = info.file_offset;
        t->bytes = data_bytes(&info);
        t->grad_offset = grad_at;
        t->field = (uint32_t)want.field;
        t->dtype = (uint16_t)info.dtype; /* checked: one of the dtype table's */
        t->linear_grad = want.mat != NO_MAT && want.field != offsetof(hct_weights, emb);
        grad_at += info.n_elems;
    }
    for (uint32_t i = 0; i < n_t; i++) /* pairwise: at most a few dozen tensors */
        for (uint32_t j = i + 1; j < n_t; j++) {
            const hct_tensor *a = &m->tensors[i], *b = &m->tensors[j];
            if (a->file_offset < b->file_offset + b->bytes && b->file_offset < a->file_offset + a->bytes)
                return HECATE_E_FILE_TENSOR_OVERLAP;
        }
    for (uint32_t i = 0; i < n_t; i++) { /* the weight views, and each matrix's kernel chosen once (hct_mat) */
        const hct_tensor *a = &m->tensors[i];
        const unsigned char *data = p + a->file_offset;
        expect e;
        expected_tensor(&m->cfg, m->rule, i, &e);
        hct_mat *mat = e.mat == NO_MAT ? NULL : (hct_mat *)(void *)((unsigned char *)&m->mat + e.mat);
        if (a->dtype >= HCT_DTYPE_I8) { /* check_entry allowed it: mat is not NULL */
            hct_q8 *q = &mat->q8;
            q->a16 = a->dtype == HCT_DTYPE_I8_A16;
            q->scale = (const float *)(const void *)data;
            q->q = (const int8_t *)(const void *)(data + (size_t)e.shape[0] * 4u);
            m->n_q8++;
            for (uint32_t r = 0; r < e.shape[0]; r++) {
                float sc = q->scale[r];
                if (!(sc > 0 && sc <= FLT_MAX)) return HECATE_E_FILE_TENSOR_SCALE; /* NaN fails too */
            }
            data = (const unsigned char *)q->q; /* the weight view points at the values */
        } else if (!hct_all_finite((const real *)(const void *)data, (size_t)(a->bytes / sizeof(real)))) {
            return HECATE_E_FILE_NONFINITE;
        } else if (mat) {
            mat->w = (const real *)(const void *)data;
        }
        *(real **)(void *)((unsigned char *)&m->w + m->tensors[i].field) = (real *)(uintptr_t)data;
    }
    m->n_tensors = n_t;
    m->n_params = grad_at;
    m->file_crc = rd32(p + 24);
    m->magic = HCT_MODEL_MAGIC;
    *out = m;
    return HECATE_OK;
}

void hct_bind_weights(const hecate_model *m, real *base, hct_weights *out) {
    hct_bytes_zero(out, sizeof *out);
    for (uint32_t i = 0; i < m->n_tensors; i++)
        *(real **)(void *)((unsigned char *)out + m->tensors[i].field) = base + m->tensors[i].grad_offset;
}

hecate_status hecate_model_get_info(const hecate_model *m, hecate_model_info *out) {
    if (!m || !out || m->magic != HCT_MODEL_MAGIC) return HECATE_E_NULL_ARG;
    const hct_config *c = &m->cfg;
    hecate_model_info i = {
        .format_version = FORMAT_VERSION,
        .vocab = c->vocab,
        .d_model = c->d,
        .n_heads = c->n_heads,
        .window = c->window,
        .composition = c->composition,
        .rule = c->rule,
        .n_levels = c->n_levels,
        .flags = c->flags,
        .n_tensors = m->n_tensors,
        .real_bytes = (uint32_t)sizeof(real),
        .file_crc32 = m->file_crc,
        .n_params = m->n_params,
        .n_layers = c->n_layers,
    };
    *out = i;
    return HECATE_OK;
}

hecate_status hecate_model_tensor(const hecate_model *m, uint32_t index, hecate_tensor_info *out) {
    if (!m || !out || m->magic != HCT_MODEL_MAGIC) return HECATE_E_NULL_ARG;
    if (index >= m->n_tensors) return HECATE_E_BAD_ARG;
    const hct_tensor *t = &m->tensors[index];
    expect e;
    expected_tensor(&m->cfg, m->rule, index, &e);
    hct_bytes_zero(out, sizeof *out);
    for (size_t i = 0; e.name[i]; i++) out->name[i] = e.name[i];
    out->ndim = e.ndim;
    out->n_elems = 1;
    for (int i = 0; i < 4; i++) {
        out->shape[i] = e.shape[i];
        out->n_elems *= e.shape[i];
    }
    out->grad_offset = t->grad_offset;
    out->file_offset = t->file_offset;
    out->dtype = t->dtype;
    return HECATE_OK;
}

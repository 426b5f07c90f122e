/* status.c — text for every status code of hecate.h (one table, one lookup)
 * and the library's version string. */
#include "internal.h"

typedef struct status_text { hecate_status code; const char *text; } status_text;

static const status_text TEXTS[] = {
    {HECATE_OK, "HECATE_OK: success"},
    {HECATE_E_NULL_ARG, "HECATE_E_NULL_ARG: a required pointer is NULL, or a handle is not valid"},
    {HECATE_E_BAD_ARG, "HECATE_E_BAD_ARG: an argument is out of its documented range"},
    {HECATE_E_BUFFER_TOO_SMALL, "HECATE_E_BUFFER_TOO_SMALL: caller memory smaller than the size query said"},
    {HECATE_E_BUFFER_ALIGN, "HECATE_E_BUFFER_ALIGN: caller memory not aligned as documented"},
    {HECATE_E_TOKEN_RANGE, "HECATE_E_TOKEN_RANGE: an input token id >= vocab"},
    {HECATE_E_CHUNK_TOO_LONG, "HECATE_E_CHUNK_TOO_LONG: training chunk longer than max_train_tokens"},
    {HECATE_E_NOT_TRAINABLE, "HECATE_E_NOT_TRAINABLE: session created with max_train_tokens = 0, or the model has int8 weights"},
    {HECATE_E_IO, "HECATE_E_IO: the optional host layer could not read a file or allocate"},
    {HECATE_E_FILE_TRUNCATED, "HECATE_E_FILE_TRUNCATED: fewer bytes than the header or a tensor needs"},
    {HECATE_E_FILE_MAGIC, "HECATE_E_FILE_MAGIC: not a hecate model file"},
    {HECATE_E_FILE_VERSION, "HECATE_E_FILE_VERSION: format version this runtime does not read"},
    {HECATE_E_FILE_ENDIAN, "HECATE_E_FILE_ENDIAN: endianness marker does not match"},
    {HECATE_E_FILE_SIZE, "HECATE_E_FILE_SIZE: recorded file size differs from the buffer"},
    {HECATE_E_FILE_CRC, "HECATE_E_FILE_CRC: CRC32 mismatch: the file is corrupt"},
    {HECATE_E_FILE_RESERVED, "HECATE_E_FILE_RESERVED: a reserved header field is not zero"},
    {HECATE_E_FILE_CONFIG, "HECATE_E_FILE_CONFIG: a config value is out of range or inconsistent"},
    {HECATE_E_FILE_RULE, "HECATE_E_FILE_RULE: unknown memory rule id"},
    {HECATE_E_FILE_COMPOSITION, "HECATE_E_FILE_COMPOSITION: unknown composition id"},
    {HECATE_E_FILE_TENSOR_COUNT, "HECATE_E_FILE_TENSOR_COUNT: tensor count differs from what the config needs"},
    {HECATE_E_FILE_TENSOR_NAME, "HECATE_E_FILE_TENSOR_NAME: tensor name unexpected, misplaced or not NUL-padded"},
    {HECATE_E_FILE_TENSOR_DTYPE, "HECATE_E_FILE_TENSOR_DTYPE: unknown dtype, or not this build's real type"},
    {HECATE_E_FILE_TENSOR_SHAPE, "HECATE_E_FILE_TENSOR_SHAPE: rank or shape differs from the config"},
    {HECATE_E_FILE_TENSOR_RANGE, "HECATE_E_FILE_TENSOR_RANGE: offset/size overflows or leaves the file"},
    {HECATE_E_FILE_TENSOR_ALIGN, "HECATE_E_FILE_TENSOR_ALIGN: tensor offset not 64-byte aligned"},
    {HECATE_E_FILE_TENSOR_OVERLAP, "HECATE_E_FILE_TENSOR_OVERLAP: tensor overlaps the header, directory or another tensor"},
    {HECATE_E_FILE_NONFINITE, "HECATE_E_FILE_NONFINITE: a weight is NaN or Inf"},
    {HECATE_E_FILE_TENSOR_SIZE, "HECATE_E_FILE_TENSOR_SIZE: byte size differs from shape x dtype size"},
    {HECATE_E_FILE_RETENTION, "HECATE_E_FILE_RETENTION: unknown retention id, or one the rule's math does not allow"},
    {HECATE_E_FILE_TENSOR_SCALE, "HECATE_E_FILE_TENSOR_SCALE: an int8 tensor's row scale is not finite and > 0"},
    {HECATE_E_STATE_TRUNCATED, "HECATE_E_STATE_TRUNCATED: blob shorter than its header or payload"},
    {HECATE_E_STATE_MAGIC, "HECATE_E_STATE_MAGIC: not a hecate state blob"},
    {HECATE_E_STATE_VERSION, "HECATE_E_STATE_VERSION: state version this runtime does not read"},
    {HECATE_E_STATE_ENDIAN, "HECATE_E_STATE_ENDIAN: endianness marker does not match"},
    {HECATE_E_STATE_MODEL, "HECATE_E_STATE_MODEL: blob belongs to another model or another build type"},
    {HECATE_E_STATE_SIZE, "HECATE_E_STATE_SIZE: recorded sizes differ from this session's"},
    {HECATE_E_STATE_CRC, "HECATE_E_STATE_CRC: CRC32 mismatch: the blob is corrupt"},
    {HECATE_E_STATE_NONFINITE, "HECATE_E_STATE_NONFINITE: the blob holds NaN or Inf"},
    {HECATE_E_STATE_RESERVED, "HECATE_E_STATE_RESERVED: a reserved field is not zero"},
    {HECATE_E_NONFINITE, "HECATE_E_NONFINITE: a computation produced NaN/Inf; the failing block was not committed"},
    {HECATE_E_DEVICE, "HECATE_E_DEVICE: no usable GPU or driver, or a device call failed"},
    {HECATE_E_UNSUPPORTED, "HECATE_E_UNSUPPORTED: the backend does not implement this rule, option or shape"},
};

const char *hecate_status_str(hecate_status status) {
    for (size_t i = 0; i < sizeof(TEXTS) / sizeof(TEXTS[0]); i++)
        if (TEXTS[i].code == status) return TEXTS[i].text;
    return "HECATE_E_UNKNOWN: unknown status code";
}

const char *hecate_version(void) { return HECATE_VERSION_STRING; }

"""Every status code of hecate.h has its own text in the C runtime, starting
with its name (status.c keeps one table; this keeps it complete)."""
from hecate_edge.runtime import load_library


def test_every_status_has_its_own_text():
    binding = load_library("f32")
    texts = {}
    for code, name in binding.status_names.items():
        text = binding.ffi.string(binding.lib.hecate_status_str(code)).decode()
        assert text.startswith(name + ": "), (name, text)
        texts[code] = text
    assert len(set(texts.values())) == len(texts) >= 30
    unknown = binding.ffi.string(binding.lib.hecate_status_str(12345)).decode()
    assert "unknown" in unknown

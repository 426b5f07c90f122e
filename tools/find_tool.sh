# find_tool.sh — sourced by the build scripts: find_tool NAME... prints the
# absolute path of the first tool found among the given names, or of their
# newest versioned Debian name (e.g. wasm-ld-14); status 1 when none is found.
find_tool() {
  local name cand
  for name in "$@"; do
    if command -v "$name" >/dev/null; then command -v "$name"; return 0; fi
    cand=$(compgen -c | grep -E "^$name-[0-9]+$" | sort -V -r | head -n1 || true)
    if [ -n "$cand" ]; then command -v "$cand"; return 0; fi
  done
  return 1
}

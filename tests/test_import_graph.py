"""The hecate_edge modules import each other without a cycle at module level.
Imports inside functions are deliberate lazy imports and are left out; the
graph is read with ast, so nothing is imported and no library is needed."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hecate_edge"


def _modules() -> dict[str, tuple[Path, bool]]:
    """{dotted name: (file, is a package __init__)} of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _module_level(tree: ast.AST):
    """Every node run when the module is imported: all but function bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        yield node
        yield from _module_level(node)


def _imports(name: str, path: Path, is_package: bool, modules) -> set[str]:
    """The package modules `name` imports at module level (`from m import x` names
    submodule m.x when there is one, else m)."""
    package = name if is_package else name.rpartition(".")[0]
    out = set()
    for node in _module_level(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            if source in modules:
                out |= {f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names}
    return out - {name}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state = {}  # name -> "open" while on the search path, "done" after

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, is_package, modules) for name, (path, is_package) in modules.items()}


def test_the_graph_sees_the_imports():
    graph = import_graph()
    assert "hecate_edge._lib" in graph["hecate_edge.runtime"]
    assert "hecate_edge.reference.rules.delta" in graph["hecate_edge.reference.rules"]
    assert "hecate_edge.batch" not in graph["hecate_edge.runtime"]  # lazy: inside Model.session_batch


def test_no_import_cycle_among_the_modules():
    cycle = _cycle(import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found_and_named():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None

"""The layer contract of docs/architecture.md, checked on the source: what may import what.

Every ``import`` of a livepipe module counts, also one inside a function (a lazy import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are exempt. Two rules:

* a module imports only from its own layer or below (:data:`LAYERS`, bottom first);
* no import circle between modules, whatever their layers.

:data:`KNOWN_UPWARD` and :data:`KNOWN_CIRCLES` list what the code did when the contract was written
down; the test fails on anything new **and** on an entry that no longer happens, so the lists only
shrink.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "livepipe"

#: Layers, bottom first: module-name prefixes (``livepipe.`` left out). A module's layer is the one
#: whose prefix matches it longest.
LAYERS: list[tuple[str, ...]] = [
    ("events", "views", "clock", "lograte", "schema", "component", "registry", "errors", "preflight",
     "assembly", "templating", "textnorm"),
    ("config",),
    ("plugins", "hookspecs"),
    ("runtime",),
    ("components",),
    ("bilibili",),
    ("sim",),
    # the package namespace (``__init__``) is a face too: ``from livepipe import Pipeline`` reaches the
    # embedding API, which runs the simulator; nothing in livepipe imports the package itself
    ("runner", "workers", "cli", "__main__", "docgen", "testing", "configtest", "scaffold", "embed", "__init__"),
]

#: Upward imports the code still has: (importer, imported).
KNOWN_UPWARD: set[tuple[str, str]] = set()

#: Import circles the code still has, each as the sorted tuple of its modules.
KNOWN_CIRCLES: set[tuple[str, ...]] = set()


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, modules: set[str], root: Path = ROOT) -> set[str]:
    """The livepipe modules ``path`` imports (anywhere but under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for a in node.names:
                found.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            for a in node.names:  # `from livepipe.x import y` may import the module livepipe.x.y
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules and m != me}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {m: imports_of(p, modules) for m, p in paths.items()}


def layer_of(module: str) -> int:
    rest = module.removeprefix("livepipe").removeprefix(".") or "__init__"
    best, best_len = None, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (rest == prefix or rest.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in {__file__}"
    return best


def circles(g: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[tuple[str, ...]] = set()
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(tuple(sorted(comp)))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return out


def test_every_module_has_a_layer():
    for module in graph():
        layer_of(module)


def test_imports_go_only_downward():
    g = graph()
    upward = {(a, b) for a, deps in g.items() for b in deps if layer_of(b) > layer_of(a)}
    new = sorted(upward - KNOWN_UPWARD)
    gone = sorted(KNOWN_UPWARD - upward)
    assert not new, "upward imports (move the code down, or pass what is needed in from above):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in new)
    assert not gone, f"fixed, so remove from KNOWN_UPWARD: {gone}"


def test_no_import_circles():
    found = circles(graph())
    new = sorted(found - KNOWN_CIRCLES)
    gone = sorted(KNOWN_CIRCLES - found)
    assert not new, "import circles:\n" + "\n".join(f"  {' <-> '.join(c)}" for c in new)
    assert not gone, f"fixed, so remove from KNOWN_CIRCLES: {gone}"


def test_the_checker_sees_lazy_imports_and_skips_type_checking(tmp_path):
    src = tmp_path / "livepipe" / "events.py"
    src.parent.mkdir()
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import livepipe.cli\n"
                   "def f():\n    from livepipe import config\n")
    assert imports_of(src, {"livepipe.cli", "livepipe.config", "livepipe"}, tmp_path) == {"livepipe.config"}


#: A module longer than this says at its top why it stays whole: a comment line ``# Stays whole: ...``
#: among the comment lines before its docstring.
MAX_LINES = 500
WHOLE_MARK = "# Stays whole:"


def says_why_whole(text: str) -> bool:
    """Whether the leading comment lines of a module (before anything else) hold ``# Stays whole: <reason>``."""
    for line in text.splitlines():
        if not line.startswith("#"):
            return False
        if line.startswith(WHOLE_MARK) and line[len(WHOLE_MARK):].strip():
            return True
    return False


def test_big_modules_are_split_or_say_why_they_stay_whole():
    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        n = len(text.splitlines())
        if n > MAX_LINES and not says_why_whole(text):
            too_big.append(f"  {path.relative_to(ROOT)}: {n} lines")
    assert not too_big, (f"modules over {MAX_LINES} lines: split them along their seams, or put "
                         f"'{WHOLE_MARK} <reason>' at the top:\n" + "\n".join(too_big))


def test_the_whole_mark_must_lead_and_give_a_reason():
    assert says_why_whole("# Stays whole: one state machine\n\"\"\"Doc.\"\"\"\n")
    assert says_why_whole("# a licence line\n# Stays whole: one table\n\"\"\"Doc.\"\"\"\n")
    assert not says_why_whole("# Stays whole:\n\"\"\"Doc.\"\"\"\n")  # no reason given
    assert not says_why_whole("\"\"\"Doc.\"\"\"\n# Stays whole: too late, after the docstring\n")
    assert not says_why_whole("\"\"\"Doc.\n\n# Stays whole: inside the docstring\n\"\"\"\n")

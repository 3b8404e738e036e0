"""The house rules, read off the source: imports point down the stack, files stay small.

The stack (docs/ARCHITECTURE.md), bottom to top; a module imports only from its own
subpackage and from lower levels:

    0  checks, bounded (0.5: io)      1  nn      2  data, optim      3  train      4  tasks
    5  insight
    6  cli             (the package root, bptt/__init__.py and __main__.py, sits above all)

Inside ``nn`` the fused kernels import the cells, never the reverse.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "bptt"
LEVELS = {
    "checks": 0,
    "bounded": 0,
    "io": 0.5,  # reads through bounded
    "nn": 1,
    "data": 2,
    "optim": 2,
    "train": 3,
    "tasks": 4,
    "insight": 5,
    "cli": 6,
}
TOP = 7  # bptt itself: __init__.py re-exports every subpackage
FORBIDDEN_INSIDE = [("nn.cells", "nn.kernels")]  # (importer prefix, imported prefix)
# imported inside a function on purpose: optional extras, and what only one path needs
LAZY_OK = ("fcntl", "matplotlib", "mpi4py", "numba", "safetensors", "tqdm", "urllib")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """Dotted name below bptt ("nn.cells.lstm", "" for the package itself) -> file."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imported(tree: ast.Module, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, dotted name below bptt) of every bptt module an import statement names."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from package, up level - 1
                up = package.split(".") if package else []
                up = up[: len(up) - (node.level - 1)] if node.level > 1 else up
                base = ".".join(["bptt", *up, *([base] if base else [])])
            modules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in _QUALIFIED]
            # names that are not modules come from base itself; the version is a literal in
            # bptt/__init__.py, readable from anywhere
            others = [a.name for a in node.names if f"{base}.{a.name}" not in _QUALIFIED]
            if base == "bptt":
                others = [n for n in others if n != "__version__"]
            names = modules + ([base] if others else [])
        else:
            continue
        for name in names:
            if name == "bptt" or name.startswith("bptt."):
                found.append((node.lineno, name.removeprefix("bptt").removeprefix(".")))
    return found


_QUALIFIED = {"bptt" + ("." + m if m else "") for m in MODULES}


def _dotted(module: str) -> str:
    return "bptt" + ("." + module if module else "")


def _level(module: str) -> int:
    return LEVELS.get(module.split(".")[0], TOP)  # "" and "__main__": the package root


def layering_problems(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_package = module.split(".")[0]
        for line, target in _imported(tree, module, path.name == "__init__.py"):
            where = f"{path.name}:{line}: {_dotted(module)} imports {_dotted(target)}"
            if top_package == target.split(".")[0] and _level(module) < TOP:
                bad = [
                    (a, b)
                    for a, b in FORBIDDEN_INSIDE
                    if module.startswith(a) and target.startswith(b)
                ]
                if bad:
                    problems.append(f"{where} ({bad[0][0]} must not import {bad[0][1]})")
                continue
            if _level(module) < TOP and _level(target) >= _level(module):
                problems.append(
                    f"{where} (level {_level(target)} from level {_level(module)}: "
                    "imports must point down the stack)"
                )
    return problems


def test_every_module_has_a_level():
    assert {m.split(".")[0] for m in MODULES if m} <= set(LEVELS) | {"__main__"}, sorted(MODULES)


def test_imports_point_down_the_stack():
    assert layering_problems(MODULES) == []


@pytest.mark.parametrize(
    ("module", "source", "words"),
    [
        (
            "train.trainer",
            "from bptt.insight.records import step_records\n",
            "level 5 from level 3",
        ),
        ("insight.vanishing", "from bptt.cli.options import UsageError\n", "level 6 from level 5"),
        ("nn.cells.lstm", "from bptt.nn import kernels\n", "must not import nn.kernels"),
        ("nn.cells.base", "from bptt.nn.kernels import load\n", "must not import nn.kernels"),
        ("data.text", "from bptt.optim import SGD\n", "level 2 from level 2"),
        ("nn.models", "import bptt\n", "level 7 from level 1"),
        ("io", "from bptt.train.checkpoint import CheckpointError\n", "level 3 from level 0"),
    ],
)
def test_a_planted_wrong_way_import_is_caught(tmp_path, module, source, words):
    planted = tmp_path / "planted.py"
    planted.write_text(MODULES[module].read_text(encoding="utf-8") + "\n" + source)
    problems = layering_problems({**MODULES, module: planted})
    assert len(problems) == 1 and words in problems[0], problems


def test_imports_inside_functions_are_only_for_optional_or_rarely_needed_modules():
    lazy = []
    for path in MODULES.values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                name = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                if not (name or "").startswith(LAZY_OK):
                    lazy.append(f"{path.relative_to(SRC.parent)}:{node.lineno}: {name}")
    assert lazy == []


def test_no_file_is_over_400_lines():
    files = [
        *SRC.rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
        *(ROOT / "benchmarks").rglob("*.py"),
    ]
    long = {
        str(p.relative_to(ROOT)): n
        for p in files
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_architecture_doc_names_every_module():
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    tree = doc[doc.index("## The tree") :]
    missing = [str(p.relative_to(SRC)) for p in MODULES.values() if p.name not in tree]
    missing += [
        f"{p.relative_to(SRC)}/"
        for p in SRC.rglob("*")
        if p.is_dir() and p.name != "__pycache__"
        if f"{p.name}/" not in tree
    ]
    assert missing == []

"""learn/'s folders say which process runs what, and no import points back up (read from the source,
nothing imported): the CLI, the judge, the worker and the training engine, and learn/shared/ below all.
The engine is reached by probe names, and no other name is run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from learn import ROOT

LEARN = ROOT / "learn"


def module_name(path: Path) -> str:
    """'learn.engine.pretrain' for learn/engine/pretrain.py, 'learn.engine' for its __init__.py."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = ROOT / Path(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module imported, line, at module level) for every import in the file, function-level ones too:
    `from learn.engine import corpus` counts as learn.engine.corpus, `from learn import ROOT` as learn."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            subs = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(sub if is_module(sub) else node.module, node.lineno, id(node) in top) for sub in subs]
    return found


MODULES = sorted(LEARN.rglob("*.py"))


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


#: (the folder, what its modules may import of `learn` besides the package root's ROOT, why).
RULES = {
    "learn.shared": (("learn.shared",), "both sides use it: it reaches neither"),
    "learn.engine": (("learn.engine", "learn.shared"), "it runs in the worker, named by string"),
    "learn.worker": (("learn.worker", "learn.shared"), "it reaches the engine's probes by string only"),
}
FORBIDDEN = {
    "learn.judge": (("learn.worker", "learn.engine"), "the judge decides; it never imports what runs the learner's code"),
    "learn.cli": (("learn.worker", "learn.engine"), "the CLI names the engine's probes by string: torch stays out"),
    "learn": (("learn.worker", "learn.engine"), "learn/*.py serve the CLI and the judge"),
}


def test_every_module_is_under_a_rule():
    for path in MODULES:
        assert module_name(path.parent / "__init__.py") in {**RULES, **FORBIDDEN}, (
            f"{path.relative_to(ROOT)}: a folder of learn/ with no rule in tests/test_layout.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(LEARN)))
def test_no_import_points_back_up(path):
    folder = module_name(path if path.name == "__init__.py" else path.parent / "__init__.py")
    for name, line, _ in imports(path):
        if not within(name, "learn") or name == "learn":  # the package root holds ROOT and imports nothing
            continue
        where = f"{path.relative_to(ROOT)}:{line} imports {name}"
        if folder in RULES:
            allowed, why = RULES[folder]
            assert any(within(name, a) for a in allowed), f"{where}: {folder} imports only {', '.join(allowed)} ({why})"
        if folder in FORBIDDEN:
            forbidden, why = FORBIDDEN[folder]
            assert not any(within(name, f) for f in forbidden), f"{where}: {why}"


def test_the_package_root_imports_nothing_of_learn():
    for name, line, _ in imports(LEARN / "__init__.py"):
        assert not within(name, "learn"), f"learn/__init__.py:{line} imports {name}: every module imports the root"


@pytest.mark.parametrize("path", sorted((LEARN / "cli").glob("*.py")), ids=lambda p: p.name)
def test_the_cli_imports_no_torch_at_start_up(path):
    for name, line, at_top in imports(path):
        assert not (at_top and within(name, "torch")), f"{path.relative_to(ROOT)}:{line} imports torch at module level"


def test_the_engine_s_imports_form_no_cycle():
    """A function-level import counts: a cycle hidden in a function is still one."""
    graph = {module_name(p): {n for n, _, _ in imports(p) if within(n, "learn.engine")} for p in (LEARN / "engine").glob("*.py")}
    found = cycle(graph)
    assert found is None, f"learn/engine imports in a cycle: {' -> '.join(found)} (move what they share to a lower module)"


def cycle(graph: dict) -> list | None:
    """A cycle of the graph {node: nodes it points to}, as [a, b, ..., a], or None."""
    done, path = set(), []

    def visit(node):
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        path.append(node)
        for used in sorted(graph.get(node, ())):
            if found := visit(used):
                return found
        done.add(path.pop())
        return None

    return next(filter(None, map(visit, sorted(graph))), None)


def test_a_cycle_is_found():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


@pytest.mark.parametrize("named", ["os:system", "learn.worker.main:main", "learn.judge.workers:Workers", "learn.enginex.a:b"])
def test_a_probe_named_outside_the_engine_is_refused(named):
    """The CLI names the engine's probes by string: a name outside learn.engine is refused by both sides."""
    from learn.judge.workers import ENGINE_PROBE
    from learn.worker.main import Probes

    assert ENGINE_PROBE.fullmatch(named) is None
    with pytest.raises(ValueError, match="not a probe of learn.engine"):
        Probes([], "", None).probe(named)

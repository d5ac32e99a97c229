"""host_tools in layers: every module imports only from its own group or from layers below, and no
imports go round in a circle. Read from the source with ast, so imports inside functions and under
`if TYPE_CHECKING:` count too: a type annotation that points back up is the same knot in the code."""

from __future__ import annotations

import ast
from pathlib import Path

from host_tools.interpreter import PROJECT_ROOT

# Lowest first. A layer holds groups side by side: a module may import its own group and anything
# below, never a neighbouring group of its own layer. A name covers a module and everything under it.
LAYERS: list[list[list[str]]] = [
    # What everything stands on: one-line errors, the MicroPython interpreter, mpy-cross, board files.
    [["host_tools", "host_tools.errors", "host_tools.interpreter", "host_tools.mpy", "host_tools.boards"]],
    # The host's end of the link: sessions, serial port and broker, the Source/Sink interface, cursors.
    [["host_tools.link"]],
    # Sources and sinks side by side, each knowing the other only through host_tools.link.flow.
    [["host_tools.sources"], ["host_tools.sinks"], ["host_tools.node_view"]],
    # The serial bridge and the MQTT end as one import each, and the launch of `zoo-micro bridge`.
    [["host_tools.bridge"], ["host_tools.mqtt"]],
    # Tools: build, deploy, flash, the virtual board, watch, monitor, fleet, scaffolding.
    [
        [
            "host_tools.romfs",
            "host_tools.uf2",
            "host_tools.build",
            "host_tools.deploy",
            "host_tools.flash",
            "host_tools.sim",
            "host_tools.watch",
            "host_tools.monitor",
            "host_tools.fleet",
            "host_tools.scaffold",
            "host_tools.pytest_plugin",
        ]
    ],
    # The command line: parses and prints.
    [["host_tools.cli"]],
]

# Board-side code that ships inside the package but runs on MicroPython; CPython never imports it.
BOARD_SIDE = "host_tools.sim.board"


def modules(root: Path, package: str, skip: str = "") -> dict[str, Path]:
    """Every module of `package` under `root`, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if skip and (name == skip or name.startswith(skip + ".")):
            continue
        found[name] = path
    return found


def _imported(name: str, tree: ast.AST, is_package: bool, known: set[str]) -> set[str]:
    here = name if is_package else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here.split(".")[: len(here.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            targets.add(base)
            # `from pkg import mod` imports the module mod, not only a name of pkg.
            targets.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                targets.add(node.args[0].value)
    return targets


def import_graph(root: Path, package: str, skip: str = "") -> dict[str, set[str]]:
    """{module: the package's modules it imports}, counting the parent packages an import runs
    (except the importer's own, which are already running when it is)."""
    mods = modules(root, package, skip)
    known = set(mods)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = set()
        for target in _imported(name, tree, path.name == "__init__.py", known):
            if not (target == package or target.startswith(package + ".")):
                continue
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                step = ".".join(parts[:i])
                if step == name or name.startswith(step + "."):
                    continue  # the importer itself or one of its own packages
                edges.add(step)
        graph[name] = edges
    return graph


def place(name: str, layers: list[list[list[str]]]) -> tuple[int, int] | None:
    """(layer, group) of a module: the longest name in the table that covers it."""
    best: tuple[int, tuple[int, int]] | None = None
    for li, groups in enumerate(layers):
        for gi, names in enumerate(groups):
            for covers in names:
                hit = name == covers or (covers != "host_tools" and name.startswith(covers + "."))
                if hit and (best is None or len(covers) > best[0]):
                    best = (len(covers), (li, gi))
    return best[1] if best else None


def upward(graph: dict[str, set[str]], layers: list[list[list[str]]]) -> list[str]:
    """Imports of a higher layer or of a neighbouring group, one line each."""
    wrong = []
    for name, targets in sorted(graph.items()):
        mine = place(name, layers)
        for target in sorted(targets):
            theirs = place(target, layers)
            if mine is None or theirs is None:
                continue
            if theirs[0] > mine[0] or (theirs[0] == mine[0] and theirs[1] != mine[1]):
                wrong.append(f"{name} (layer {mine[0]}) imports {target} (layer {theirs[0]})")
    return wrong


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each circle of imports once, as the modules along it (depth-first search, back edges)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                found.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    return found


def test_every_host_tools_module_has_a_layer():
    graph = import_graph(PROJECT_ROOT, "host_tools", BOARD_SIDE)
    assert "host_tools.cli.main" in graph and "host_tools.link.flow" in graph
    unplaced = sorted(n for n in graph if place(n, LAYERS) is None)
    assert not unplaced, f"give these modules a layer in LAYERS of {__file__}: {unplaced}"


def test_host_tools_imports_go_round_in_no_circle():
    found = cycles(import_graph(PROJECT_ROOT, "host_tools", BOARD_SIDE))
    assert not found, (
        "import circles (a lazy or TYPE_CHECKING import closes one too; let the lower module take a "
        "callback or a small interface instead): " + "; ".join(" -> ".join(c) for c in found)
    )


def test_host_tools_modules_import_only_their_own_group_and_lower_layers():
    wrong = upward(import_graph(PROJECT_ROOT, "host_tools", BOARD_SIDE), LAYERS)
    assert not wrong, "imports up or across the layers:\n" + "\n".join(wrong)


def test_the_check_finds_a_lazy_circle_an_upward_import_and_a_neighbours_import(tmp_path: Path):
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("def f():\n    from pkg.low import b\n")
    (pkg / "low" / "b.py").write_text("from . import a\n")
    (pkg / "side.py").write_text("import importlib\nimportlib.import_module('pkg.top')\n")
    (pkg / "top.py").write_text("from pkg.low.a import f\n")
    layers = [[["pkg"]], [["pkg.low"], ["pkg.side"]], [["pkg.top"]]]
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.low.a"] == {"pkg.low.b"} and graph["pkg.low.b"] == {"pkg.low.a"}
    assert graph["pkg.top"] == {"pkg.low", "pkg.low.a"}  # running pkg.low.a runs pkg.low first
    assert cycles(graph) == [["pkg.low.a", "pkg.low.b", "pkg.low.a"]]
    assert upward(graph, layers) == ["pkg.side (layer 1) imports pkg.top (layer 2)"]
    (pkg / "low" / "c.py").write_text("import pkg.side\n")
    assert upward(import_graph(tmp_path, "pkg"), layers) == [
        "pkg.low.c (layer 1) imports pkg.side (layer 1)",
        "pkg.side (layer 1) imports pkg.top (layer 2)",
    ]

"""zoo-framework 0.14 apps run on zoo_micro with only their imports changed, and print the same.

Each app in apps/ runs once on zoo-framework (the reference) and on zoo_micro on CPython, on the
MicroPython unix port from .py, and from .mpy. Lines that differ fail the test unless
docs/zoo-framework.md lists the pair under "Differences the conformance suite accepts".
"""

from __future__ import annotations

import functools

import conform
import pytest


@functools.cache
def reference(app: str) -> tuple[str, ...]:
    lines, raw = conform.run(app, "zoo-framework")
    assert lines and lines[-1] == "end", f"{app} did not run to its end on zoo-framework:\n{raw}"
    assert not any("gave up waiting" in ln for ln in lines), f"{app} timed out on zoo-framework:\n{raw}"
    return tuple(lines)


@pytest.mark.parametrize("interp", conform.INTERPRETERS)
@pytest.mark.parametrize("app", conform.APPS)
def test_app_prints_what_zoo_framework_prints(app: str, interp: str) -> None:
    ref = list(reference(app))
    got, raw = conform.run(app, interp)
    bad = conform.undocumented(app, ref, got, conform.documented())
    shown = "\n".join(f"  zoo-framework: {a!r}\n  zoo_micro:     {b!r}" for a, b in bad)
    assert not bad, (
        f"{app} on zoo_micro ({interp}) differs where docs/zoo-framework.md lists nothing:\n"
        f"{shown}\n--- zoo_micro printed:\n{raw}"
    )


@pytest.mark.parametrize("app", conform.APPS)
def test_only_the_import_lines_change(app: str) -> None:
    text = (conform.APPS_DIR / f"{app}.py").read_text()
    new = conform.to_zoo_micro(text)
    assert len(text.splitlines()) == len(new.splitlines())
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert changed, f"{app} imports nothing from zoo_framework"
    for old, line in changed:
        assert old.startswith("from zoo_framework") and line.startswith("from zoo_micro import ")
        assert old.split(" import ")[1] == line.split(" import ")[1]


def test_a_difference_fails_unless_the_doc_lists_it() -> None:
    ref = ["a: 1", "b: 2", "end"]
    got = ["a: 1", "b: 3", "c: 4", "end"]
    assert conform.undocumented("x", ref, got, {}) == [("b: 2", "b: 3"), (conform.NO_LINE, "c: 4")]
    allowed = {"x": {("b: 2", "b: 3"), (conform.NO_LINE, "c: 4")}}
    assert conform.undocumented("x", ref, got, allowed) == []
    assert conform.undocumented("y", ref, got, allowed) != []  # listed for another app only


def test_the_doc_table_is_read() -> None:
    rows = conform.documented()
    assert rows, "docs/zoo-framework.md has no rows under 'Differences the conformance suite accepts'"
    for app in rows:
        assert app in conform.APPS, f"the doc lists differences for {app}, which is no app in apps/"


@pytest.mark.parametrize("app", sorted(conform.documented()))
def test_each_documented_difference_names_a_line_zoo_framework_prints(app: str) -> None:
    printed = set(reference(app))
    for zf_line, _ in conform.documented()[app]:
        assert zf_line == conform.NO_LINE or zf_line in printed, (
            f"docs/zoo-framework.md lists {zf_line!r} for {app}, which zoo-framework no longer prints"
        )

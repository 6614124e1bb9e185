#!/usr/bin/env python3
"""Lists import cycles between the top-level modules of src/ and between the files of each
module directory (e.g. src/model/), read from `use crate::...` / `use super::...` lines and
`crate::x::` paths in the code. Exits 1 when there is a cycle.

    python3 scripts/import_cycles.py
"""
import pathlib
import re
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"


def strip_comments(text):
    return "\n".join(line.split("//")[0] for line in text.splitlines())


def top_level(path):
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".rs") if len(rel.parts) > 1 else rel.stem


def edges():
    """(from, to) pairs at two levels: top-level modules, and files inside one directory."""
    top, inner = set(), set()
    for path in SRC.rglob("*.rs"):
        if path.name == "main.rs":
            continue
        text = strip_comments(path.read_text())
        here = top_level(path)
        for target in re.findall(r"\bcrate::([a-z_]+)", text):
            if target != here:
                top.add((here, target))
        if len(path.relative_to(SRC).parts) == 2 and path.stem != "mod":
            for target in re.findall(r"\bsuper::([a-z_]+)", text):
                if target != path.stem:
                    inner.add((f"{here}/{path.stem}", f"{here}/{target}"))
    return top, inner


def cycles(pairs):
    graph = {}
    for a, b in pairs:
        graph.setdefault(a, set()).add(b)
    found, seen = [], set()

    def walk(node, stack):
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycle = stack[stack.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif len(stack) < 12:
                walk(nxt, stack + [nxt])

    for start in sorted(graph):
        walk(start, [start])
    return found


def main():
    top, inner = edges()
    bad = cycles(top) + cycles(inner)
    for cycle in bad:
        print("cycle: " + " -> ".join(cycle))
    print(f"{len(bad)} import cycle(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Fails when pool-core's modules import each other in a circle.

A module is a file under pool-core/src (a directory's files count as one
module: observe/ is `observe`). Its imports are every `crate::` path in its
code (comments stripped): `crate::pool::X` is an import of `pool`, and
`crate::X` of whichever module lib.rs re-exports `X` from. Tests inside a
file (`mod tests`) are ignored. Prints the circles found, or the layers
(each module's imports are all in lower layers).

Usage: ci/module-cycles.py [path/to/crate/src]
"""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                   pathlib.Path(__file__).resolve().parent.parent / "pool-core" / "src")


def code(path):
    text = path.read_text()
    cut = re.search(r"#\[cfg\(test\)\]\s*mod tests", text)
    if cut:
        text = text[:cut.start()]
    text = re.sub(r"//[^\n]*", "", text)  # comments, doc comments
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)  # strings


def module_of(path):
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".rs")


modules = {}
for path in sorted(src.rglob("*.rs")):
    if path.name == "lib.rs" and path.parent == src:
        continue
    modules.setdefault(module_of(path), []).append(path)

# Items lib.rs re-exports, by the module they come from.
lib = code(src / "lib.rs")
reexport = {}
for m in re.finditer(r"pub use (\w+)::(\{[^}]*\}|\w+)", lib):
    origin, items = m.group(1), m.group(2)
    for item in re.findall(r"\w+", items):
        reexport.setdefault(item, origin)


def paths_after_crate(text):
    """First segments of every path that starts with `crate::`."""
    out = []
    for m in re.finditer(r"\bcrate::", text):
        rest = text[m.end():]
        if rest.startswith("{"):
            depth, i = 0, 0
            for i, ch in enumerate(rest):
                depth += ch == "{"
                depth -= ch == "}"
                if depth == 0:
                    break
            inner = rest[1:i]
            # top-level items of the group
            depth, item, items = 0, "", []
            for ch in inner:
                if ch == "," and depth == 0:
                    items.append(item)
                    item = ""
                    continue
                depth += ch == "{"
                depth -= ch == "}"
                item += ch
            items.append(item)
            out += [re.match(r"\s*(\w*)", it).group(1) for it in items if it.strip()]
        else:
            seg = re.match(r"(\w+)", rest)
            if seg:
                out.append(seg.group(1))
    return out


graph = {}
for name, files in modules.items():
    deps = set()
    for f in files:
        for seg in paths_after_crate(code(f)):
            target = seg if seg in modules else reexport.get(seg)
            if target and target != name and target in modules:
                deps.add(target)
    graph[name] = deps

# Strongly connected components (Tarjan).
index, low, stack, on, sccs = {}, {}, [], set(), []


def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in graph[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)


sys.setrecursionlimit(10000)
for v in graph:
    if v not in index:
        visit(v)
circles = [sorted(c) for c in sccs if len(c) > 1]
if circles:
    for c in circles:
        edges = [f"{a} -> {b}" for a in c for b in sorted(graph[a]) if b in c]
        print(f"module circle in {src}: {', '.join(c)} ({'; '.join(edges)})", file=sys.stderr)
    sys.exit(1)

# Layers: a module sits one above the highest module it imports.
layer = {}


def height(v):
    if v not in layer:
        layer[v] = 1 + max((height(w) for w in graph[v]), default=-1)
    return layer[v]


for v in graph:
    height(v)
for h in range(max(layer.values()) + 1):
    print(f"layer {h}: {', '.join(sorted(v for v in layer if layer[v] == h))}")
print(f"module-cycles: {len(graph)} modules in {src}, no circle")

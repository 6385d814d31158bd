#!/usr/bin/env python3
"""Writes docs/gradients.md: for every op in the op table, where its backward is and its formula.

    scripts/gradients.py            rewrite docs/gradients.md
    scripts/gradients.py --check    exit 1 when docs/gradients.md is not what the code says

It is the "where is the gradient of X" index that derivatives.yaml gives PyTorch's readers, read
from the comments that state each formula beside its backward. For an op named NAME (the op
table's names, tests/op_table.cpp), the first of these that exists is its entry:

1. a comment block directly above the definition of NAME that states a derivative ("dx = ...");
2. the comment block above `record("NAME", ...)` (it may end up to four lines above it);
3. the comment block above a `record(op, ...)` in a helper that NAME's definition calls;
4. NAME's definition without a record of its own: a composite, differentiated through its ops.

An op with none of these, or a record without a formula above it, fails the check. The ctest test
gradients_index runs --check, and scripts/check_docs.py checks the links it writes.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["ops", "dist", "nn", "autograd"]
OUTPUT = os.path.join(ROOT, "docs", "gradients.md")

TABLE_ENTRY = re.compile(r'^\s*\{"([a-z_0-9]+)", \{')
LITERAL_RECORD = re.compile(r'\brecord\("([a-z_0-9]+)"')
DYNAMIC_RECORD = re.compile(r'\brecord\((op|name)\b')
DERIVATIVE = re.compile(r"^d[^=()]{0,30}=")  # "dx =", "dA = ", "dx[..., i, ...] =", "d t_i ="
FUNCTION_START = re.compile(r"^(?:[A-Za-z_][\w:<>,\s*&]*\s)?[*&]?([A-Za-z_]\w*)\(")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")


def comment_above(lines, index, reach):
    """The // block ending within `reach` lines above lines[index], without the slashes."""
    j = index - 1
    while j >= 0 and index - j <= reach and not lines[j].strip().startswith("//"):
        j -= 1
    block = []
    while j >= 0 and lines[j].strip().startswith("//"):
        block.insert(0, lines[j].strip()[2:].strip())
        j -= 1
    return block


def function_bounds(lines, name):
    """(first, last) line indices of the definition `T name(...) {...}` at namespace level, or None."""
    pattern = re.compile(r"^[A-Za-z_][\w:<>, ]*[ &*]" + re.escape(name) + r"\(")
    for i, line in enumerate(lines):
        if pattern.match(line):
            if line.rstrip().endswith(";"):
                continue  # a declaration
            end = i
            while end < len(lines) and not (lines[end].startswith("}") or (end == i and line.rstrip().endswith("}"))):
                end += 1
            return i, end
    return None


def enclosing_function(lines, index):
    for j in range(index, -1, -1):
        m = FUNCTION_START.match(lines[j])
        if m and not lines[j].startswith(" ") and not lines[j].startswith("//"):
            return m.group(1)
    return None


def entries():
    names = [m.group(1) for line in read(os.path.join(ROOT, "tests", "op_table.cpp")) if (m := TABLE_ENTRY.match(line))]
    files = {}
    for folder in SOURCES:
        for f in sorted(os.listdir(os.path.join(ROOT, folder))):
            if f.endswith(".cpp"):
                files[f"{folder}/{f}"] = read(os.path.join(ROOT, folder, f))
    literal, dynamic = {}, []
    for path, lines in files.items():
        for i, line in enumerate(lines):
            if (m := LITERAL_RECORD.search(line)):
                literal.setdefault(m.group(1), (path, i))
            elif DYNAMIC_RECORD.search(line) and "void record(" not in line:
                dynamic.append((path, i, enclosing_function(lines, i)))

    out, errors = [], []
    for name in sorted(set(names)):
        found = None
        for path, lines in files.items():
            bounds = function_bounds(lines, name)
            if bounds:
                found = (path, lines, bounds)
                break
        if found:
            path, lines, (first, last) = found
            above = comment_above(lines, first, 1)
            if any(DERIVATIVE.match(line) for line in above):
                out.append((name, path, first, f"{name}(", above))
                continue
        if name in literal:
            path, i = literal[name]
            block = comment_above(files[path], i, 4)
            if not any(DERIVATIVE.match(line) for line in block):
                errors.append(f"{path}:{i + 1}: record(\"{name}\") has no comment above it stating its gradient (\"dx = ...\")")
            out.append((name, path, i, f'record("{name}"', block))
            continue
        if found:
            path, lines, (first, last) = found
            body = "\n".join(lines[first:last + 1])
            helper = next(((p, i, h) for p, i, h in dynamic if h and re.search(r"\b" + h + r"\(", body)), None)
            if helper:
                p, i, h = helper
                block = comment_above(files[p], i, 4)
                if not any(DERIVATIVE.match(line) for line in block):
                    errors.append(f"{p}:{i + 1}: the record in {h}, which {name} uses, has no comment above it stating the gradient")
                out.append((name, path, first, f"{name}(", block + [f"(recorded by `{h}`)"]))
                continue
            if "record(" not in body:
                out.append((name, path, first, f"{name}(", ["composite: differentiated through the ops it is made of"]))
                continue
        errors.append(f"the op table's '{name}': no formula found (see scripts/gradients.py for where it is looked for)")
    return out, errors


def render(rows):
    lines = [
        "# Where each gradient is",
        "",
        "Every op of the op table (tests/op_table.cpp), where its backward is, and the formula the",
        "comment beside it states: the index that derivatives.yaml gives PyTorch's readers. dy is the",
        "incoming gradient, y the op's result; the engine sums each gradient back to its input's shape",
        "(autograd/engine.cpp), so the formulas are in the broadcast shape. Every one of these backwards",
        "is gradchecked in f64 (`tests/gradcheck_test.cpp`).",
        "",
        "Written by `scripts/gradients.py` from the comments in the code; the ctest test",
        "`gradients_index` fails when this page and the code disagree.",
        "",
        "| op | backward | gradient |",
        "|---|---|---|",
    ]
    for name, path, index, symbol, block in rows:
        formula = " ".join(block).replace("|", "\\|")
        lines.append(f"| `{name}` | [`{symbol}`](../{path}#L{index + 1}) | {formula} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="fail when docs/gradients.md is out of date")
    a = p.parse_args()
    rows, errors = entries()
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    text = render(rows)
    if a.check:
        current = open(OUTPUT, encoding="utf-8").read() if os.path.exists(OUTPUT) else ""
        if current != text:
            print("docs/gradients.md is out of date with the code: run scripts/gradients.py", file=sys.stderr)
            return 1
        print(f"gradients: docs/gradients.md lists all {len(rows)} ops, as the code says")
        return 0
    with open(OUTPUT, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote docs/gradients.md: {len(rows)} ops")
    return 0


if __name__ == "__main__":
    sys.exit(main())

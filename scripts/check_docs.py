#!/usr/bin/env python3
"""Keeps the Markdown in this repository true to the code it points at.

    scripts/check_docs.py            check; exit 1 and name each broken reference
    scripts/check_docs.py --fix      also move each drifted line link to the symbol's new line

Rules, for every tracked *.md outside the build folders:

1. A link to a line, [text](path#L12) or [text](path#L12-L20), names the symbol it points at as the
   first `code span` of its text (three characters or more), and that line (or range) contains the
   symbol as a whole word. --fix moves a drifted link to the occurrence of the symbol nearest its
   old line, keeping a range's length. Such a link is inline and on one line, or it could not be
   checked.
2. Relative links point at files or folders that exist.
3. No bare "line 12" or "file.cpp:12" in prose: such a reference cannot be checked, so it must be a
   link by rule 1.
4. No absolute path of this checkout (or of the folder holding it): generated pages name paths
   relative to the repository, so that they stay true on another machine.

The ctest test docs_links runs the check, so `make test` and CI fail when a page drifts.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {".git", "build", "build-asan", "build-novec", "build-fuzz"}

LINK = re.compile(r'\[((?:[^\[\]]|\[[^\]]*\])+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
SPLIT_LINE_LINK = re.compile(r"\[[^\]\n]*\n[^\]]*\]\([^)\s]*#L\d+")  # a link to a line whose text wraps
REFERENCE_LINE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*\S*#L\d+", re.M)  # [name]: path#L12
LINE_ANCHOR = re.compile(r"^(.*)#L(\d+)(?:-L(\d+))?$")
CODE_SPAN = re.compile(r"`([^`]+)`")
BARE_LINE = re.compile(r"\blines? \d+|\b[\w./-]+\.(?:cpp|hpp|py|sh|txt|cmake):\d+")
FENCE = re.compile(r"^\s*(```|~~~)")


def repository_files(suffixes):
    """The repository's files that end with one of `suffixes`: the tracked ones in a git checkout
    (tests running beside this check write files of their own), else every one outside the builds."""
    try:
        listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], capture_output=True, check=True).stdout
        yield from (os.path.join(ROOT, f) for f in sorted(listed.decode().split("\0")) if f.endswith(suffixes))
        return
    except (OSError, subprocess.CalledProcessError):
        pass
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("build"))
        for f in sorted(files):
            if f.endswith(suffixes):
                yield os.path.join(folder, f)


def check_generated(path):
    """Rule 4 for the pages' data and pictures (docs/*.jsonl, docs/img/*.svg)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    rel = os.path.relpath(path, ROOT)
    return [f"{rel}: names this machine's path {p}/...; write it relative to the repository"
            for p in {ROOT, os.path.dirname(ROOT)} if p != "/" and p + "/" in text]


def symbol_pattern(symbol):
    """The symbol as a whole: `record` does not match `recorded`, nor `r` any r."""
    before = r"(?<![\w])" if re.match(r"\w", symbol) else ""
    after = r"(?![\w])" if re.search(r"\w$", symbol) else ""
    return re.compile(before + re.escape(symbol) + after)


def prose_lines(text):
    """(index, line) of the lines outside fenced code blocks."""
    fenced = False
    for i, line in enumerate(text.split("\n")):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield i, line


def without_links(line):
    return LINK.sub(lambda m: " ", line)


def check_file(path, fix, cache):
    rel = os.path.relpath(path, ROOT)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    errors, fixed = [], 0
    forbidden = [p for p in {ROOT, os.path.dirname(ROOT)} if p != "/"]

    outside = dict(prose_lines(text))
    prose = "\n".join(outside.get(i, "") for i in range(len(lines)))  # fenced code blanked
    for pattern, what in ((SPLIT_LINE_LINK, "a link to a line must be written on one line"),
                          (REFERENCE_LINE_LINK, "a link to a line must be an inline link [`symbol`](path#L<n>)")):
        for m in pattern.finditer(prose):
            errors.append(f"{rel}:{prose.count(chr(10), 0, m.start()) + 1}: {what}, so that it can be checked")
    for i, line in prose_lines(text):
        where = f"{rel}:{i + 1}"
        for p in forbidden:
            if p + "/" in line:
                errors.append(f"{where}: names this machine's path {p}/...; write it relative to the repository")
        bare = BARE_LINE.search(without_links(line).replace("`", ""))
        if bare:
            errors.append(f"{where}: '{bare.group(0)}' cannot be checked; link it as [`symbol`](path#L<n>)")

        def relink(m):
            nonlocal fixed
            label, target = m.group(1), m.group(2)
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                return m.group(0)
            anchor = LINE_ANCHOR.match(target)
            file_part = anchor.group(1) if anchor else target.split("#")[0]
            resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if not os.path.exists(resolved):
                errors.append(f"{where}: link to {file_part}, which does not exist")
                return m.group(0)
            if not anchor:
                return m.group(0)
            first, last = int(anchor.group(2)), int(anchor.group(3) or anchor.group(2))
            symbol = CODE_SPAN.search(label)
            if not symbol:
                errors.append(f"{where}: the link [{label}]({target}) points at a line but names no `symbol` in its text")
                return m.group(0)
            symbol = symbol.group(1)
            if resolved not in cache:
                with open(resolved, encoding="utf-8", errors="replace") as f:
                    cache[resolved] = f.read().split("\n")
            source = cache[resolved]
            if len(symbol) < 3:
                errors.append(f"{where}: `{symbol}` is too short to find a line by; name a longer symbol")
                return m.group(0)
            on = symbol_pattern(symbol)
            if any(on.search(source[k - 1]) for k in range(first, last + 1) if 0 < k <= len(source)):
                return m.group(0)
            hits = [k + 1 for k, s in enumerate(source) if on.search(s)]
            if not fix or not hits:
                found = f"; it is at line {', '.join(map(str, hits[:5]))} (run scripts/check_docs.py --fix)" if hits else \
                    f"; {file_part} no longer contains it"
                errors.append(f"{where}: `{symbol}` is not on line {first} of {file_part}{found}")
                return m.group(0)
            new = min(hits, key=lambda k: (abs(k - first), k))
            fixed += 1
            span = f"#L{new}" + (f"-L{new + last - first}" if anchor.group(3) else "")
            return f"[{label}]({file_part}{span})"

        new_line = LINK.sub(relink, line)
        if new_line != line:
            lines[i] = new_line

    if fix and fixed:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        print(f"{rel}: moved {fixed} link(s)")
    return errors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fix", action="store_true", help="move each drifted line link to its symbol's nearest line")
    p.add_argument("files", nargs="*", help="Markdown files (default: every *.md in the repository)")
    a = p.parse_args()
    files = [os.path.abspath(f) for f in a.files] or list(repository_files(".md"))
    cache, errors = {}, []
    for f in files:
        errors += check_file(f, a.fix, cache)
    if not a.files:
        for f in repository_files((".jsonl", ".svg")):
            errors += check_generated(f)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"{len(errors)} broken reference(s) in the docs", file=sys.stderr)
        return 1
    print(f"docs: {len(files)} pages, every link and line reference holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())

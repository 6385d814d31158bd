#!/usr/bin/env python3
"""Compiles every C++ code block of the docs, so that none of them can rot.

Reads the ```cpp blocks of the tracked Markdown files (README.md, docs/, each folder's README)
and compiles each with the installed headers' layout (-fsyntax-only, C++20):

  - a block with `int main(` is a whole program, compiled with its own includes and nothing but
    the given names below added (no using-directive, no <iostream>);
  - any other block is a fragment: its #include and `using namespace` lines go to the top and the
    rest becomes the body of a function (structs included: a local class is legal C++).

Every block is read as after `using namespace nyx;`. Fragments may use, as given, the names a
reader would have in hand at that point of a page; they are declared below in CONTEXT (and
nothing else is). A block that should not compile (a shell
session shown as C++, say) must not be tagged cpp.

Usage: check_snippets.py --compiler c++ --include DIR [--include DIR ...] [--list]
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The names fragments may take as given: a batch, a model with its configuration and optimizer,
# a dataset and a loss. Declared, never defined: the blocks are compiled, not linked.
NAMES = """\
#include <nyx/nyx.hpp>
namespace snippet_context {
extern nyx::Tensor ids, mask, labels, loss;  // ids [B, n] i64, mask [B, n], labels [B]; a loss
extern nyx::models::EncoderConfig config;
extern std::int64_t classes;
extern nyx::models::EncoderClassifier model;
extern nyx::optim::Optimizer& optimizer;
extern nyx::data::SequenceDataset train;
}  // namespace snippet_context
using namespace snippet_context;
"""
# Fragments are read as parts of a program that has these too.
CONTEXT = "#include <iostream>\n" + NAMES + "using namespace nyx;\n"

FENCE = re.compile(r"^(\s*)```(\S*)\s*$")


def markdown_files():
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return sorted(ROOT / path for path in tracked)


def blocks(path):
    """(first line number, code) of each ```cpp block."""
    found, code, start, indent = [], None, 0, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fence = FENCE.match(line)
        if code is None and fence and fence.group(2) in ("cpp", "c++"):
            code, start, indent = [], number + 1, fence.group(1)
        elif code is not None and fence and not fence.group(2):
            found.append((start, "\n".join(code) + "\n"))
            code = None
        elif code is not None:
            code.append(line[len(indent):] if line.startswith(indent) else line)
    return found


def translation_unit(code, where):
    if re.search(r"\bint\s+main\s*\(", code):  # a program: its own includes, only the given names added
        return NAMES + f'#line 1 "{where}"\n' + code
    head = [line for line in code.splitlines() if re.match(r"\s*(#include|using namespace)", line)]
    body = "\n".join("" if re.match(r"\s*(#include|using namespace)", line) else line for line in code.splitlines())
    return CONTEXT + "\n".join(head) + f'\nvoid snippet() {{\n#line 1 "{where}"\n' + body + "\n}\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compiler", default=os.environ.get("CXX", "c++"))
    parser.add_argument("--include", action="append", default=[], help="an include directory (nyx's headers)")
    parser.add_argument("--list", action="store_true", help="list the blocks, compile nothing")
    args = parser.parse_args()

    failures, count = [], 0
    with tempfile.TemporaryDirectory() as scratch:
        for path in markdown_files():
            relative = path.relative_to(ROOT)
            for line, code in blocks(path):
                count += 1
                where = f"{relative}:{line}"
                if args.list:
                    print(where)
                    continue
                source = pathlib.Path(scratch) / f"block{count}.cpp"
                source.write_text(translation_unit(code, str(relative)).replace(f'#line 1 "{relative}"', f'#line {line} "{relative}"'))
                command = [args.compiler, "-std=c++20", "-fsyntax-only", "-Wall", "-Wextra"]
                command += [f"-I{d}" for d in args.include] + [str(source)]
                result = subprocess.run(command, capture_output=True, text=True)
                if result.returncode != 0:
                    failures.append((where, result.stderr.strip()))
    if args.list:
        return 0
    for where, errors in failures:
        print(f"{where}: this C++ block does not compile:\n{errors}\n", file=sys.stderr)
    if failures:
        print(f"snippets: {len(failures)} of {count} C++ blocks in the docs do not compile", file=sys.stderr)
        return 1
    print(f"snippets: all {count} C++ blocks in the docs compile")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks that no #include in the library crosses a layer upward.

The library's folders are layered; each may include from itself and the folders listed for it
below, which is what its README says. Run by the ctest test include_layers.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# folder: the other folders it may include from (each README states the same rule)
MAY_INCLUDE = {
    "core": [],
    "autograd": ["core"],
    "dist": ["core", "autograd"],
    "ops": ["core", "autograd"],
    "nn": ["core", "autograd", "dist", "ops"],
    "models": ["core", "autograd", "dist", "ops", "nn"],
    "data": ["core"],
}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"](?:nyx/|\.\./)([a-z_]+)/')


def main():
    errors = []
    for folder, allowed in MAY_INCLUDE.items():
        path = os.path.join(ROOT, folder)
        readme = os.path.join(path, "README.md")
        if not os.path.exists(readme):
            errors.append(f"{folder}/ has no README.md saying what lives there and what it may include")
        for name in sorted(os.listdir(path)):
            if not name.endswith((".hpp", ".cpp")):
                continue
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and m.group(1) != folder and m.group(1) not in allowed:
                        rule = ", ".join(f"{a}/" for a in allowed) or "nothing else"
                        errors.append(f"{folder}/{name}:{number}: includes {m.group(1)}/, but {folder}/ may include {rule}")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print(f"layers: no include crosses a layer upward ({', '.join(MAY_INCLUDE)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

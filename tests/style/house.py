#!/usr/bin/env python3
"""The house keeps its limits (issue 21): in src/ and bench/, no file over 450 lines, no class
over 250, no function over 60, and no circle of includes between the files of src/ (a .cpp and
its .hpp count as one). Definitions are read with Universal Ctags.

Usage: house.py SOURCE_ROOT. Exit 0 when every limit holds, 1 with one line per breach.
"""

import os
import re
import shutil
import subprocess
import sys

MAX_FILE, MAX_CLASS, MAX_FUNCTION = 450, 250, 60
PLACES = ("src", "bench")
SOURCE = re.compile(r"\.(cpp|hpp|c|h|py)$")


def sources(root):
    for place in PLACES:
        for name in sorted(os.listdir(os.path.join(root, place))):
            path = os.path.join(place, name)
            full = os.path.join(root, path)
            if os.path.isfile(full) and (SOURCE.search(name) or is_script(full)):
                yield path


def is_script(path):
    with open(path, "rb") as f:
        return f.read(2) == b"#!"


def ctags():
    if os.environ.get("LHC_CTAGS"):
        return os.environ["LHC_CTAGS"]
    for name in ("ctags-universal", "universal-ctags", "ctags"):
        if shutil.which(name):
            return name
    sys.exit("house.py: Universal Ctags is not installed (Debian: universal-ctags)")


def definitions(root, paths):
    """(kind, name, first line, last line, path) of every class and function."""
    out = subprocess.run(
        [ctags(), "--fields=+ne", "-x",
         "--_xformat=%{kind}\t%{name}\t%{line}\t%{end}\t%{input}"] + list(paths),
        cwd=root, capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        kind, name, first, last, path = line.split("\t")
        if last.isdigit():
            yield kind, name, int(first), int(last), path


def breaches(root):
    paths = list(sources(root))
    for path in paths:
        with open(os.path.join(root, path), encoding="utf-8") as f:
            n = sum(1 for _ in f)
        if n > MAX_FILE:
            yield "%s: %d lines > %d" % (path, n, MAX_FILE)
    for kind, name, first, last, path in definitions(root, paths):
        n = last - first + 1
        if kind in ("class", "struct") and n > MAX_CLASS:
            yield "%s:%d: %s %s: %d lines > %d" % (path, first, kind, name, n, MAX_CLASS)
        if kind in ("function", "member", "method") and n > MAX_FUNCTION:
            yield "%s:%d: %s %s: %d lines > %d" % (path, first, kind, name, n, MAX_FUNCTION)
    yield from include_circles(root)


def include_circles(root):
    """A circle of #include "..." between the files of src/, a .cpp and its .hpp as one."""
    include = re.compile(r'^#include "([a-z0-9_]+)\.hpp"', re.M)
    stems = {}
    for name in os.listdir(os.path.join(root, "src")):
        stem, ext = os.path.splitext(name)
        if ext in (".cpp", ".hpp"):
            with open(os.path.join(root, "src", name), encoding="utf-8") as f:
                found = set(include.findall(f.read())) - {stem}
            stems.setdefault(stem, set()).update(found)
    state = {}

    def visit(stem, path):
        state[stem] = "open"
        for other in sorted(stems.get(stem, ())):
            if state.get(other) == "open":
                circle = path[path.index(other):] + [other]
                yield "src: a circle of includes: " + " -> ".join(circle)
            elif other not in state:
                yield from visit(other, path + [other])
        state[stem] = "done"

    for stem in sorted(stems):
        if stem not in state:
            yield from visit(stem, [stem])


def main():
    found = list(breaches(sys.argv[1]))
    for line in found:
        print(line)
    if not found:
        print("house: every file <= %d lines, class <= %d, function <= %d; no include circle"
              % (MAX_FILE, MAX_CLASS, MAX_FUNCTION))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

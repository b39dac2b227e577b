#!/usr/bin/env python3
"""Function lengths in lib/: the median over lib/ and the longest functions in lib/server.

    scripts/function-lengths.py            figures, the longest functions in lib/server
    scripts/function-lengths.py --all      every function in lib/, longest first
    scripts/function-lengths.py --check    also exit 1 when the median is over 10 lines or a
                                           function in lib/server is over 80 lines (issue 13)

A function's length is the number of lines from the first line of its declaration (template
line and signature) to its closing brace, both included, blank and comment lines included: what
a reader scrolls through. A one-line function is 1 line long. The figure in brackets, "body", is
clang-tidy's readability-function-size count (closing-brace line minus opening-brace line), for
comparison.

How it reads C++: a brace-matching scanner. Comments, string and character literals (raw strings
too) and preprocessor lines are blanked first, so braces inside them do not count. A '{' at
namespace or class scope opens a function body when the text before it, since the previous ';',
'{' or '}', ends like a declarator: a ')' followed only by qualifiers (const, noexcept, override,
final, '&', '-> type') or a constructor's initialiser list. Class, struct, union, enum and
namespace bodies, and brace initialisers (`T x{...}`, `= {...}`), are not functions. Everything
inside a function (blocks, lambdas, local classes) counts toward that function. Lambdas assigned
at namespace or class scope (tables of callbacks) are data, not functions, and are not counted.
Functions are counted once where they are written: in the .cpp or in the header.
"""
import argparse
import os
import re
import statistics
import sys

MEDIAN_LIMIT = 10
SERVER_LIMIT = 80

KEYWORD_TAILS = re.compile(
    r"^(?:\s|const\b|volatile\b|noexcept\b(?:\s*\([^()]*\))?|override\b|final\b|mutable\b|&&?|"
    r"->\s*[\w:<>,\s*&]+|try\b)*$")
CLASS_HEAD = re.compile(r"^(?:typedef\s+)?(?:class|struct|union|enum)\b")
TEMPLATE_PREFIX = re.compile(r"^template\s*<")
ACCESS = re.compile(r"^(?:public|private|protected)\s*:(?!:)\s*")
LEADING_MACRO = re.compile(r"^[A-Z][A-Z0-9_]*\s+(?![\s(])")
OPERATOR = re.compile(r"\boperator\s*(?:\(\)|\[\]|[^\s(]+)")


def blank(text):
    """Returns text with comments, literals and preprocessor lines replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":  # preprocessor directive, with continuation lines
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        line_start = False
        if c == "\n":
            out.append(c)
            line_start = True
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out.append(" ")
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"' or c == "'":
            # A raw string: R"delim( ... )delim", possibly with an encoding prefix (u8R, LR ...).
            m = re.search(r"(?:u8|[uUL])?R$", text[max(0, i - 3):i])
            if c == '"' and m and not re.match(r"\w", text[i - len(m.group(0)) - 1:i - len(m.group(0))] or " "):
                delim_end = text.find("(", i)
                delim = text[i + 1:delim_end]
                end = text.find(")" + delim + '"', delim_end)
                end = n if end < 0 else end + len(delim) + 2
            elif c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum() \
                    and re.match(r"[0-9a-fA-F]", text[i - 1]) and re.search(r"\b\d[\w']*$", text[:i]):
                out.append(" ")  # a digit separator: 1'000'000
                i += 1
                continue
            else:
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                end = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:end - 1]) + c)
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_head(head):
    """The declaration text before a '{', without access labels, leading macros and template<...>."""
    head = head.strip()
    changed = True
    while changed:
        changed = False
        for pattern in (ACCESS, LEADING_MACRO):
            m = pattern.match(head)
            if m:
                head = head[m.end():].lstrip()
                changed = True
        if TEMPLATE_PREFIX.match(head):
            depth, k = 0, head.index("<")
            while k < len(head):
                depth += {"<": 1, ">": -1}.get(head[k], 0)
                k += 1
                if depth == 0:
                    break
            head = head[k:].lstrip()
            changed = True
    return head


def top_level_equals(head):
    depth = 0
    for c in OPERATOR.sub("operator", head):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "=" and depth == 0:
            return True
    return False


def classify(head):
    """'namespace', 'class', 'function', 'member_init' (a `x_{...}` in an initialiser list) or 'other'."""
    h = strip_head(head)
    if re.match(r"^(?:inline\s+)?namespace\b", h) or re.match(r'^extern\s*"', h):
        return "namespace"
    if CLASS_HEAD.match(h):
        return "class"
    if "(" not in h or top_level_equals(h):
        return "other"
    last = h.rfind(")")
    tail = h[last + 1:]
    if KEYWORD_TAILS.match(tail):
        return "function"
    # Constructor initialiser list: `Foo(int a) : x_(a), y_` before `{b}`.
    if re.search(r"\)\s*(?:noexcept\s*)?:(?!:)", h) and re.match(r"^\s*[,:]?\s*[\w:]+(?:<[^{}]*>)?\s*$", tail):
        return "member_init"
    return "other"


def function_name(head):
    h = OPERATOR.sub(lambda m: m.group(0).replace(" ", ""), strip_head(head))
    depth = 0
    for k, c in enumerate(h):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth <= 0:
            m = re.search(r"([~\w:]*(?:operator\S*)?)\s*$", h[:k])
            return (m.group(1) if m else "") or "?"
    return "?"


def scan(path, rel):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = blank(f.read())
    funcs = []
    stack = []  # (kind, start_line, open_line, name)
    head_start = 0
    line = 1
    head_parts = []
    i, n = 0, len(text)
    in_function = 0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if in_function:
            if c == "{":
                in_function += 1
            elif c == "}":
                in_function -= 1
                if in_function == 0:
                    kind, start, open_line, name = stack.pop()
                    funcs.append((rel, name, start, open_line, line))
                    head_start = i + 1
            i += 1
            continue
        if c in ";{}":
            head = text[head_start:i]
            if c == "{":
                kind = classify(head) if not stack or stack[-1][0] in ("namespace", "class") else "other"
                if kind == "member_init":
                    depth, j = 1, i + 1  # skip `{...}` and keep reading the same declaration
                    while j < n and depth:
                        depth += {"{": 1, "}": -1}.get(text[j], 0)
                        line += text[j] == "\n"
                        j += 1
                    text = text[:i] + "(" + " " * (j - i - 2) + ")" + text[j:]
                    i = j
                    continue
                stripped = strip_head(head)
                offset = head.find(stripped[:20]) if stripped else len(head)
                start = line - head[max(offset, 0):].count("\n")
                stack.append((kind, start, line, function_name(head) if kind == "function" else ""))
                if kind == "function":
                    in_function = 1
            elif c == "}" and stack:
                stack.pop()
            head_start = i + 1
        i += 1
    if stack or in_function:
        print(f"function-lengths: {rel}: unbalanced braces at the end of the file; figures for it may be off",
              file=sys.stderr)
    return funcs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help=f"fail when the median is over {MEDIAN_LIMIT} "
                        f"or a lib/server function is over {SERVER_LIMIT} lines")
    parser.add_argument("--all", action="store_true", help="list every function in lib/, longest first")
    parser.add_argument("--top", type=int, default=15, help="how many of lib/server's longest to list")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = parser.parse_args()
    root = os.path.normpath(args.root)

    funcs = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "lib")):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".cpp", ".hpp", ".h", ".cc", ".ipp")):
                path = os.path.join(dirpath, name)
                funcs.extend(scan(path, os.path.relpath(path, root)))
    if not funcs:
        sys.exit("function-lengths: no functions found under lib/")

    def length(f):
        return f[4] - f[2] + 1

    def body(f):
        return f[4] - f[3]

    def show(f):
        return f"  {length(f):4} (body {body(f):4})  {f[0]}:{f[2]}  {f[1]}"

    lengths = [length(f) for f in funcs]
    median = statistics.median(lengths)
    server = sorted((f for f in funcs if f[0].startswith("lib/server/")), key=length, reverse=True)
    over = [f for f in server if length(f) > SERVER_LIMIT]
    print(f"lib/: {len(funcs)} functions, median length {median:g} lines (body {statistics.median(map(body, funcs)):g}), "
          f"mean {statistics.mean(lengths):.1f}, longest {max(lengths)}")
    for limit in (10, 20, 40, 80):
        print(f"  over {limit:2} lines: {sum(x > limit for x in lengths)}")
    print(f"lib/server: {len(server)} functions, {len(over)} over {SERVER_LIMIT} lines; the longest:")
    for f in server[:args.top]:
        print(show(f))
    if args.all:
        print("lib/, every function:")
        for f in sorted(funcs, key=length, reverse=True):
            print(show(f))
    if args.check:
        failed = False
        if median > MEDIAN_LIMIT:
            print(f"FAIL: the median function length in lib/ is {median:g} lines (at most {MEDIAN_LIMIT})")
            failed = True
        for f in over:
            print(f"FAIL: {f[0]}:{f[2]} {f[1]} is {length(f)} lines (at most {SERVER_LIMIT} in lib/server)")
            failed = True
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

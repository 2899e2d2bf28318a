#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Every library function that takes a `cstor_error *` sets it on failure.

The house rule (docs/error-handling.md): a function with a cstor_error
parameter fills it whenever it returns a negative errno, so a caller can
always print what failed. A bare `return -ENOMEM;` (any `return -E<NAME>;`)
in such a function breaks that: the caller gets a code and an empty message.
This finds them in src/libcstor (C files and headers) and fails listing each
as path:line: function: statement.

It reads the code as text: comments, strings and character literals are
blanked, then every top-level brace block whose head ends with a parameter
list mentioning `cstor_error *` is a function taking one. It does not follow
`return r;` back to where r came from (that needs a compiler).

    tests/lint-errors.py [--allow FILE] [ROOT]

FILE (default tests/lint-errors.allow) lists "path function" pairs that are
known and left for now (code being rewritten elsewhere); they are reported
but do not fail the check. An entry that no longer matches any hit is
reported as stale, so the list only shrinks.
"""
import os
import re
import sys

RETURN_BARE = re.compile(r"\breturn\s*-\s*(E[A-Z0-9]+)\s*;")
TAKES_ERR = re.compile(r"\bcstor_error\s*\*")
NAME = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\($")


def blank(text):
    """Comments, string and char literals and preprocessor lines replaced
    by spaces (newlines kept, so offsets and line numbers stay right)."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            # A preprocessor directive, with its continuation lines.
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 1
                j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
            at_line_start = False
            continue
        out.append(c)
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        i += 1
    return "".join(out)


def functions(code):
    """(name, head, body_start, body_end) of each top-level brace block
    that follows a parameter list."""
    depth = 0
    head_start = 0
    i = 0
    n = len(code)
    while i < n:
        c = code[i]
        if c == "{":
            if depth == 0:
                head = code[head_start:i]
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                h = head.strip()
                # A function definition: "... name(params)" possibly
                # followed by attributes/annotations such as
                # CSTOR_REQUIRES(lock).
                m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", h)
                if h.endswith(")") and m and "=" not in h.split("(")[0]:
                    # The parameter list: from the function name's
                    # parenthesis to its matching one.
                    p = h.index("(", m.start())
                    d, q = 0, p
                    while q < len(h):
                        if h[q] == "(":
                            d += 1
                        elif h[q] == ")":
                            d -= 1
                            if d == 0:
                                break
                        q += 1
                    yield m.group(1), h[p:q + 1], start, i
                head_start = i + 1
        elif c == ";" and depth == 0:
            head_start = i + 1
        i += 1


def scan(root):
    hits = []
    src = os.path.join(root, "src", "libcstor")
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8", errors="replace") as fh:
                code = blank(fh.read())
            for name, params, start, end in functions(code):
                if not TAKES_ERR.search(params):
                    continue
                for m in RETURN_BARE.finditer(code, start, end):
                    line = code.count("\n", 0, m.start()) + 1
                    hits.append((rel, line, name, "return -%s;" % m.group(1)))
    return sorted(hits)


SELF_TEST = {
    "a.c": """
/* int f(cstor_error *err) { return -EINVAL; } in a comment */
static int hit(int x, cstor_error *err)
{
	if (x)
		return -EINVAL;
	return cstor_error_set(err, ENOMEM, "return -ENOMEM;");
}
static int no_err(int x)
{
	return -ENOENT;
}
#define M(x) do { if (x) return -EIO; } while (0)
static const int tbl[] = { 1, 2 };
int annotated(cstor_lock *l, cstor_error *e) CSTOR_REQUIRES(l)
{
	{ return - ENOMEM ; }
}
""",
    "b.h": """
static inline int in_header(const char *s,
			    cstor_error *err)
{
	return s ? 0 : cstor_error_set(err, EINVAL, "x");
}
static inline int in_header2(cstor_error *err) { return -E2BIG; }
""",
}
SELF_TEST_WANT = [("annotated", "ENOMEM"), ("hit", "EINVAL"), ("in_header2", "E2BIG")]


def self_test():
    """The scanner finds what it must and nothing else, so that a broken
    scanner cannot pass for a clean tree."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        d = os.path.join(root, "src", "libcstor", "x")
        os.makedirs(d)
        for name, text in SELF_TEST.items():
            with open(os.path.join(d, name), "w") as fh:
                fh.write(text)
        got = sorted((h[2], h[3][len("return -"):-1]) for h in scan(root))
    if got != SELF_TEST_WANT:
        print("lint-errors self-test failed: found %r, expected %r" % (got, SELF_TEST_WANT))
        return False
    return True


def main(argv):
    allow_file = None
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--allow":
        allow_file = args[1]
        args = args[2:]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if allow_file is None:
        allow_file = os.path.join(root, "tests", "lint-errors.allow")
    allowed = set()
    if os.path.exists(allow_file):
        with open(allow_file) as fh:
            for ln in fh:
                ln = ln.split("#", 1)[0].strip()
                if ln:
                    path, func = ln.split()
                    allowed.add((path, func))

    if not self_test():
        return 2
    hits = scan(root)
    bad = [h for h in hits if (h[0], h[2]) not in allowed]
    known = [h for h in hits if (h[0], h[2]) in allowed]
    stale = sorted(allowed - {(h[0], h[2]) for h in hits})

    for path, line, func, stmt in known:
        print("allowed: %s:%d: %s: %s" % (path, line, func, stmt))
    for path, func in stale:
        print("stale allow-list entry (no hit left, remove it): %s %s" % (path, func))
    for path, line, func, stmt in bad:
        print("%s:%d: %s: %s without setting its cstor_error" % (path, line, func, stmt))
    print("%d function(s) return a bare -E... with a cstor_error * parameter "
          "(%d allowed for now)" % (len({(h[0], h[2]) for h in hits}),
                                    len({(h[0], h[2]) for h in known})))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/python3
"""The series manifest: patches/NN-slug.msg (and an optional NN-slug.diff).

A .msg file starts with header lines, then a blank line, then the commit
message (subject in QEMU's "subsystem: summary" form, then the body):

    Files: net/colo-proxy.c net/colo-proxy.h

    net: add the colo-proxy netfilter

    Why it is needed ...

"Files:" names new files this repo holds at their QEMU paths that the commit
adds (PATH@N: the file as commit N has it, see steps.py); NN-slug.diff, if
present, is the commit's edit to existing QEMU files.

The series is written against the default base, QEMU 10.0.  For another
base ($COLO_QEMU_BASE, e.g. 10.2), patches/ports/BASE.rules rewrites the new
files for the APIs that changed since (one rule per line:
"s|REGEX|REPLACEMENT|", Python's re syntax, applied to every line).  On
another base the diffs are applied with patch(1), as lay.sh does, which
allows fuzz (reported): the exported series is the tree built and tested.

usage: series.py files | patches | stage DIR | export PRISTINE OUTDIR
"""
import glob
import os
import re
import shutil
import subprocess
import sys

import steps

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


DEFAULT_BASE = "10.0"
BASE = os.environ.get("COLO_QEMU_BASE", DEFAULT_BASE)
PORTS = os.path.join(TOP, "patches", "ports")


def port_rules():
    path = os.path.join(PORTS, BASE + ".rules")
    rules = []
    if not os.path.exists(path):
        return rules
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("|")
            if len(parts) != 4 or parts[0] != "s" or parts[3]:
                sys.exit(f"{path}:{n}: not s|REGEX|REPLACEMENT|")
            rules.append((re.compile(parts[1]), parts[2]))
    return rules


def ported(name, rules):
    """The text of the new file NAME (PATH or PATH@STEP, see steps.py)
    for this base."""
    path, _, step = name.partition("@")
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        text = f.read()
    if step:
        text = steps.at_step(path, int(step), text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        for rx, repl in rules:
            line = rx.sub(repl, line)
        lines[i] = line
    return "\n".join(lines)


def write_files(e, dstdir, rules):
    for f in e["files"]:
        dst = os.path.join(dstdir, f.partition("@")[0])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "w", encoding="utf-8") as out:
            out.write(ported(f, rules))


def entries():
    out = []
    for msg in sorted(glob.glob(os.path.join(TOP, "patches", "*.msg"))):
        with open(msg) as f:
            text = f.read()
        head, _, body = text.partition("\n\n")
        files = []
        if head.startswith("Files:"):
            for line in head.splitlines():
                key, _, val = line.partition(":")
                if key.strip() != "Files":
                    sys.exit(f"{msg}: unknown header line {line!r}")
                files += val.split()
        else:
            body = text
        diff = msg[:-4] + ".diff"
        out.append({
            "msg": msg,
            "files": files,
            "diff": os.path.relpath(diff, TOP) if os.path.exists(diff) else None,
            "message": body.strip() + "\n",
        })
    check_steps(out)
    return out


def check_steps(out):
    """Every PATH@N must be completed by a later commit naming PATH: the
    laid tree and the last commit hold the file as this repo has it."""
    pending = {}
    for e in out:
        for f in e["files"]:
            path, _, step = f.partition("@")
            if step:
                pending[path] = e["msg"]
            else:
                pending.pop(path, None)
    for path, msg in pending.items():
        sys.exit(f"{msg}: {path} is added as an earlier version, but no "
                 "later commit adds it whole")


def git(tree, *args, **kw):
    return subprocess.run(["git", "-C", tree, "-c", "user.name=colo-proxy",
                           "-c", "user.email=colo-proxy@invalid", *args],
                          check=True, **kw)


def apply_diff(work, diff):
    """Apply DIFF exactly on the default base; on another base as lay.sh
    does (patch(1), offsets and fuzz reported), so that the series exported
    is the tree that was built and tested."""
    if BASE == DEFAULT_BASE:
        git(work, "apply", "--index", diff)
        return
    with open(diff) as f:
        out = subprocess.run(["patch", "-p1", "--no-backup-if-mismatch",
                              "-d", work], stdin=f, check=True,
                             capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "fuzz" in line:
            print(f"{os.path.basename(diff)}: {line}", file=sys.stderr)
    git(work, "add", "-A")


def export(pristine, outdir):
    work = outdir + ".git-tree"
    shutil.rmtree(work, ignore_errors=True)
    git(".", "clone", "-q", pristine, work)
    rules = port_rules()
    for e in entries():
        write_files(e, work, rules)
        if e["diff"]:
            apply_diff(work, os.path.join(TOP, e["diff"]))
        git(work, "add", "-A", *(f.partition("@")[0] for f in e["files"]))
        git(work, "commit", "-q", "-s", "-F", "-",
            input=e["message"].encode())
    shutil.rmtree(outdir, ignore_errors=True)
    cover = os.path.join(TOP, "patches", "cover-letter.txt")
    args = ["format-patch", "-q", "-o", outdir, "origin/HEAD..HEAD"]
    if os.path.exists(cover):
        args.insert(1, "--cover-letter")
    git(work, *args)
    if os.path.exists(cover):
        fix_cover(outdir, cover)
    print(work)


def fix_cover(outdir, cover):
    """Put the subject and blurb from patches/cover-letter.txt in patch 0000."""
    path = glob.glob(os.path.join(outdir, "0000-*.patch"))[0]
    with open(cover) as f:
        subject, _, blurb = f.read().partition("\n\n")
    with open(path) as f:
        text = f.read()
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    with open(path, "w") as f:
        f.write(text)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "files":
        for e in entries():
            print("\n".join(f.partition("@")[0] for f in e["files"]))
    elif cmd == "stage" and len(sys.argv) == 3:
        rules = port_rules()
        for e in entries():
            write_files(e, sys.argv[2], rules)
    elif cmd == "patches":
        for e in entries():
            if e["diff"]:
                print(e["diff"])
    elif cmd == "export" and len(sys.argv) == 4:
        export(sys.argv[2], os.path.abspath(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

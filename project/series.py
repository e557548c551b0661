#!/usr/bin/python3
"""The series manifest: patches/NN-slug.msg (and an optional NN-slug.diff).

A .msg file starts with header lines, then a blank line, then the commit
message (subject in QEMU's "subsystem: summary" form, then the body):

    Files: net/colo-proxy.c net/colo-proxy.h

    net: add the colo-proxy netfilter

    Why it is needed ...

"Files:" names new files this repo holds at their QEMU paths that the commit
adds; NN-slug.diff, if present, is the commit's edit to existing QEMU files.

usage: series.py files | patches | export PRISTINE OUTDIR
"""
import glob
import os
import shutil
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    return out


def git(tree, *args, **kw):
    return subprocess.run(["git", "-C", tree, "-c", "user.name=colo-proxy",
                           "-c", "user.email=colo-proxy@invalid", *args],
                          check=True, **kw)


def export(pristine, outdir):
    work = outdir + ".git-tree"
    shutil.rmtree(work, ignore_errors=True)
    git(".", "clone", "-q", pristine, work)
    for e in entries():
        for f in e["files"]:
            dst = os.path.join(work, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(TOP, f), dst)
        if e["diff"]:
            git(work, "apply", "--index", os.path.join(TOP, e["diff"]))
        git(work, "add", "-A", *e["files"])
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
            print("\n".join(e["files"]))
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

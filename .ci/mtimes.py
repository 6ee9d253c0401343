#!/usr/bin/env python3
"""Gives every tracked file of a fresh clone the time of the last commit that changed it.

Cargo tells a changed source file by its modification time being newer than the last build;
in a fresh clone every file is new, so a persistent target dir would rebuild the whole
workspace each run. With commit times, a file is newer than a cached build exactly when a
commit after that build changed it. (Only for CI on a branch that moves forward: checking out
an older commit over a newer build would look fresh. Untracked and modified files are left
alone, and so are directories holding them.)

    mtimes.py            set the times (run from the checkout's root)
    mtimes.py --latest PATH...   print the newest commit time of anything under PATH
"""
import os
import subprocess
import sys


def latest(paths):
    out = subprocess.check_output(["git", "log", "-1", "--format=%ct", "--", *paths], text=True)
    return int(out.strip() or 0)


def main():
    if sys.argv[1:2] == ["--latest"]:
        print(latest(sys.argv[2:]))
        return
    dirty = subprocess.check_output(["git", "status", "--porcelain", "-z"], text=True)
    skip = {entry[3:] for entry in dirty.split("\0") if entry}
    tracked = set(subprocess.check_output(["git", "ls-files", "-z"], text=True).split("\0")) - {""}
    todo = tracked - skip
    log = subprocess.Popen(
        ["git", "log", "--first-parent", "--diff-merges=first-parent", "--format=@%ct",
         "--name-only", "--no-renames", "-z"],
        stdout=subprocess.PIPE, text=True,
    )
    when = None
    done = 0
    # Directories too (build scripts may watch one, e.g. tauri's capabilities/): each gets the
    # time of the newest commit that added, changed or deleted anything under it.
    dir_time = {}
    # With -z: "@<time>", then each name as "\n<name>" for the first and "<name>" after.
    buf = ""
    for chunk in iter(lambda: log.stdout.read(1 << 16), ""):
        buf += chunk
        *items, buf = buf.split("\0")
        for item in items:
            item = item.lstrip("\n")
            if item.startswith("@") and item[1:].isdigit():
                when = int(item[1:])
                continue
            if not item:
                continue
            parent = os.path.dirname(item)
            while parent and parent not in dir_time:
                dir_time[parent] = when
                parent = os.path.dirname(parent)
            if item in todo:
                os.utime(item, (when, when), follow_symlinks=False)
                todo.discard(item)
                done += 1
    log.wait()
    dirty_dirs = set()
    for path in skip | todo:
        parent = os.path.dirname(path)
        while parent:
            dirty_dirs.add(parent)
            parent = os.path.dirname(parent)
    dirs = 0
    for d, t in dir_time.items():
        if d not in dirty_dirs and os.path.isdir(d):
            os.utime(d, (t, t))
            dirs += 1
    print(f"mtimes: {done} files and {dirs} directories set to their last commit's time, "
          f"{len(todo)} files left as they were")


if __name__ == "__main__":
    main()

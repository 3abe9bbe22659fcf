# Creating files right after others were deleted, three rounds: slow on ext4 without a journal
# (the kernel skips recently deleted inodes, ext4/ialloc.c recently_deleted()). Not a test.
# Usage: python3 scripts/probes/inode-reuse.py DIR now|wait
import os, sys, time, shutil
base = sys.argv[1]; mode = sys.argv[2]
def mk(d, n):
    os.makedirs(d)
    for i in range(n):
        with open(f"{d}/f{i}", "wb") as f: f.write(b"x"*100)
for r in range(3):
    mk(f"{base}/old", 4000)
    os.sync()
    shutil.rmtree(f"{base}/old")
    if mode == "wait": os.sync(); time.sleep(7)
    t = time.time(); mk(f"{base}/new", 3000); dt = time.time() - t
    print(mode, base, f"{dt:.3f}s")
    shutil.rmtree(f"{base}/new"); os.sync(); time.sleep(6)

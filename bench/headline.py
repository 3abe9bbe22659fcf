#!/usr/bin/env python3
"""Print the README's headline table from bench/results/*.json (figures only from harness runs)."""
import glob
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
rows = []
for path in sorted(glob.glob(os.path.join(here, "results", "*.json"))):
    d = json.load(open(path))
    cells = {(c["scenario"], c["tool"]): c for c in d["cells"]}

    def secs(scenario, tool):
        c = cells.get((scenario, tool))
        return c["secs"]["median"] if c and c.get("status") == "measured" else None

    def units(scenario, tool):
        c = cells.get((scenario, tool))
        if not c or c.get("status") != "measured":
            return None
        return c["samples"][0].get("units")

    clean = secs("clean", "native")
    if not clean:
        continue

    def ratio(a, b):
        return f"{a / b:.3f}×" if a is not None and b else "—"

    best_other = min(
        (s for s in (secs("fresh-clone", t) for t in ("chef", "sccache")) if s is not None),
        default=None,
    )
    rows.append(
        "| {w} | {clean:.1f} s | {cold} | {fc} ({fcb} of best other) | {fce} of native leaf edit | {readme} s, {ru} units | {lock} |".format(
            w=d["workload"]["label"],
            clean=clean,
            cold=ratio(secs("cold", "strata"), clean),
            fc=ratio(secs("fresh-clone", "strata"), clean),
            fcb=ratio(secs("fresh-clone", "strata"), best_other),
            fce=ratio(secs("fresh-clone-edit", "strata"), secs("leaf-edit", "native")),
            readme=f'{secs("readme-edit", "strata"):.2f}' if secs("readme-edit", "strata") is not None else "—",
            ru=units("readme-edit", "strata"),
            lock=ratio(secs("lock-bump", "strata"), clean),
        )
    )
print("| workload | native clean | strata cold (× clean) | fresh clone, warm store (× clean) | fresh clone + leaf edit | README edit | `cargo update -p` (× clean) |")
print("|---|---|---|---|---|---|---|")
print("\n".join(rows))

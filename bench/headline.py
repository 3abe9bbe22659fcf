#!/usr/bin/env python3
"""Print the README's headline tables from bench/results/*.json (figures only from harness runs).

One table per workload, from the newest results file of that workload: a row per scenario, a
column per tool (seconds, then units compiled), every tool measured side by side in one run.
"""
import glob
import json
import os

here = os.path.dirname(os.path.abspath(__file__))
TOOLS = [("native", "cargo"), ("chef", "cargo-chef"), ("sccache", "sccache"), ("mbx", "mbx"),
         ("kache", "kache"), ("strata", "strata")]
ROWS = [
    ("first build (cargo: clean; others: cold, cache filled)", ["clean", "cold"]),
    ("fresh clone at another path, warm cache", ["fresh-clone"]),
    ("fresh clone + leaf edit", ["fresh-clone-edit", "leaf-edit"]),
    ("noop", ["noop"]),
    ("README edit", ["readme-edit"]),
    ("`cargo update -p` of a leaf dependency, then build", ["lock-bump"]),
    ("cache size after the first build (own: not hard-linked with the target dir)", None),
]

newest = {}
for path in sorted(glob.glob(os.path.join(here, "results", "*.json"))):
    d = json.load(open(path))
    newest[d["workload"]["label"]] = d  # sorted by date: the last one wins

for label, d in sorted(newest.items()):
    cells = {(c["scenario"], c["tool"]): c for c in d["cells"]}
    tools = [(t, name) for t, name in TOOLS if t in d.get("tools", [t for t, _ in TOOLS])]

    def cell(scenarios, tool):
        for sc in scenarios:
            c = cells.get((sc, tool))
            if c and c.get("status") == "measured":
                units = c["samples"][0].get("units")
                u = f", {units} units" if units is not None else ""
                return f'{c["secs"]["median"]:.2f} s{u}'
        return "—"

    def size(tool):
        for sc in ("clean", "cold"):
            c = cells.get((sc, tool))
            if c and c.get("status") == "measured":
                b = c["samples"][0].get("cache_bytes")
                own = c["samples"][0].get("cache_own_bytes")
                if b:
                    extra = f" ({own / 1048576:.0f} MiB own)" if own is not None else ""
                    return f"{b / 1048576:.0f} MiB{extra}"
        return "—"

    print(f"**{label}** ({d['date']}, {d['machine'].get('cores', '?')} cores, one run per cell)\n")
    print("| scenario | " + " | ".join(name for _, name in tools) + " |")
    print("|---|" + "---|" * len(tools))
    for title, scenarios in ROWS:
        if scenarios is None:
            row = [size(t) for t, _ in tools]
        else:
            row = [cell(scenarios, t) for t, _ in tools]
        print(f"| {title} | " + " | ".join(row) + " |")
    print()

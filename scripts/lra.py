#!/usr/bin/env python3
"""The LRA-style comparison of docs/lra.md: five tasks x four attentions, each cell trained for the
same wall-clock budget on this machine's two threads, with one recipe.

    python3 scripts/lra.py run TASK ATTENTION   # start a cell, or resume it where it stopped
    python3 scripts/lra.py table                # docs/lra.md's results and docs/img/lra-TASK.svg

A cell lives in runs/lra/TASK-ATTENTION/: cell.json (its command and how its step count was set),
the run itself (nyx-train's run directory) and log.1, log.2, ... (nyx-train's output, one file per
process: a cell longer than a session is resumed). The step count comes from a probe of 15 steps
before the cell starts: as many steps as fit in the training share of the budget.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NYX_TRAIN = os.path.join(ROOT, "build", "tools", "nyx-train")
CELLS = os.path.join(ROOT, "runs", "lra")
BUDGET_MINUTES = 25     # per cell, data and evaluation included
TRAINING_MINUTES = 20   # of it, for the steps
TASKS = ["listops", "pathfinder", "fashion-mnist", "text", "retrieval"]
ATTENTIONS = ["softmax", "nystrom", "linformer", "performer"]
# One recipe: the LRA encoder of docs/nystrom.md, AdamW with a cosine decay, each attention at the
# size the papers compare (Nyström 64 landmarks with the conv skip, Linformer k = 256, Performer
# 256 features redrawn every 1,000 steps).
RECIPE = ["--dim", "64", "--heads", "2", "--head-dim", "32", "--hidden", "128", "--layers", "2", "--dropout", "0.1",
          "--lr", "5e-4", "--schedule", "cosine", "--threads", "2", "--log-every", "10", "--eval-size", "1000",
          "--landmarks", "64", "--conv", "35", "--projected-length", "256", "--sharing", "headwise",
          "--features", "256", "--redraw-interval", "1000"]
# The data of each task (nyx-train's defaults otherwise), and a batch that softmax's n x n matrices fit in.
DATA = {
    "listops": ["--preset", "lra", "--batch", "32"],
    "pathfinder": ["--batch", "32"],
    "fashion-mnist": ["--patch", "0", "--batch", "32"],
    "text": ["--max-len", "4096", "--batch", "16", "--val-size", "1000", "--test-size", "2000"],
    "retrieval": ["--max-len", "4096", "--batch", "8", "--val-size", "1000", "--test-size", "2000"],
}
# The paper's Nyström column (Xiong et al. 2021, Table 5) and the LRA leaderboard's (Tay et al. 2021).
PUBLISHED = {
    "softmax": {"listops": 36.37, "text": 64.27, "retrieval": 57.46, "image": 42.44, "pathfinder": 71.40, "average": 54.39},
    "nystrom": {"listops": 37.15, "text": 65.52, "retrieval": 79.56, "image": 41.58, "pathfinder": 70.94, "average": 58.95},
    "linformer": {"listops": 35.70, "text": 53.94, "retrieval": 52.27, "image": 38.56, "pathfinder": 76.34, "average": 51.36},
    "performer": {"listops": 18.01, "text": 65.40, "retrieval": 53.82, "image": 42.77, "pathfinder": 77.05, "average": 51.41},
}


def command(task, attention, steps):
    return [task, "--attn", attention] + DATA[task] + RECIPE + [
        "--steps", str(steps), "--warmup", str(max(1, steps // 10)), "--eval-every", str(max(1, steps // 8))]


def probe_ms_per_step(task, attention):
    """Milliseconds per training step over 15 steps, in a scratch run."""
    with tempfile.TemporaryDirectory() as scratch:
        args = command(task, attention, 15)
        args[args.index("--eval-size") + 1] = "8"  # one evaluation, at the end, of a few examples
        args[args.index("--eval-every") + 1] = "1000"
        out = subprocess.run([NYX_TRAIN] + args + ["--run-dir", os.path.join(scratch, "probe")],
                             check=True, capture_output=True, text=True).stdout
    return float(re.search(r"\(([0-9.]+) ms per step while training\)", out).group(1))


def run(task, attention):
    cell = os.path.join(CELLS, f"{task}-{attention}")
    run_dir = os.path.join(cell, "run")
    os.makedirs(cell, exist_ok=True)
    info_path = os.path.join(cell, "cell.json")
    if not os.path.exists(info_path):
        ms = probe_ms_per_step(task, attention)
        steps = max(10, int(TRAINING_MINUTES * 60_000 / ms) // 10 * 10)
        info = {"task": task, "attention": attention, "probe_ms_per_step": ms, "steps": steps,
                "command": ["nyx-train"] + command(task, attention, steps) + ["--run-dir", run_dir]}
        with open(info_path, "w") as f:
            json.dump(info, f, indent=2)
    with open(info_path) as f:
        info = json.load(f)
    logs = sorted(n for n in os.listdir(cell) if n.startswith("log."))
    if logs and "test accuracy" in open(os.path.join(cell, logs[-1])).read():
        print(f"{task}-{attention}: done")
        return 0
    resume = os.path.exists(os.path.join(run_dir, "latest.safetensors"))
    args = [task, "--resume", run_dir] if resume else info["command"][1:]
    log = os.path.join(cell, f"log.{len(logs) + 1}")
    print(f"{task}-{attention}: {'resuming' if resume else 'starting'} ({info['steps']} steps), log {log}", flush=True)
    with open(log, "w") as out:
        return subprocess.run([NYX_TRAIN] + args, stdout=out, stderr=subprocess.STDOUT).returncode


def seconds(clock):
    parts = [int(p) for p in clock.split(":")]
    return sum(p * 60 ** i for i, p in enumerate(reversed(parts)))


def read_cell(task, attention):
    """Validation accuracy against wall time, and the summary's figures, from the cell's logs."""
    cell = os.path.join(CELLS, f"{task}-{attention}")
    if not os.path.exists(os.path.join(cell, "cell.json")):
        return None
    info = json.load(open(os.path.join(cell, "cell.json")))
    points, offset, result = [], 0.0, {"info": info, "done": False}
    ms_weighted, steps_ran, peak = 0.0, 0, 0
    for name in sorted((n for n in os.listdir(cell) if n.startswith("log.")), key=lambda n: int(n.split(".")[1])):
        elapsed = 0.0
        for line in open(os.path.join(cell, name), errors="replace"):
            m = re.match(r"step \d+/\d+ .* (\d+:\d+(?::\d+)?) < ", line)
            if m:
                elapsed = seconds(m.group(1))
            m = re.match(r"step (\d+): validation loss [0-9.]+, accuracy ([0-9.]+)%", line)
            if m:
                points.append(((offset + elapsed) / 60, float(m.group(2))))
            m = re.match(r"test accuracy ([0-9.]+)%", line)
            if m:
                result["test"], result["done"] = float(m.group(1)), True
            m = re.match(r"(\d+) steps? .*in ([0-9:]+) \(([0-9.]+) ms per step while training\).*peak memory (\d+) MB", line)
            if m:
                ms_weighted += int(m.group(1)) * float(m.group(3))
                steps_ran += int(m.group(1))
                peak = max(peak, int(m.group(4)))
                elapsed = seconds(m.group(2))
        offset += elapsed
    result.update(points=points, minutes=offset / 60, ms_per_step=ms_weighted / steps_ran if steps_ran else None, peak_mb=peak)
    return result


def curve_svg(task, cells):
    """Validation accuracy against wall-clock minutes, one line per attention."""
    colours = {"softmax": "#1f77b4", "nystrom": "#d62728", "linformer": "#2ca02c", "performer": "#ff7f0e"}
    w, h, left, top, pw, ph = 640, 380, 60, 40, 520, 260
    xs = [p[0] for c in cells.values() if c for p in c["points"]] or [BUDGET_MINUTES]
    ys = [p[1] for c in cells.values() if c for p in c["points"]] or [0, 100]
    x_hi = max(max(xs), 1.0)
    y_lo, y_hi = math.floor(min(ys) / 10) * 10, min(100, math.ceil(max(ys) / 10) * 10 + 5)
    sx = lambda x: left + x / x_hi * pw
    sy = lambda y: top + ph - (y - y_lo) / max(y_hi - y_lo, 1) * ph
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="24" font-weight="bold">{task}: validation accuracy against wall-clock minutes (2 threads)</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>']
    for t in range(0, int(x_hi) + 1, 5):
        svg.append(f'<text x="{sx(t):.0f}" y="{top + ph + 16}" text-anchor="middle">{t}</text>')
    for t in range(int(y_lo), int(y_hi) + 1, 10):
        svg.append(f'<text x="{left - 6}" y="{sy(t) + 4:.0f}" text-anchor="end">{t}%</text>')
    svg.append(f'<text x="{left + pw / 2:.0f}" y="{top + ph + 34}" text-anchor="middle">minutes</text>')
    for i, attention in enumerate(ATTENTIONS):
        c = cells.get(attention)
        if not c or not c["points"]:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in c["points"])
        svg.append(f'<polyline points="{path}" fill="none" stroke="{colours[attention]}" stroke-width="2"/>')
        svg.append(f'<rect x="{left + 10 + 120 * i}" y="{h - 24}" width="12" height="10" fill="{colours[attention]}"/>'
                   f'<text x="{left + 26 + 120 * i}" y="{h - 15}">{attention}</text>')
    return "\n".join(svg) + "\n</svg>\n"


def table():
    results = {t: {a: read_cell(t, a) for a in ATTENTIONS} for t in TASKS}
    rows = ["| task | attention | steps | test accuracy | published | time/step | peak memory | minutes |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for task in TASKS:
        for attention in ATTENTIONS:
            c = results[task][attention]
            published = PUBLISHED[attention]["image" if task == "fashion-mnist" else task]
            if not c:
                rows.append(f"| {task} | {attention} | | not run yet | {published:.2f} | | | |")
                continue
            test = f"{c['test']:.2f}%" if c["done"] else "running"
            ms = f"{c['ms_per_step']:.0f} ms" if c["ms_per_step"] else ""
            rows.append(f"| {task} | {attention} | {c['info']['steps']:,} | {test} | {published:.2f} | {ms} | "
                        f"{c['peak_mb']:,} MB | {c['minutes']:.1f} |")
        with open(os.path.join(ROOT, "docs", "img", f"lra-{task}.svg"), "w") as f:
            f.write(curve_svg(task, results[task]))
    doc = os.path.join(ROOT, "docs", "lra.md")
    text = open(doc).read()
    start, end = "<!-- results: scripts/lra.py table -->", "<!-- end of results -->"
    before, rest = text.split(start)
    after = rest.split(end)[1]
    with open(doc, "w") as f:
        f.write(before + start + "\n" + "\n".join(rows) + "\n" + end + after)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run" and sys.argv[2] in TASKS and sys.argv[3] in ATTENTIONS:
        sys.exit(run(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 2 and sys.argv[1] == "table":
        sys.exit(table())
    print(__doc__, file=sys.stderr)
    sys.exit(2)

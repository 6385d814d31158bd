#!/usr/bin/env python3
"""The LRA-style comparison of docs/lra.md: five tasks x four attentions, each cell trained for the
same wall-clock budget on this machine's two threads, with one recipe.

    python3 scripts/lra.py run TASK ATTENTION   # start a cell, or resume it where it stopped
    python3 scripts/lra.py all                  # every cell not yet done, one after another
    python3 scripts/lra.py table                # docs/lra.md's results; docs/img/lra-TASK.svg by nyx-train plot

A cell lives in docs/lra-runs/TASK-ATTENTION/: cell.json (its command and how its step count was set),
the run itself (nyx-train's run directory) and log.1, log.2, ... (nyx-train's output, one file per
process: a cell interrupted by Ctrl-C is resumed). Commit a cell when it is done: a session's
machine, and so an unfinished cell's checkpoints, do not outlive the session. The step count
comes from a probe before the cell starts (the time per step after the first 30, which warm up):
as many steps as fit in the training budget.
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
# In the repository (a session's machine does not outlive it): every cell's logs, configuration and
# metrics, and not its checkpoints (.gitignore), so that `table` and nyx-train plot redraw it all.
CELLS = os.path.join(ROOT, "docs", "lra-runs")
TRAINING_MINUTES = 20   # per cell, for the steps (data and evaluation come on top)
WARM_UP = 30            # steps the probe does not time (probe_ms_per_step)
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


def probe_ms_per_step(command_of):
    """Milliseconds per training step, in a scratch run of nyx-train command_of(steps) (which has
    --eval-size, --eval-every and --log-every): the wall-clock time from step WARM_UP to the last
    (speed.jsonl), so that the first steps' warm-up does not count. Memory and oneDNN's kernels
    warm up for each new sequence length, so where lengths vary (ListOps) the first 20 steps take
    up to three times as long as the rest: a probe that counted them cut a cell to half its budget.
    50 steps after the warm-up (lengths vary, and softmax's cost with their square), or as many as
    last about 20 seconds when those are quicker."""
    def probe(steps):
        with tempfile.TemporaryDirectory() as scratch:
            args = command_of(steps)
            args[args.index("--eval-size") + 1] = "8"  # one evaluation, at the end, of a few examples
            args[args.index("--eval-every") + 1] = str(steps)
            args[args.index("--log-every") + 1] = "5"
            run_dir = os.path.join(scratch, "probe")
            subprocess.run([NYX_TRAIN] + args + ["--run-dir", run_dir], check=True, capture_output=True, text=True)
            seconds = {r["step"]: r["seconds"] for r in map(json.loads, open(os.path.join(run_dir, "speed.jsonl")))}
        return 1000 * (seconds[steps] - seconds[WARM_UP]) / (steps - WARM_UP)
    ms = probe(WARM_UP + 50)
    if 50 * ms < 20_000:
        ms = probe(WARM_UP + 5 * math.ceil(20_000 / ms / 5))
    return ms


def run(task, attention):
    cell = os.path.join(CELLS, f"{task}-{attention}")
    run_dir = os.path.join(cell, task)  # in a plot's legend: "TASK (ATTENTION)"
    os.makedirs(cell, exist_ok=True)
    info_path = os.path.join(cell, "cell.json")
    if not os.path.exists(info_path):
        try:
            ms = probe_ms_per_step(lambda steps: command(task, attention, steps))
        except subprocess.CalledProcessError as e:
            print(f"{task}-{attention}: the probe failed (exit {e.returncode}):\n{e.stdout}{e.stderr}", file=sys.stderr)
            return 1
        steps = max(10, int(TRAINING_MINUTES * 60_000 / ms) // 10 * 10)
        info = {"task": task, "attention": attention, "probe_ms_per_step": ms, "steps": steps,
                "command": ["nyx-train"] + command(task, attention, steps) + ["--run-dir", os.path.relpath(run_dir, ROOT)]}
        with open(info_path, "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")  # a text file ends with a newline (.editorconfig)
    with open(info_path) as f:
        info = json.load(f)
    last = last_log(cell)
    if tested(last):
        print(f"{task}-{attention}: done")
        return 0
    args = next_args(info["command"][1:], run_dir, last)
    log = os.path.join(cell, f"log.{len(logs_of(cell)) + 1}")
    doing = "testing" if args[0] == "eval" else "resuming" if "--resume" in args else "starting"
    print(f"{task}-{attention}: {doing} ({info['steps']} steps), log {log}", flush=True)
    with open(log, "w") as out:  # from the repository's root, which the command's --run-dir is relative to
        return subprocess.run([NYX_TRAIN] + args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode


def logs_of(cell):
    """The cell's logs, log.1, log.2, ..., in the order they were written."""
    return sorted((n for n in os.listdir(cell) if re.fullmatch(r"log\.\d+", n)), key=lambda n: int(n.split(".")[1]))


def last_seconds(run_dir):
    """The run's wall-clock seconds at its last logged step (speed.jsonl), or None."""
    path = os.path.join(run_dir, "speed.jsonl")
    times = [json.loads(line).get("seconds") for line in open(path)] if os.path.exists(path) else []
    return times[-1] if times and times[-1] is not None else None


def last_log(folder):
    """The text of the last log in folder, or "" if it has none."""
    logs = logs_of(folder) if os.path.isdir(folder) else []
    return open(os.path.join(folder, logs[-1]), errors="replace").read() if logs else ""


def tested(log):
    """Whether a log ends a run: the test line of nyx-train's training or of nyx-train eval."""
    return re.search(r"^(\S+: )?test accuracy", log, re.M) is not None


def next_args(command, run_dir, last):
    """nyx-train's arguments that take a run on, given its last log: the command that starts it,
    --resume once it has a checkpoint, or nyx-train eval when it trained and was stopped during its
    test evaluation (then the test alone is left)."""
    if "interrupted during the test evaluation" in last:
        return ["eval", run_dir, "--eval-size", "1000", "--threads", "2"]
    if os.path.exists(os.path.join(run_dir, "latest.safetensors")):
        return [command[0], "--resume", run_dir]
    return command


# Below a table whose figures marked † cover only some of a run's steps (read_logs's steps_summarised).
PARTIAL_NOTE = ("† Of the steps of the processes that ended with a summary: a process killed before its summary"
                " (a machine's restart) leaves its steps out of the figures so marked.")


def read_logs(folder):
    """What the nyx-train logs in folder say: the test accuracy (and SOP accuracy) in percent of the
    line that ends a run; the time per step of the closing summaries (weighted by their steps: each
    covers the steps of its process), and the tokens per second that were not padding of the last
    one; the peak memory; and how many steps those summaries cover (fewer than the run's when a
    process was killed before its summary). None where no log says it."""
    result = {"test": None, "test_sop": None, "ms_per_step": None, "tokens_per_s": None, "peak_mb": None}
    ms_weighted, steps_ran = 0.0, 0
    for name in logs_of(folder):
        for line in open(os.path.join(folder, name), errors="replace"):
            m = re.match(r"(?:\S+: )?test accuracy ([0-9.]+)%(?:.*sop_accuracy ([0-9.]+)%)?", line)
            if m:
                result["test"] = float(m.group(1))
                result["test_sop"] = float(m.group(2)) if m.group(2) else None
            m = re.match(r"(\d+) steps? .*\(([0-9.]+) ms per step while training\)", line)
            if m:
                ms_weighted += int(m.group(1)) * float(m.group(2))
                steps_ran += int(m.group(1))
            m = re.search(r"([0-9.]+)([kM]?) without the padding", line)
            if m:
                result["tokens_per_s"] = float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6}[m.group(2)]
            m = re.search(r"peak memory (\d+) MB", line)
            if m:
                result["peak_mb"] = max(result["peak_mb"] or 0, int(m.group(1)))
    result["ms_per_step"] = ms_weighted / steps_ran if steps_ran else None
    result["steps_summarised"] = steps_ran
    return result


def read_cell(task, attention):
    """A cell's figures: read_logs's, and minutes (its run's wall-clock time at the last logged step)."""
    cell = os.path.join(CELLS, f"{task}-{attention}")
    if not os.path.exists(os.path.join(cell, "cell.json")):
        return None
    run_dir = os.path.join(cell, task)
    figures = read_logs(cell)
    return {**figures, "info": json.load(open(os.path.join(cell, "cell.json"))), "done": figures["test"] is not None,
            "run_dir": run_dir, "seconds": last_seconds(run_dir)}


def table():
    results = {t: {a: read_cell(t, a) for a in ATTENTIONS} for t in TASKS}
    rows = ["| task | attention | steps | test accuracy | published | time/step | peak memory | minutes |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    partial = False  # a cell whose time per step and peak memory cover only some of its steps
    for task in TASKS:
        for attention in ATTENTIONS:
            c = results[task][attention]
            published = PUBLISHED[attention]["image" if task == "fashion-mnist" else task]
            if not c or not c["done"]:  # a cell still running is left out until it is done (and committed)
                rows.append(f"| {task} | {attention} | | not run yet | {published:.2f} | | | |")
                continue
            test = f"{c['test']:.2f}%"
            ms = f"{c['ms_per_step']:.0f} ms" if c["ms_per_step"] else ""
            minutes = f"{c['seconds'] / 60:.1f}" if c["seconds"] is not None else ""
            peak = f"{c['peak_mb']:,} MB" if c["peak_mb"] else ""
            if c["steps_summarised"] < c["info"]["steps"]:
                partial = True
                ms, peak = f"{ms} †", f"{peak} †"
            rows.append(f"| {task} | {attention} | {c['info']['steps']:,} | {test} | {published:.2f} | {ms} | {peak} | {minutes} |")
        runs = [c["run_dir"] for c in results[task].values() if c and c["done"] and c["seconds"] is not None]
        if runs:  # validation accuracy against wall-clock minutes, the attentions together
            subprocess.run([NYX_TRAIN, "plot", *runs, "--x", "minutes", "--output",
                            os.path.join(ROOT, "docs", "img", f"lra-{task}.svg")], check=True, stdout=subprocess.DEVNULL)
    if partial:
        rows += ["", PARTIAL_NOTE]
    doc = os.path.join(ROOT, "docs", "lra.md")
    text = open(doc).read()
    start, end = "<!-- results: scripts/lra.py table -->", "<!-- end of results -->"
    before, rest = text.split(start)
    after = rest.split(end)[1]
    with open(doc, "w") as f:
        f.write(before + start + "\n" + "\n".join(rows) + "\n" + end + after)


def run_all():
    """Every cell in the table's order; a cell that fails is reported and the next one runs. An
    interrupted cell (Ctrl-C, SIGTERM: saved, exit status 130) stops them all; so does the file
    docs/lra-runs/PAUSE, between two cells (the machine is wanted for something else: remove it and
    run again to go on)."""
    failed = []
    for task in TASKS:
        for attention in ATTENTIONS:
            if os.path.exists(os.path.join(CELLS, "PAUSE")):
                print("paused: docs/lra-runs/PAUSE exists", file=sys.stderr)
                return 1
            status = run(task, attention)
            if status == 130:
                return status
            if status != 0:
                failed.append(f"{task}-{attention}")
    if failed:
        print("failed: " + ", ".join(failed) + " (their logs are in docs/lra-runs/)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run" and sys.argv[2] in TASKS and sys.argv[3] in ATTENTIONS:
        sys.exit(run(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 2 and sys.argv[1] == "all":
        sys.exit(run_all())
    if len(sys.argv) == 2 and sys.argv[1] == "table":
        sys.exit(table())
    print(__doc__, file=sys.stderr)
    sys.exit(2)

#!/usr/bin/env python3
"""The runs of docs/pretraining.md: a tokenizer, softmax and Nyström pretraining for one wall-clock
budget each, and fine-tuning of both (and of a model trained from scratch) at two lengths.

    python3 scripts/pretraining.py tokenizer              # docs/pretraining-runs/tokenizer.model
    python3 scripts/pretraining.py pretrain ATTENTION     # softmax | nystrom; resumes a run Ctrl-C or a part's end stopped
    python3 scripts/pretraining.py finetune FROM LENGTH   # FROM: softmax | nystrom | scratch; LENGTH: 1024 | 4096
    python3 scripts/pretraining.py all                    # every run not yet done, in order
    python3 scripts/pretraining.py table                  # docs/pretraining.md's tables and docs/img/pretraining-*.svg

Each run lives in docs/pretraining-runs/NAME/: run.json (its command, and how its step count was set),
the nyx-train run directory NAME/ and log.1, log.2, ... (one per process). Softmax's pretraining
trains for as many steps as fit in PRETRAIN_HOURS at the probe's time per step (scripts/lra.py's
probe), and Nyström's for the same budget on its own machine (see pretrain), in processes of at most PART_HOURS (SIGINT ends one, saved; the next resumes it).
`all` runs each pretraining with the fine-tuning from it before the next: checkpoints stay on the
machine that wrote them (they are not committed), so a pretraining run and the fine-tuning from it
finish on one machine, over as many sessions as they take; commit each run when it is done.
"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lra import NYX_TRAIN, PARTIAL_NOTE, ROOT, last_log, logs_of, next_args, probe_ms_per_step, read_logs, tested  # noqa: E402

# In the repository, as scripts/lra.py's cells: logs, configurations and metrics, not checkpoints
# (.gitignore); and the one tokenizer every run shares. Checkpoints stay on the machine that wrote
# them, so a pretraining run and the fine-tuning from it finish on one machine.
RUNS = os.path.join(ROOT, "docs", "pretraining-runs")
TOKENIZER = os.path.join(RUNS, "tokenizer.model")
PRETRAIN_HOURS = 3.0   # of training, per attention: "a few hours each" (issue #21), in parts
PART_HOURS = 1.9       # per process: a run longer than about two hours goes in parts
PART_ENDED = -1        # run_process's status when it stopped a process at the end of its part
MISSING = 3            # a fine-tuning's pretrained run has no checkpoint on this machine
# BERT-small's shape at n = 512 (the nyx-train pretrain preset), in bf16 mixed precision; Nyström
# with 64 landmarks and the conv-35 skip, as the paper's Nyströmformer-64.
PRETRAIN = ["--precision", "bf16", "--threads", "2", "--log-every", "20", "--eval-size", "1000", "--landmarks", "64", "--conv", "35"]
FINETUNE = ["--precision", "bf16", "--threads", "2", "--log-every", "10", "--eval-size", "1000", "--lr", "1e-4"]
# A batch that softmax's n x n attention fits at each length (the same for every model).
FINETUNE_BATCH = {1024: 16, 4096: 4}
FINETUNE_STEPS = {1024: 600, 4096: 300}  # the same examples for every model: 9,600 and 1,200 passages


def run_process(name, args, seconds=None):
    """nyx-train args in docs/pretraining-runs/name, its output in the next log: its exit status, or
    PART_ENDED when it was stopped (SIGINT: saved) after `seconds`."""
    folder = os.path.join(RUNS, name)
    os.makedirs(folder, exist_ok=True)
    log = os.path.join(folder, f"log.{len(logs_of(folder)) + 1}")
    print(f"{name}: nyx-train {' '.join(args[:3])} ..., log {log}", flush=True)
    with open(log, "w") as out:
        process = subprocess.Popen([NYX_TRAIN] + args, stdout=out, stderr=subprocess.STDOUT)
        try:
            return process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)  # saves and stops after the step
            status = process.wait()
            return PART_ENDED if status == 130 else status


def done(name):
    """Whether run `name` has been tested (by its training, or by nyx-train eval after it)."""
    return tested(last_log(os.path.join(RUNS, name)))


def tokenizer():
    if os.path.exists(TOKENIZER):
        return 0
    return run_process("tokenizer", ["tokenizer", "--output", TOKENIZER, "--vocab-size", "8000", "--threads", "2"])


def resumable(name, command_of_steps, steps_of_ms, part_seconds, record=None):
    """Starts run `name` or resumes it, one process of at most part_seconds. Its steps are
    steps_of_ms(a probe's milliseconds per step), or steps_of_ms itself when that is a number; run.json
    also keeps `record` (which steps_of_ms may fill)."""
    folder = os.path.join(RUNS, name)
    run_dir = os.path.join(folder, name)
    info_path = os.path.join(folder, "run.json")
    if done(name):
        print(f"{name}: done")
        return 0
    if not os.path.exists(info_path):
        os.makedirs(folder, exist_ok=True)
        ms = probe_ms_per_step(command_of_steps) if callable(steps_of_ms) else None
        steps = steps_of_ms(ms) if callable(steps_of_ms) else steps_of_ms
        with open(info_path, "w") as f:
            json.dump({"probe_ms_per_step": ms, "steps": steps, **(record or {}), "command": ["nyx-train"] + command_of_steps(steps) + ["--run-dir", run_dir]}, f, indent=2)
            f.write("\n")  # a text file ends with a newline (.editorconfig)
    command = json.load(open(info_path))["command"][1:]
    return run_process(name, next_args(command, run_dir, last_log(folder)), part_seconds)


def pretrain_command(attention):
    """nyx-train's pretraining command for `attention`, as a function of its steps."""
    def command_of(steps):
        return ["pretrain", "--tokenizer", TOKENIZER, "--attn", attention] + PRETRAIN + [
            "--steps", str(steps), "--warmup", str(max(1, steps // 20)), "--eval-every", str(max(1, steps // 12))]
    return command_of


def pretrain(attention):
    """Softmax trains for as many steps as fit in PRETRAIN_HOURS here. Nyström gets the same CPU
    budget on whatever machine it starts on (sessions may land on different CPUs): softmax's steps
    scaled by the two attentions' times per step, probed back to back on that machine."""
    if attention == "softmax":
        return resumable("pretrain-softmax", pretrain_command("softmax"), lambda ms: int(PRETRAIN_HOURS * 3600_000 / ms) // 10 * 10,
                         PART_HOURS * 3600)
    softmax_info = os.path.join(RUNS, "pretrain-softmax", "run.json")
    if not os.path.exists(softmax_info):
        print(f"pretrain-{attention}: its budget is softmax's, so pretrain softmax first (python3 scripts/pretraining.py pretrain softmax)",
              file=sys.stderr)
        return 2
    softmax_steps, record = json.load(open(softmax_info))["steps"], {}

    def steps_of_ms(ms):
        record["softmax_probe_ms_per_step"] = probe_ms_per_step(pretrain_command("softmax"))
        return int(softmax_steps * record["softmax_probe_ms_per_step"] / ms) // 10 * 10
    return resumable(f"pretrain-{attention}", pretrain_command(attention), steps_of_ms, PART_HOURS * 3600, record)


def finetune(start, length):
    name = f"finetune-{start}-{length}"
    source = [] if start == "scratch" else ["--from", os.path.join(RUNS, f"pretrain-{start}", f"pretrain-{start}")]
    shape = ["--tokenizer", TOKENIZER, "--dim", "256", "--heads", "4", "--head-dim", "64", "--hidden", "1024", "--layers", "4",
             "--attn", "nystrom", "--landmarks", "64", "--conv", "35"] if start == "scratch" else []
    steps = FINETUNE_STEPS[length]
    if source and not done(name) and not os.path.exists(os.path.join(source[1], "best.safetensors")):
        print(f"{name}: pretrain-{start} has no checkpoint on this machine (checkpoints are not committed); remove "
              f"docs/pretraining-runs/pretrain-{start} and its unfinished fine-tuning runs, and run both again on one machine", file=sys.stderr)
        return MISSING

    def command_of(s):
        return ["finetune"] + source + shape + FINETUNE + ["--max-len", str(length), "--batch", str(FINETUNE_BATCH[length]),
                                                            "--steps", str(s), "--warmup", str(max(1, s // 10)), "--eval-every", str(max(1, s // 6))]
    return resumable(name, command_of, steps, PART_HOURS * 3600)


def json_lines(path):
    """The records of a JSON-lines file, without a last line a killed writer left torn; [] if none."""
    records = []
    for line in open(path) if os.path.exists(path) else []:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return records


def read_run(name):
    """A run's figures, or None if it has not started: its validation and test records
    (metrics.jsonl; the test from the log when nyx-train eval tested it), its minutes (speed.jsonl),
    and the time per step, tokens/s and peak memory of nyx-train's closing summaries (lra.read_logs)."""
    folder = os.path.join(RUNS, name)
    run_dir = os.path.join(folder, name)
    if not os.path.exists(os.path.join(run_dir, "config.json")):
        return None
    records = json_lines(os.path.join(run_dir, "metrics.jsonl"))
    seconds = [r["seconds"] for r in json_lines(os.path.join(run_dir, "speed.jsonl")) if r.get("seconds") is not None]
    info = next((json.load(open(p)) for p in (os.path.join(folder, "run.json"), os.path.join(run_dir, "config.json")) if os.path.exists(p)), {})
    logs = read_logs(folder)
    test = next((r for r in records if r.get("split") == "test"), None)
    if test is None and logs["test"] is not None:  # nyx-train eval's line
        test = {"accuracy": logs["test"] / 100, **({"sop_accuracy": logs["test_sop"] / 100} if logs["test_sop"] is not None else {})}
    return {"run_dir": run_dir, "steps": info.get("steps"), "val": [r for r in records if r.get("split") == "val"], "test": test,
            "minutes": seconds[-1] / 60 if seconds else None, "peak_mb": logs["peak_mb"], "ms_per_step": logs["ms_per_step"],
            "tokens_per_s": logs["tokens_per_s"], "partial": logs["steps_summarised"] < (info.get("steps") or 0)}


def cell(value, form):
    """value in form, or an empty cell for None."""
    return "" if value is None else form.format(value)


def summarised(run, key, form):
    """A figure of a run's closing summaries as cell() gives it, marked † when those cover only some
    of the run's steps (a process killed before its summary: PARTIAL_NOTE)."""
    text = cell(run[key], form)
    return f"{text} †" if text and run["partial"] else text


def table():
    """docs/pretraining.md's tables between its markers, and the curves: MLM and SOP validation
    accuracy against steps and against minutes, both attentions in each figure (nyx-train plot)."""
    rows = ["| attention | steps | MLM accuracy (val / test) | SOP accuracy (val / test) | time/step | tokens/s (not padding) | peak memory | minutes |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    pretrained, shown = [], []  # the pretrained runs' directories; every run in the tables
    for attention in ("softmax", "nystrom"):
        r = read_run(f"pretrain-{attention}")
        if not r:
            rows.append(f"| {attention} | | not run yet | | | | | |")
            continue
        shown.append(r)
        if r["minutes"] is not None:  # nyx-train plot draws runs that have logged a step
            pretrained.append(r["run_dir"])
        val = max(r["val"], key=lambda v: v.get("accuracy", 0), default={})  # the checkpoint the test reads
        figures = [" / ".join([cell(val.get(key) and 100 * val[key], "{:.2f}%") or "–",
                               cell(r["test"] and r["test"].get(key) and 100 * r["test"][key], "{:.2f}%") or "running"])
                   for key in ("accuracy", "sop_accuracy")]
        rows.append(f"| {attention} | {cell(r['steps'], '{:,}')} | {figures[0]} | {figures[1]} | {summarised(r, 'ms_per_step', '{:,.0f} ms')} | "
                    f"{summarised(r, 'tokens_per_s', '{:,.0f}')} | {summarised(r, 'peak_mb', '{:,} MB')} | {cell(r['minutes'], '{:.1f}')} |")
    rows += ["", "Fine-tuning on the downstream task (which of the 8 largest linux-doc folders a passage of n pieces comes from; "
             "AdamW at 1e-4 decaying linearly, batches of 16 at n = 1,024 and 4 at n = 4,096, bf16; test on 1,000 passages):", "",
             "| model | n | steps | test accuracy | best validation | time/step | peak memory | minutes |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for length in (1024, 4096):
        for start in ("softmax", "nystrom", "scratch"):
            label = "from scratch (Nyström-64)" if start == "scratch" else f"pretrained {start}"
            r = read_run(f"finetune-{start}-{length}")
            if not r:
                rows.append(f"| {label} | {length:,} | | not run yet | | | | |")
                continue
            shown.append(r)
            test = cell(r["test"] and 100 * r["test"]["accuracy"], "{:.2f}%") or "running"
            best = cell(max((100 * v["accuracy"] for v in r["val"] if "accuracy" in v), default=None), "{:.2f}%")
            rows.append(f"| {label} | {length:,} | {cell(r['steps'], '{:,}')} | {test} | {best} | {summarised(r, 'ms_per_step', '{:,.0f} ms')} | "
                        f"{summarised(r, 'peak_mb', '{:,} MB')} | {cell(r['minutes'], '{:.1f}')} |")
    if any(r["partial"] for r in shown):
        rows += ["", PARTIAL_NOTE]
    doc = os.path.join(ROOT, "docs", "pretraining.md")
    text = open(doc).read()
    start, end = "<!-- results: scripts/pretraining.py table -->", "<!-- end of results -->"
    before, rest = text.split(start)
    with open(doc, "w") as f:
        f.write(before + start + "\n" + "\n".join(rows) + "\n" + end + rest.split(end)[1])
    for metric, short in (("accuracy", "mlm"), ("sop_accuracy", "sop")) if pretrained else ():
        for x in ("step", "minutes"):
            subprocess.run([NYX_TRAIN, "plot", *pretrained, "--metric", metric, "--x", x, "--output",
                            os.path.join(ROOT, "docs", "img", f"pretraining-{short}-{x}.svg")], check=True, stdout=subprocess.DEVNULL)
    return 0


def run_all():
    """Every run not yet done: the tokenizer, then each pretraining followed by the fine-tuning from
    it, then the baseline from scratch. A run stopped at the end of a part goes on in a new process;
    a run that fails is reported and the next one runs. Ctrl-C stops them all, and so does the file
    docs/pretraining-runs/PAUSE, between two processes."""
    steps = [("tokenizer", tokenizer)]
    for start in ("softmax", "nystrom", "scratch"):
        if start != "scratch":
            steps.append((f"pretrain-{start}", lambda a=start: pretrain(a)))
        steps += [(f"finetune-{start}-{n}", lambda s=start, n=n: finetune(s, n)) for n in (1024, 4096)]
    failed = []
    for name, step in steps:
        status = PART_ENDED
        while status == PART_ENDED:
            if os.path.exists(os.path.join(RUNS, "PAUSE")):
                print("paused: docs/pretraining-runs/PAUSE exists", file=sys.stderr)
                return 1
            status = step()
        if status == 130:
            return status
        if status != 0:
            print(f"{name} failed (status {status}); its log is in docs/pretraining-runs/{name}/", file=sys.stderr)
            failed.append(name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a == ["tokenizer"]:
        sys.exit(tokenizer())
    if len(a) == 2 and a[0] == "pretrain" and a[1] in ("softmax", "nystrom"):
        sys.exit(pretrain(a[1]))
    if len(a) == 3 and a[0] == "finetune" and a[1] in ("softmax", "nystrom", "scratch") and a[2] in ("1024", "4096"):
        sys.exit(finetune(a[1], int(a[2])))
    if a == ["all"]:
        sys.exit(run_all())
    if a == ["table"]:
        sys.exit(table())
    print(__doc__, file=sys.stderr)
    sys.exit(2)

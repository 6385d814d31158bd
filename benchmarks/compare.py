#!/usr/bin/env python3
"""Runs nyx-bench and the PyTorch yardstick (../shared/anchors/torch_nystrom.py) alternately on the
same configurations, several repetitions, in one run, and writes docs/benchmarks.md: a markdown table
of the medians and their ratios, the machine, the date, and SVG plots of time and memory against n.
Training steps run in both precisions on both systems, as four peers: nyx f32, nyx bf16 (under
nyx::AutocastGuard), PyTorch f32 and PyTorch bf16 (torch.autocast, PyTorch's fastest CPU setting).

  /usr/bin/python3 benchmarks/compare.py [--build build] [--reps 3] [--threads 2] [--only lra,bert,attention]
                                         [--output docs/benchmarks.md] [--yardstick "CMD"] [--quick]

Configurations (issue #6):
  lra        dim 64, hidden 128, 2 heads x 32, 2 layers, 64 landmarks, conv 35, batch 8, n = 1024, 2048, 4096
  bert       dim 256, hidden 1024, 4 heads x 64, 4 layers, 64 landmarks, conv 33, batch 4, n = 512, 2048
  attention  the module alone, 4 heads x 64, batch 1, n = 1024 ... 16384, forward only and forward + backward
Both attentions everywhere, except softmax beyond --max-softmax-n (its n x n matrices would not fit);
the attention-alone groups also time nyx's Linformer and Performer, which have no PyTorch yardstick.

Memory is compared as nyx's whole peak RSS against the yardstick's peak minus its base (what the
interpreter and torch hold before any model exists), as the issue asks. --quick runs tiny sizes
to check the script itself; --yardstick takes any command that accepts the same flags and prints the
same JSON (the tests pass nyx-bench itself). Every result is also appended, as it arrives, to the
output's -raw.jsonl file.
"""
import argparse, datetime, json, math, os, platform, shlex, statistics, subprocess, sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)

LRA = dict(dim=64, hidden=128, heads=2, head_dim=32, layers=2, landmarks=64, conv=35, batch=8)
BERT = dict(dim=256, hidden=1024, heads=4, head_dim=64, layers=4, landmarks=64, conv=33, batch=4)
ATTENTION = dict(heads=4, head_dim=64, batch=1, landmarks=64, conv=35)

# Targets from issue #6 (None matches any attention or n). Speed-ups (tokens/s in training, time
# alone) at least; memory ratios (nyx's peak over PyTorch's peak minus its base) at most.
SPEED_TARGETS = {("lra", "nystrom", 2048): 3.0, ("bert", "nystrom", 2048): 1.5, ("lra", "softmax", None): 1.5,
                 ("bert", "softmax", None): 1.5, ("attention fwd+bwd", "nystrom", 8192): 2.0}
# Issue #16's, against PyTorch bf16: nyx bf16's speed-up, and nyx f32's.
BF16_TARGETS = {("lra", "nystrom", 2048): 4.0, ("bert", "nystrom", None): 2.0}
F32_OVER_BF16_TARGETS = {("bert", "nystrom", None): 1.5}
# The training peers: (name, which program, precision); attention runs the f32 pair only.
# The attentions of the attention-alone groups. PyTorch has no yardstick for Linformer and
# Performer: they run in nyx only, beside nyx's softmax and Nyström (k = m = 256 features).
ATTENTIONS = ("nystrom", "softmax", "linformer", "performer")
YARDSTICK_ATTENTIONS = ("nystrom", "softmax")
PEERS = [("nyx", "nyx", "f32"), ("nyx bf16", "nyx", "bf16"), ("yardstick", "yardstick", "f32"), ("yardstick bf16", "yardstick", "bf16")]
MEMORY_TARGETS = {("lra", None, None): 1.0, ("attention fwd+bwd", "nystrom", 8192): 0.5}


def target(table, group, attn, n):
    for (g, a, size), value in table.items():
        if g == group and a in (None, attn) and size in (None, n):
            return value
    return None


def verdict(value, limit, at_least):
    if limit is None or value is None:
        return ""
    met = value >= limit if at_least else value <= limit
    return f" ({'meets' if met else 'misses'} {'≥' if at_least else '≤'} {limit:g}×)"


def configurations(quick, max_softmax_n):
    """(group, mode, attn, flags) for every measurement, in the order they run."""
    if quick:
        lra_n, bert_n, attention_n = [64, 128], [64], [64, 128, 256]
        lra, bert = dict(LRA, landmarks=8, conv=3), dict(BERT, landmarks=8, conv=3, layers=1)
        attention = dict(ATTENTION, landmarks=8, conv=3)
    else:
        lra_n, bert_n, attention_n = [1024, 2048, 4096], [512, 2048], [1024, 2048, 4096, 8192, 16384]
        lra, bert, attention = LRA, BERT, ATTENTION
    out = []
    for group, base, sizes in (("lra", lra, lra_n), ("bert", bert, bert_n)):
        for attn in ("nystrom", "softmax"):
            out += [(group, "train", attn, dict(base, n=n)) for n in sizes if attn == "nystrom" or n <= max_softmax_n]
    for forward_only in (True, False):
        group = "attention fwd" if forward_only else "attention fwd+bwd"
        for attn in ATTENTIONS:
            out += [(group, "attention", attn, dict(attention, n=n, forward_only=forward_only))
                    for n in attention_n if attn != "softmax" or n <= max_softmax_n]
    return out


def command_line(prefix, mode, attn, flags, threads, steps, warmup, precision="f32"):
    args = prefix + [mode, "--attn", attn, "--threads", str(threads), "--steps", str(steps), "--warmup", str(warmup)]
    if precision != "f32":
        args += ["--precision", precision]
    for key, value in flags.items():
        if key == "forward_only":
            args += ["--forward-only"] if value else []
        elif not (mode == "attention" and key in ("dim", "hidden", "layers")):
            args += ["--" + key.replace("_", "-"), str(value)]
    return args


def run(args, log=None, every_line=False):
    """The JSON line a benchmark prints (every_line: all of them, in a list), or {"error": ...} when
    it fails (out of memory, say). Each result is also appended to `log` as it arrives, so that a
    long run loses nothing."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=3600)
        lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            result = {"error": f"exit status {done.returncode}: {tail}"}
        else:
            result = [json.loads(l) for l in lines] if every_line else json.loads(lines[-1])
    except subprocess.TimeoutExpired:
        result = {"error": "timed out after an hour"}
    except (OSError, ValueError) as e:  # no such program, or a line that is not JSON
        result = {"error": str(e)}
    if log:
        log.write(json.dumps({"command": [relative_to_repo(w) for w in args], "result": result}) + "\n")
        log.flush()
    return result


def median(results, key):
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else None


def first_field(path, key):
    try:
        with open(path) as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith(key)), None)
    except OSError:
        return None


def machine():
    model = first_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown CPU"
    memory = first_field("/proc/meminfo", "MemTotal")
    memory = f"{int(memory.split()[0]) / 2**20:.0f} GiB" if memory else "unknown memory"
    return f"{model}, {os.cpu_count()} logical cores, {memory}, {platform.system()} {platform.release()}"


def relative_to_repo(word):
    """A path of this checkout (or beside it) written relative to the repository, so that the pages
    name no path of the machine they ran on (scripts/check_docs.py checks that); other words as given."""
    return os.path.relpath(word, root) if os.path.isabs(word) and word.startswith(os.path.dirname(root) + os.sep) else word


def repo_relative(command):
    return " ".join(relative_to_repo(w) for w in shlex.split(command))


def git_commit():
    done = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "") if done.returncode == 0 else "unknown"


def slope(points):
    """Least-squares slope of log(y) against log(n): 1 is linear, 2 quadratic."""
    points = [(math.log(n), math.log(y)) for n, y in points if y and y > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def svg_plot(title, y_label, series, path):
    """A log-log line plot: series is [(label, colour, dashed, [(n, y), ...])]."""
    points = [p for _, _, _, ps in series for p in ps if p[1] and p[1] > 0]
    if not points:
        return False
    width, height, left, right, top, bottom = 640, 400, 70, 170, 40, 50
    x0, x1 = math.log2(min(n for n, _ in points)), math.log2(max(n for n, _ in points))
    y0, y1 = math.floor(math.log10(min(y for _, y in points))), math.ceil(math.log10(max(y for _, y in points)))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    px = lambda n: left + (math.log2(n) - x0) / (x1 - x0) * (width - left - right)
    py = lambda y: height - bottom - (math.log10(y) - y0) / (y1 - y0) * (height - top - bottom)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2 - right / 2 + left / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    for e in range(int(y0), int(y1) + 1):
        y = py(10 ** e)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{10 ** e:g}</text>')
    for n in sorted({n for n, _ in points}):
        x = px(n)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">{n}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">sequence length n</text>')
    out.append(f'<text transform="translate(16 {(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">{y_label}</text>')
    for i, (label, colour, dashed, ps) in enumerate(series):
        ps = [(n, y) for n, y in ps if y and y > 0]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        if ps:
            coords = " ".join(f"{px(n):.1f},{py(y):.1f}" for n, y in ps)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
            out += [f'<circle cx="{px(n):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>' for n, y in ps]
        ly = top + 10 + 20 * i
        out.append(f'<line x1="{width - right + 12}" y1="{ly}" x2="{width - right + 40}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{width - right + 46}" y="{ly + 4}">{label}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


def fmt(value, digits=0):
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(root, "build"), help="the build folder that holds benchmarks/nyx-bench")
    p.add_argument("--nyx", help="nyx-bench itself (default: BUILD/benchmarks/nyx-bench)")
    p.add_argument("--yardstick", default="/usr/bin/python3 " + shlex.quote(os.path.join(os.path.dirname(root), "shared", "anchors", "torch_nystrom.py")),
                   help="the command of the yardstick")
    p.add_argument("--reps", type=int, default=3, help="repetitions of every configuration (medians are reported)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per run (each run reports its median)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--only", default="lra,bert,attention", help="comma-separated groups to run")
    p.add_argument("--max-softmax-n", type=int, default=8192, help="longest sequence to run softmax attention on")
    p.add_argument("--output", default=os.path.join(root, "docs", "benchmarks.md"), help="the markdown file to write")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing")
    a = p.parse_args()
    if a.reps < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        p.error("--reps, --steps and --threads must be at least 1, --warmup at least 0")
    nyx = [a.nyx or os.path.join(a.build, "benchmarks", "nyx-bench")]
    if not os.access(nyx[0], os.X_OK):
        p.error(f"{nyx[0]} not found: build first (cmake --build {a.build}), or pass --build or --nyx")
    yardstick = shlex.split(a.yardstick)
    smoke = run(yardstick + ["attention", "--n", "64", "--batch", "1", "--landmarks", "8", "--conv", "3", "--steps", "1", "--warmup", "0"])
    if "error" in smoke:
        p.error(f"the yardstick does not run ({smoke['error']}): install python3-torch, or pass --yardstick")
    yardstick_system = smoke.get("system", "unknown")
    groups = set(a.only.split(","))
    unknown = groups - {"lra", "bert", "attention"}
    if unknown:
        p.error(f"--only: unknown group(s) {', '.join(sorted(unknown))}; choose from lra, bert, attention")
    configs = [c for c in configurations(a.quick, a.max_softmax_n) if c[0].split()[0] in groups]

    results = {i: {name: [] for name, _, _ in PEERS} for i in range(len(configs))}
    gemm = []  # one list of per-shape results per repetition
    raw_path = os.path.splitext(a.output)[0] + "-raw.jsonl"  # every result, as it arrives
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(raw_path, "w", encoding="utf-8") as log:
        for rep in range(a.reps):
            # nyx-bench's own shapes (issue #16's table), or one small one in --quick mode.
            shapes = ["--shape", "256,256,256"] if a.quick else []
            result = run(nyx + ["gemm", "--threads", str(a.threads)] + shapes, log, every_line=True)
            gemm.append(result if isinstance(result, list) else [result])
            for i, (group, mode, attn, flags) in enumerate(configs):
                print(f"rep {rep + 1}/{a.reps}: {group} {attn} n={flags['n']}", file=sys.stderr, flush=True)
                # Rotate which peer goes first, so that drift in the machine's speed falls on all of them.
                peers = [p for p in PEERS if (mode == "train" or p[2] == "f32") and (p[1] == "nyx" or attn in YARDSTICK_ATTENTIONS)]
                shift = (rep + i) % len(peers)
                for name, program, precision in peers[shift:] + peers[:shift]:
                    prefix = nyx if program == "nyx" else yardstick
                    results[i][name].append(run(command_line(prefix, mode, attn, flags, a.threads, a.steps, a.warmup, precision), log))

    rows_train, rows_attention = [], []
    errors = [f"nyx gemm: {r['error']}" for rep in gemm for r in rep if "error" in r]
    curves = {}  # (group, attn, system, "ms"|"mb") -> [(n, value)]
    for i, (group, mode, attn, flags) in enumerate(configs):
        r_nyx, r_y = results[i]["nyx"], results[i]["yardstick"]
        for system, rs in results[i].items():
            errors += [f"{system}, {group} {attn} n={flags['n']}: {r['error']}" for r in rs if "error" in r]
        # The tables compare nyx's whole peak with PyTorch's peak minus its base, as the issue asks;
        # the curves and slopes take both above their base, so that a constant does not bend the fit.
        above = lambda rs: [dict(r, above=r["peak_rss_mb"] - r["base_rss_mb"]) for r in rs if "peak_rss_mb" in r]
        mem_nyx, mem_nyx_above, mem_y = median(r_nyx, "peak_rss_mb"), median(above(r_nyx), "above"), median(above(r_y), "above")
        speed_target = target(SPEED_TARGETS, group, attn, flags["n"])
        memory_ratio = ratio(mem_nyx, mem_y)
        memory_check = verdict(memory_ratio, target(MEMORY_TARGETS, group, attn, flags["n"]), at_least=False)
        if mode == "train":
            t_nyx, t_y = median(r_nyx, "tokens_per_s"), median(r_y, "tokens_per_s")
            t_nyx16, t_y16 = median(results[i]["nyx bf16"], "tokens_per_s"), median(results[i]["yardstick bf16"], "tokens_per_s")
            speed, speed16, speed_f32_16 = ratio(t_nyx, t_y), ratio(t_nyx16, t_y16), ratio(t_nyx, t_y16)
            gflop = median(r_nyx, "gflop_per_step")
            rate = gflop / (flags["batch"] * flags["n"] / t_nyx) if gflop and t_nyx else None
            rate16 = gflop / (flags["batch"] * flags["n"] / t_nyx16) if gflop and t_nyx16 else None
            rows_train.append(f"| {group} | {attn} | {flags['n']} | {flags['batch']} | {fmt(t_nyx)} | {fmt(t_nyx16)} | {fmt(t_y)} | "
                              f"{fmt(t_y16)} | **{fmt(speed, 2)}×**{verdict(speed, speed_target, at_least=True)} | "
                              f"**{fmt(speed16, 2)}×**{verdict(speed16, target(BF16_TARGETS, group, attn, flags['n']), at_least=True)} | "
                              f"{fmt(speed_f32_16, 2)}×{verdict(speed_f32_16, target(F32_OVER_BF16_TARGETS, group, attn, flags['n']), at_least=True)} | "
                              f"{fmt(rate, 1)} | {fmt(rate16, 1)} | {fmt(mem_nyx)} | {fmt(median(results[i]['nyx bf16'], 'peak_rss_mb'))} | "
                              f"{fmt(mem_y)} | {fmt(memory_ratio, 2)}{memory_check} |")
        else:
            t_nyx, t_y = median(r_nyx, "ms"), median(r_y, "ms")
            speed = ratio(t_y, t_nyx)
            module = median(r_nyx, "module_mb")
            rows_attention.append(f"| {group.removeprefix('attention ')} | {attn} | {flags['n']} | {fmt(t_nyx, 1)} | {fmt(t_y, 1)} | "
                                  f"**{fmt(speed, 2)}×**{verdict(speed, speed_target, at_least=True)} | {fmt(module)} | {fmt(mem_nyx)} | "
                                  f"{fmt(mem_y)} | {fmt(memory_ratio, 2)}{memory_check} |")
            for system, t, m in (("nyx", t_nyx, mem_nyx_above), ("PyTorch", t_y, mem_y)):
                if t is None:
                    continue
                curves.setdefault((group, attn, system, "ms"), []).append((flags["n"], t))
                curves.setdefault((group, attn, system, "mb"), []).append((flags["n"], m))

    docs = os.path.dirname(os.path.abspath(a.output))
    os.makedirs(os.path.join(docs, "img"), exist_ok=True)
    stem = os.path.splitext(os.path.basename(a.output))[0]
    colours = {("nyx", "nystrom"): "#1f77b4", ("PyTorch", "nystrom"): "#ff7f0e", ("nyx", "softmax"): "#2ca02c", ("PyTorch", "softmax"): "#d62728",
               ("nyx", "linformer"): "#9467bd", ("nyx", "performer"): "#8c564b"}
    plots = []
    for group in ("attention fwd", "attention fwd+bwd"):
        for unit, label in (("ms", "time per call (ms)"), ("mb", "peak RSS above base (MB)")):
            series = [(f"{system} {attn}", colours[(system, attn)], system == "PyTorch", curves.get((group, attn, system, unit), []))
                      for attn in ATTENTIONS for system in ("nyx", "PyTorch") if (system, attn) in colours]
            name = f"{stem}-{group.replace('attention ', '').replace('+', '-')}-{unit}.svg"
            what = "time" if unit == "ms" else "peak memory"
            if svg_plot(f"Attention alone, {group.removeprefix('attention ')}: {what}", label, series, os.path.join(docs, "img", name)):
                plots.append((f"{group}, {what}", "img/" + name))

    slopes = []
    for group in ("attention fwd", "attention fwd+bwd"):
        for system in ("nyx", "PyTorch"):
            for attn in ATTENTIONS:
                s_t, s_m = slope(curves.get((group, attn, system, "ms"), [])), slope(curves.get((group, attn, system, "mb"), []))
                if s_t is not None:
                    slopes.append(f"| {group.removeprefix('attention ')} | {system} | {attn} | {s_t:.2f} | {fmt(s_m, 2)} |")

    gemm_rows = []
    shapes = list(dict.fromkeys((r["m"], r["n"], r["k"]) for rep in gemm for r in rep if "gflops" in r))
    for shape in shapes:
        rs = [r for rep in gemm for r in rep if "gflops" in r and (r["m"], r["n"], r["k"]) == shape]
        med = lambda key: statistics.median([r["gflops"][key] for r in rs]) if rs else None
        backend = rs[0]["nyx_backend"] if rs else {}
        gemm_rows.append(f"| {' × '.join(map(str, shape))} | {fmt(med('nyx_f32'), 1)} | {fmt(med('nyx_bf16'), 1)} | {fmt(med('openblas_f32'), 1)} | "
                         f"{fmt(med('onednn_f32'), 1)} | {fmt(med('onednn_bf16'), 1)} | {backend.get('f32', '—')}; {backend.get('bf16', '—')} |")
    isa = next((r["isa"] for rep in gemm for r in rep if "isa" in r), "unknown")
    attention_flags = configs[-1][3] if configs and configs[-1][1] == "attention" else dict(ATTENTION)
    lines = [
        "# Benchmarks: nyx against PyTorch's CPU backend",
        "",
        "Written by `benchmarks/compare.py`" + (" in --quick mode (tiny sizes: not a measurement)" if a.quick else "") + ".",
        "",
        f"- Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}; nyx commit {git_commit()}.",
        f"- Machine: {machine()}.",
        f"- {a.threads} threads; each figure is the median of {a.reps} runs, and each run reports the median of {a.steps} "
        f"steps after {a.warmup} untimed ones. The peers take turns going first, configuration by configuration.",
        f"- Yardstick: `{repo_relative(a.yardstick)}` ({yardstick_system}).",
        f"- oneDNN's CPU ISA here: {isa} (bf16 products run at bf16 speed only with avx512_core_bf16 or above).",
        "",
        "## Matrix products (GFLOP/s, M × N × K)",
        "",
        "nyx's matmul in f32 and under autocast (bf16 inputs, f32 result), and the libraries called directly, split into one "
        "row block per thread as nyx splits a product (`nyx-bench gemm`).",
        "",
        "| M × N × K | nyx f32 | nyx bf16 | OpenBLAS f32 | oneDNN f32 | oneDNN bf16 | nyx's backends (f32; bf16) |",
        "|---|---:|---:|---:|---:|---:|---|",
        *gemm_rows,
        "",
        "## Training step (forward, cross-entropy, backward, AdamW)",
        "",
        "Four peers: nyx and PyTorch, each in f32 and in bf16 mixed precision (nyx::AutocastGuard; torch.autocast). "
        "Speed-ups: nyx's tokens/s over PyTorch's in the same precision (above 1: nyx is faster), and nyx f32's over "
        "PyTorch bf16's. GFLOP/s: the step's FLOPs as nyx-bench counts them "
        "(2·m·n·k per matrix product and the depthwise convolution's multiply-adds, forward × 3 for forward and backward) "
        "over its time. Memory: nyx's whole peak RSS against PyTorch's peak minus its base (what the interpreter and torch "
        "hold before any model exists); the memory ratio is nyx's over PyTorch's (below 1: nyx needs less).",
        "",
        "| config | attention | n | batch | nyx f32 tokens/s | nyx bf16 tokens/s | PyTorch f32 tokens/s | PyTorch bf16 tokens/s | "
        "speed-up f32 | speed-up bf16 | nyx f32 / PyTorch bf16 | nyx f32 GFLOP/s | nyx bf16 GFLOP/s | nyx MB (f32) | "
        "nyx MB (bf16) | PyTorch MB (f32) | memory ratio (f32) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows_train,
        "",
    ]
    if rows_attention:
        lines += [
            f"## Attention alone (batch {attention_flags['batch']}, {attention_flags['heads']} heads × {attention_flags['head_dim']}; "
            f"Nyström: {attention_flags['landmarks']} landmarks, conv {attention_flags['conv']})",
            "",
            "Speed-up: PyTorch's time over nyx's (above 1: nyx is faster). Module MB: the most nyx's caching allocator held "
            "above the inputs. Memory, as above: nyx's whole peak RSS against PyTorch's peak minus its base.",
            "",
            "| pass | attention | n | nyx ms | PyTorch ms | speed-up | nyx module MB | nyx MB | PyTorch MB | memory ratio |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *rows_attention,
            "",
            "Growth with n: the least-squares slope of log time and of log memory (peak RSS above base, for both systems) "
            "against log n; 1 is linear, 2 quadratic.",
            "",
            "| pass | system | attention | time slope | memory slope |",
            "|---|---|---|---:|---:|",
            *slopes,
            "",
            *[f"![{title}]({path})" for title, path in plots],
            "",
        ]
    if errors:
        lines += ["## Runs that failed", "", *[f"- {e}" for e in errors], ""]
    if configs and a.max_softmax_n < max(c[3]["n"] for c in configs):
        lines += [f"Softmax attention runs up to n = {a.max_softmax_n} (`--max-softmax-n`): beyond, each of its n × n "
                  "matrices takes heads × n² × 4 bytes (4 GiB at n = 16384), and forward and backward keep several.", ""]
    with open(a.output, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {a.output} (raw results: {raw_path})", file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs ops_bench and the same cases through PyTorch (torch_ops.py), alternately, in one run, and
prints a markdown table: the median time of each over the rounds, the rate (GFLOP/s or GB/s), and
PyTorch's time over nyx's (above 1: nyx is faster).

  /usr/bin/python3 benchmarks/compare_ops.py [--build build] [--threads 2] [--rounds 3] [--filter TEXT]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))


def run_nyx(binary, threads, name_filter):
    env = dict(os.environ, NYX_NUM_THREADS=str(threads))
    args = [binary, "--benchmark_format=json", "--benchmark_min_time=0.2"]
    if name_filter:
        args.append("--benchmark_filter=" + re.escape(name_filter))
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    report = json.loads(out[out.index("{"):])
    return {b["name"].removesuffix("/real_time"): b["real_time"] for b in report["benchmarks"]}  # microseconds


def run_torch(cases_file, threads, name_filter):
    args = ["/usr/bin/python3", os.path.join(here, "torch_ops.py"), cases_file, "--threads", str(threads), "--filter", name_filter]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return {r["name"]: r["us"] for r in map(json.loads, out.splitlines())}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--filter", default="")
    a = p.parse_args()
    binary = os.path.join(a.build, "benchmarks", "ops_bench")
    cases = json.loads(subprocess.run([binary, "--cases"], check=True, capture_output=True, text=True).stdout)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cases, f)
    nyx_runs, torch_runs = [], []
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr, flush=True)
        nyx_runs.append(run_nyx(binary, a.threads, a.filter))
        torch_runs.append(run_torch(f.name, a.threads, a.filter))
    os.unlink(f.name)

    print(f"| case | nyx µs | PyTorch µs | nyx rate | PyTorch rate | speed-up |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for c in cases:
        name = c["name"]
        if a.filter not in name:
            continue
        t_nyx = statistics.median(run[name] for run in nyx_runs)
        t_torch = statistics.median(run[name] for run in torch_runs)
        work, unit = (c["flops"], "GFLOP/s") if c["flops"] else (c["bytes"], "GB/s")
        rate = lambda t: f"{work / (t * 1e-6) * 1e-9:.1f} {unit}"
        print(f"| {name} | {t_nyx:.1f} | {t_torch:.1f} | {rate(t_nyx)} | {rate(t_torch)} | {t_torch / t_nyx:.2f}× |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The cases of ops_bench (read from `ops_bench --cases`) run through PyTorch's CPU backend.

Run with Debian's python3-torch: /usr/bin/python3 benchmarks/torch_ops.py CASES.json [--threads N]
Prints one JSON line per case: {"name": ..., "us": microseconds per run (median of repeats)}.
Each repeat times as many runs as fill about 0.2 s, like Google Benchmark's iterations.
"""
import argparse, json, time
import torch
import torch.nn.functional as F


def build(case):
    kind, shapes, backward = case["kind"], case["shapes"], case["backward"]
    leaf = lambda s: torch.randn(*s, requires_grad=backward)
    if kind == "linear":
        x, w, b = (torch.randn(*s) for s in shapes)
        return lambda: F.linear(x, w, b)
    if kind == "matmul":
        a, b = torch.randn(*shapes[0]), torch.randn(*shapes[1])
        if case["options"] == "transpose_b":
            b = b.transpose(-1, -2)
        return lambda: a @ b
    if kind == "softmax":
        x = leaf(shapes[0]); forward = lambda: F.softmax(x, dim=-1)
    elif kind == "layer_norm":
        x, w, b = leaf(shapes[0]), leaf(shapes[1]), leaf(shapes[2])
        forward = lambda: F.layer_norm(x, shapes[1], w, b)
    elif kind == "gelu":
        x = leaf(shapes[0]); forward = lambda: F.gelu(x)
    elif kind == "cross_entropy":
        x = leaf(shapes[0]); t = torch.randint(0, shapes[0][1], (shapes[0][0],))
        forward = lambda: F.cross_entropy(x, t)
    elif kind == "embedding":
        ids = torch.randint(0, shapes[1][0], tuple(shapes[0])); w = leaf(shapes[1])
        forward = lambda: F.embedding(ids, w)
    else:
        raise SystemExit(f"unknown kind {kind}")
    if not backward:
        return lambda: forward()
    with torch.no_grad():
        grad = torch.ones_like(forward())

    def run():  # gradients accumulate into the leaves, as in ops_bench
        y = forward()
        y.backward(None if y.dim() == 0 else grad)
    return run


def measure(run, repeats):
    run()  # warm-up
    n, t = 1, 0.0
    while True:  # runs per repeat: enough for about 0.2 s
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        t = time.perf_counter() - t0
        if t > 0.2:
            break
        n *= 2
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            run()
        times.append((time.perf_counter() - t0) / n)
    return sorted(times)[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cases")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--filter", default="")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.cases) as f:
        cases = json.load(f)
    for case in cases:
        if a.filter in case["name"]:
            print(json.dumps({"name": case["name"], "us": measure(build(case), a.repeats) * 1e6}), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""nyx's checkpoints in PyTorch, and PyTorch's weights in nyx: the masked language model of
`nyx-train pretrain` (models::MaskedLM) as an equivalent torch.nn.Module.

    /usr/bin/python3 tools/torch_interop.py check RUN_DIR --nyx build/examples/masked_lm_logits
        builds the PyTorch model from RUN_DIR's config.json and best.safetensors, runs a batch
        through it and through nyx (the example program writes nyx's logits), and compares the MLM
        and SOP logits: the largest difference must be within 1e-5 of the largest logit.
    /usr/bin/python3 tools/torch_interop.py export RUN_DIR OUTPUT.safetensors
        writes the weights of a PyTorch-initialised model of RUN_DIR's shape (PyTorch's own
        initialisation of each layer, seed 0) in nyx's names: `nyx-train pretrain --init
        OUTPUT.safetensors` starts from them and trains on.

It needs only Debian's python3-torch (safetensors files are read and written here: an 8-byte
header length, a JSON header, the raw little-endian data). Softmax and Nyström attention are
supported (docs/nystrom.md's steps); Linformer and Performer are not.
"""
import argparse
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("torch_interop: PyTorch is not installed (apt-get install python3-torch)", file=sys.stderr)
    sys.exit(77)

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "BF16": torch.bfloat16}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    """The tensors of a safetensors file by name, and its metadata."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {})
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=DTYPES[entry["dtype"]]) if end > begin else torch.empty(0, dtype=DTYPES[entry["dtype"]])
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


class Attention(torch.nn.Module):
    """nn::MultiHeadAttention: Q, K, V and output projections around softmax or Nyström attention."""

    def __init__(self, config):
        super().__init__()
        dim, self.heads, self.head_dim = config["dim"], config["heads"], config["head_dim"]
        width = self.heads * self.head_dim
        self.q_proj, self.k_proj, self.v_proj = (torch.nn.Linear(dim, width) for _ in range(3))
        self.out_proj = torch.nn.Linear(width, dim)
        self.options = config["attention"]
        if self.options["kind"] not in ("softmax", "nystrom"):
            raise SystemExit(f"torch_interop: {self.options['kind']} attention is not supported (softmax and nystrom are)")
        kernel = self.options.get("conv_kernel", 0)
        self.conv_weight = torch.nn.Parameter(torch.empty(self.heads, kernel)) if kernel else None
        if kernel:
            torch.nn.init.uniform_(self.conv_weight, -1 / math.sqrt(kernel), 1 / math.sqrt(kernel))

    def forward(self, x, mask):
        b, n, _ = x.shape
        q, k, v = (p(x).reshape(b, n, self.heads, self.head_dim).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        penalty = ((1.0 - mask) * -1e9)[:, None, None, :]
        if self.options["kind"] == "softmax":
            out = torch.softmax(q / math.sqrt(self.head_dim) @ k.transpose(-1, -2) + penalty, -1) @ v
        else:
            out = self.nystrom(q, k, v, mask, penalty)
        return self.out_proj(out.transpose(1, 2).reshape(b, n, self.heads * self.head_dim))

    def nystrom(self, q, k, v, mask, penalty):
        """docs/nystrom.md, steps 1 to 7."""
        m, n = self.options["landmarks"], q.shape[2]
        tokens = mask[:, None, :, None]
        scale = 1 / math.sqrt(math.sqrt(self.head_dim))
        q, k = q * (tokens * scale), k * (tokens * scale)  # 1.
        if m >= n:  # 2.
            out = torch.softmax(q @ k.transpose(-1, -2) + penalty, -1) @ v
        else:
            q_land, k_land = segment_mean(q, m), segment_mean(k, m)  # 3.
            f = torch.softmax(q @ k_land.transpose(-1, -2), -1)  # 4.
            a = torch.softmax(q_land @ k_land.transpose(-1, -2), -1)
            b = torch.softmax(q_land @ k.transpose(-1, -2) + penalty, -1)
            z = iterative_pinv(a, self.options["pinv_iterations"], self.options["pinv_start"])  # 5.
            out = (f @ z) @ (b @ v)  # 6.
        if self.conv_weight is not None:  # 7. one filter per head, along the tokens, zero padding k // 2
            kernel = self.conv_weight.shape[1]
            out = out + F.conv2d(v * tokens, self.conv_weight[:, None, :, None], padding=(kernel // 2, 0), groups=self.heads)
        return out


def segment_mean(x, m):
    """Means of m consecutive segments along axis 2; when m does not divide n, with s = n // m and
    r = (s + 1) m - n, the first r segments hold s rows and the others s + 1."""
    n = x.shape[2]
    s = n // m
    r = (s + 1) * m - n if n % m else m
    sizes = [s] * r + [s + 1] * (m - r)
    return torch.stack([part.mean(2) for part in torch.split(x, sizes, dim=2)], 2)


def iterative_pinv(a, iterations, start):
    column_sums = a.sum(-2)
    c = column_sums.max() if start == "original" else column_sums.max(-1, keepdim=True).values.unsqueeze(-1)
    z = a.transpose(-1, -2) / c
    eye = torch.eye(a.shape[-1], dtype=a.dtype)
    for _ in range(iterations):
        az = a @ z
        z = (0.25 * z) @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


class Block(torch.nn.Module):
    """nn::TransformerBlock: pre-LN attention and MLP (Linear, GELU, Dropout, Linear, Dropout)."""

    def __init__(self, config):
        super().__init__()
        dim = config["dim"]
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim, eps=1e-5), torch.nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(config)
        self.attn_dropout = torch.nn.Dropout(config["dropout"])
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, config["hidden"]), torch.nn.GELU(), torch.nn.Dropout(config["dropout"]),
                                       torch.nn.Linear(config["hidden"], dim), torch.nn.Dropout(config["dropout"]))

    def forward(self, x, mask):
        h = x + self.attn_dropout(self.attn(self.norm1(x), mask))
        return h + self.mlp(self.norm2(h))


class MaskedLM(torch.nn.Module):
    """models::MaskedLM: embeddings of tokens, positions and segments, the blocks, a final LayerNorm
    (times the mask), the MLM head tied to the token embedding, and the SOP head on [CLS]."""

    def __init__(self, config):
        super().__init__()
        dim = config["dim"]
        self.token_embedding = torch.nn.Embedding(config["vocab"], dim)
        self.position_embedding = torch.nn.Embedding(config["max_len"], dim)
        self.segment_embedding = torch.nn.Embedding(config["segments"], dim)
        for e in (self.token_embedding, self.position_embedding, self.segment_embedding):
            torch.nn.init.normal_(e.weight, 0, 0.02)
        self.dropout = torch.nn.Dropout(config["dropout"])
        self.blocks = torch.nn.ModuleList(Block(config) for _ in range(config["layers"]))
        self.norm = torch.nn.LayerNorm(dim, eps=1e-5)
        self.mlm_transform = torch.nn.Linear(dim, dim)
        self.mlm_norm = torch.nn.LayerNorm(dim, eps=1e-5)
        self.mlm_bias = torch.nn.Parameter(torch.zeros(config["vocab"]))
        self.sop_pooler = torch.nn.Linear(dim, dim)
        self.sop_classifier = torch.nn.Linear(dim, 2)

    def forward(self, ids, mask, segments):
        n = ids.shape[1]
        x = self.token_embedding(ids) + self.position_embedding.weight[:n] + self.segment_embedding(segments)
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x, mask)
        h = self.norm(x) * mask[..., None]
        rows = h.reshape(-1, h.shape[-1])
        mlm = F.linear(self.mlm_norm(F.gelu(self.mlm_transform(rows))), self.token_embedding.weight, self.mlm_bias)
        sop = self.sop_classifier(torch.tanh(self.sop_pooler(h[:, 0])))
        return mlm, sop


def nyx_names(model):
    """The model's state by nyx's names (PyTorch's, but for the Nyström skip weight's place)."""
    state = {}
    for name, t in model.state_dict().items():
        state[name.replace(".attn.conv_weight", ".attn.attn.conv_weight")] = t
    return state


def load_run(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    model_config = config["model"]
    if model_config.get("segments", 0) < 1 or "classes" in model_config:
        raise SystemExit(f"torch_interop: {run_dir} is not a pretrain run (its model is not a MaskedLM)")
    model = MaskedLM(model_config).double() if model_config["dtype"] == "f64" else MaskedLM(model_config)
    path = os.path.join(run_dir, "best.safetensors")
    if not os.path.exists(path):
        path = os.path.join(run_dir, "latest.safetensors")
    tensors, _ = read_safetensors(path)
    tensors = {name[len("model/"):] if name.startswith("model/") else name: t for name, t in tensors.items()}
    state = {name: tensors[name] for name in nyx_names(model)}
    expected = nyx_names(model)
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise SystemExit(f"torch_interop: {path} lacks {', '.join(missing[:4])}")
    model.load_state_dict({torch_name: state[nyx_name] for torch_name, nyx_name in zip(model.state_dict(), expected)})
    return model.eval(), model_config


def example_batch(config, seed=1):
    """Two sequences of [CLS] A [SEP] B [SEP], the second padded, with their segments."""
    g = torch.Generator().manual_seed(seed)
    n = min(config["max_len"], 96)
    ids = torch.randint(5, config["vocab"], (2, n), generator=g)
    segments = torch.zeros(2, n, dtype=torch.int64)
    mask = torch.ones(2, n)
    lengths = [n, n - n // 3]
    for row, length in enumerate(lengths):
        cut = length // 2
        ids[row, 0], ids[row, cut], ids[row, length - 1] = 2, 3, 3
        segments[row, cut + 1:length] = 1
        ids[row, length:], mask[row, length:] = 0, 0
    return ids, mask, segments


def check(args):
    model, config = load_run(args.run_dir)
    ids, mask, segments = example_batch(config)
    dtype = torch.float64 if config["dtype"] == "f64" else torch.float32
    with tempfile.TemporaryDirectory() as scratch:
        batch, out = os.path.join(scratch, "batch.safetensors"), os.path.join(scratch, "logits.safetensors")
        write_safetensors(batch, {"ids": ids, "mask": mask.to(dtype), "segments": segments})
        subprocess.run([args.nyx, args.run_dir, batch, out], check=True)
        theirs, _ = read_safetensors(out)
    with torch.no_grad():
        mlm, sop = model(ids, mask.to(dtype), segments)
    worst = 0.0
    for name, ours in (("mlm_logits", mlm), ("sop_logits", sop)):
        other = theirs[name].to(ours.dtype)
        if other.shape != ours.shape:
            raise SystemExit(f"torch_interop: nyx's {name} are {list(other.shape)}, PyTorch's {list(ours.shape)}")
        relative = ((other - ours).abs().max() / ours.abs().max()).item()
        worst = max(worst, relative)
        print(f"{name} {list(ours.shape)}: largest difference {relative:.2e} of the largest logit")
    if worst > 1e-5:
        raise SystemExit(f"torch_interop: nyx and PyTorch disagree by {worst:.2e} (more than 1e-5)")
    print("nyx and PyTorch agree")


def export(args):
    torch.manual_seed(0)
    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)["model"]
    model = MaskedLM(config)
    write_safetensors(args.output, nyx_names(model), {"written_by": "tools/torch_interop.py export (PyTorch's initialisation)"})
    print(f"wrote {args.output}: {len(model.state_dict())} tensors of a PyTorch-initialised MaskedLM")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    c = commands.add_parser("check", help="compare nyx's and PyTorch's logits on a batch")
    c.add_argument("run_dir")
    c.add_argument("--nyx", required=True, help="the masked_lm_logits example program")
    e = commands.add_parser("export", help="write a PyTorch-initialised model in nyx's names")
    e.add_argument("run_dir")
    e.add_argument("output")
    args = parser.parse_args()
    check(args) if args.command == "check" else export(args)


if __name__ == "__main__":
    main()

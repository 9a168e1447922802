#!/usr/bin/env python3
# A GPT-2-shaped decoder written in PyTorch (seeded, nothing downloaded), optionally trained for a few
# hundred steps on local text (bytes of Python's standard library sources) so its predictions are not
# degenerate, exported with torch.onnx.export as a "decoder with past": inputs input_ids, attention_mask,
# position_ids and past_key_values.N.key / .value; outputs logits and present.N.key / .value, every
# sequence axis dynamic — the shape Hugging Face optimum gives GPT-2. It also writes PyTorch's own greedy
# continuation of a prompt (the reference sparq's generate() must reproduce) as JSON.
#
#   /usr/bin/python3 scripts/export-gpt.py --out gpt.onnx [--layers 6 --d 768 --heads 12 --vocab 8192
#       --steps 200 --seed 0 --prompt-len 16 --new 32 --batch 1 --reference gpt.json]
#
# Attention follows GPT-2's classic code: a causal mask sliced from a lower-triangular buffer by the key
# and query lengths (bias[:, :, T-S:T, :T]) and the attention mask added as (1 - mask) * -10000, so the
# graph needs Shape/Slice/Where rather than data-dependent ops.
import argparse
import glob
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, d, heads, max_pos):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.register_buffer("bias", torch.tril(torch.ones(max_pos, max_pos, dtype=torch.bool)).view(1, 1, max_pos, max_pos), persistent=False)

    def forward(self, x, past_k, past_v, mask_bias):
        B, S, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q = q.view(B, S, self.heads, self.dh).transpose(1, 2)
        k = torch.cat([past_k, k.view(B, S, self.heads, self.dh).transpose(1, 2)], dim=2)
        v = torch.cat([past_v, v.view(B, S, self.heads, self.dh).transpose(1, 2)], dim=2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
        T = k.shape[2]
        causal = self.bias[:, :, T - S:T, :T]
        w = torch.where(causal, w, torch.tensor(-10000.0, dtype=w.dtype))
        w = F.softmax(w + mask_bias, dim=-1)
        o = torch.matmul(w, v).transpose(1, 2).reshape(B, S, d)
        return self.c_proj(o), k, v


class Block(nn.Module):
    def __init__(self, d, heads, max_pos):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads, max_pos)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)

    def forward(self, x, past_k, past_v, mask_bias):
        a, k, v = self.attn(self.ln_1(x), past_k, past_v, mask_bias)
        x = x + a
        x = x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, k, v


class GPT(nn.Module):
    def __init__(self, layers, d, heads, vocab, max_pos):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(max_pos, d)
        self.blocks = nn.ModuleList([Block(d, heads, max_pos) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, input_ids, attention_mask, position_ids, *past):
        x = self.wte(input_ids) + self.wpe(position_ids)
        mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        presents = []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, past[2 * i], past[2 * i + 1], mask_bias)
            presents += [k, v]
        logits = torch.matmul(self.ln_f(x), self.wte.weight.t())  # tied head
        return (logits, *presents)


def corpus_files():
    """Text shipped on a Debian machine: the licence texts (English prose), then Python's standard library
    sources (code), sorted so every machine reads them in the same order."""
    files = [p for p in sorted(glob.glob("/usr/share/common-licenses/*")) if os.path.isfile(p) and not os.path.islink(p)]
    return files + sorted(glob.glob("/usr/lib/python3*/*.py"))


def corpus_bytes(limit=4 << 20):
    data = bytearray()
    for path in corpus_files():
        with open(path, "rb") as f:
            data += f.read()
        if len(data) >= limit:
            break
    if not data:
        data = bytearray(b"".join(bytes([i % 97 + 32]) for i in range(1 << 16)))
    return torch.tensor(list(data[:limit]), dtype=torch.long)


def corpus_chains(vocab, seed, length=1 << 20, used=1024, jump=0.1):
    used = min(used, vocab // 2)
    """Token chains over `used` ids: each token is followed by a fixed successor, except for random jumps
    (a learnable, non-degenerate next-token rule: greedy decoding then walks varied tokens)."""
    g = torch.Generator().manual_seed(seed + 7)
    ids = torch.randperm(vocab, generator=g)[:used]
    succ = dict(zip(ids.tolist(), ids[torch.randperm(used, generator=g)].tolist()))
    jumps = torch.rand(length, generator=g) < jump
    picks = ids[torch.randint(0, used, (length,), generator=g)].tolist()
    out, t = [], picks[0]
    for i in range(length):
        t = picks[i] if jumps[i] else succ[t]
        out.append(t)
    return torch.tensor(out, dtype=torch.long)


def corpus(kind, vocab, seed, chain_tokens=1024):
    return corpus_chains(vocab, seed, used=chain_tokens) if kind == "chains" else corpus_bytes()


def train(model, steps, data, seq=64, batch=8, lr=3e-4, seed=0, warmup=0, schedule="constant"):
    """AdamW on random windows of `data` (the last 1/16 held out), learning rate warmed up linearly over
    `warmup` steps, then constant or (schedule "cosine") cosine-decayed to a tenth."""
    if steps <= 0:
        return
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    decay = (lambda s: 0.55 + 0.45 * math.cos(math.pi * s / steps)) if schedule == "cosine" else (lambda s: 1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, warmup)) * decay(s))
    train_len = len(data) - len(data) // 16
    model.train()
    for step in range(steps):
        starts = torch.randint(0, train_len - seq - 1, (batch,), generator=g)
        x = torch.stack([data[s:s + seq] for s in starts])
        y = torch.stack([data[s + 1:s + seq + 1] for s in starts])
        logits = model(x, torch.ones_like(x), torch.arange(seq).expand(batch, seq), *empty_past(model, batch))[0]
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {loss.item():.3f}", flush=True)
    model.eval()


@torch.no_grad()
def held_out(model, data, seq=64, windows=16, seed=0):
    """Loss and top-1 accuracy of next-token prediction on windows of the held-out tail of `data`."""
    g = torch.Generator().manual_seed(seed + 3)
    lo = len(data) - len(data) // 16
    starts = torch.randint(lo, len(data) - seq - 1, (windows,), generator=g)
    x = torch.stack([data[s:s + seq] for s in starts])
    y = torch.stack([data[s + 1:s + seq + 1] for s in starts])
    logits = model(x, torch.ones_like(x), torch.arange(seq).expand(windows, seq), *empty_past(model, windows))[0]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).item()
    return loss, (logits.argmax(-1) == y).float().mean().item()


def empty_past(model, batch):
    a = model.blocks[0].attn
    return [torch.zeros(batch, a.heads, 0, a.dh) for _ in range(2 * len(model.blocks))]


@torch.no_grad()
def greedy(model, prompt, new):
    """PyTorch's greedy continuation with the KV cache (left-padded rows: mask and positions)."""
    ids = prompt["input_ids"]
    mask = prompt["attention_mask"]
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(ids, mask, pos, *empty_past(model, ids.shape[0]))
    past = out[1:]
    tokens = []
    nxt = out[0][:, -1].argmax(-1)
    for step in range(new):
        tokens.append(nxt)
        if step == new - 1:
            break
        mask = torch.cat([mask, torch.ones(ids.shape[0], 1, dtype=mask.dtype)], dim=1)
        p = (mask.sum(-1, keepdim=True) - 1)
        out = model(nxt[:, None], mask, p, *past)
        past = out[1:]
        nxt = out[0][:, -1].argmax(-1)
    return torch.stack(tokens, dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--d", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--max-pos", type=int, default=256)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--corpus", choices=["text", "chains"], default="text",
                    help="text: bytes of Python's sources; chains: a fixed successor per token with random jumps")
    ap.add_argument("--chain-tokens", type=int, default=1024, help="chains: how many token ids the chains visit")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=0, help="steps of linear learning-rate warm-up")
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant", help="learning rate after the warm-up")
    ap.add_argument("--prompts", type=int, default=0, help="also write this many prompts from held-out data (reference 'prompts')")
    ap.add_argument("--train-batch", type=int, default=8)
    ap.add_argument("--train-seq", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reference", default="")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    model = GPT(a.layers, a.d, a.heads, a.vocab, a.max_pos)
    data = corpus(a.corpus, a.vocab, a.seed, a.chain_tokens)
    train(model, a.steps, data, seq=a.train_seq, batch=a.train_batch, lr=a.lr, seed=a.seed, warmup=a.warmup, schedule=a.schedule)
    model.eval()
    loss, acc = held_out(model, data, seq=a.train_seq, seed=a.seed)
    print(f"held-out loss {loss:.3f}, next-token accuracy {acc:.3f}", flush=True)

    L, H, Dh = a.layers, a.heads, a.d // a.heads
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
            "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
    for i in range(L):
        for kv in ("key", "value"):
            names_in.append(f"past_key_values.{i}.{kv}")
            names_out.append(f"present.{i}.{kv}")
            axes[f"past_key_values.{i}.{kv}"] = {0: "batch", 2: "past_sequence"}
            axes[f"present.{i}.{kv}"] = {0: "batch", 2: "total_sequence"}
    B, S, P = 1, 3, 2
    example = (torch.zeros(B, S, dtype=torch.long), torch.ones(B, P + S, dtype=torch.long),
               torch.arange(P, P + S).view(1, S), *[torch.zeros(B, H, P, Dh) for _ in range(2 * L)])
    torch.onnx.export(model, example, a.out, input_names=names_in, output_names=names_out, dynamic_axes=axes,
                      opset_version=17, do_constant_folding=True)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e6:.1f} MB)")

    if a.reference:
        g = torch.Generator().manual_seed(a.seed + 1)
        prompts, masks = [], []
        for b in range(a.batch):
            n = a.prompt_len - 3 * b  # later rows shorter: left padding
            s = int(torch.randint(0, len(data) - n, (1,), generator=g))
            row = [0] * (a.prompt_len - n) + data[s:s + n].tolist()
            prompts.append(row)
            masks.append([0] * (a.prompt_len - n) + [1] * n)
        prompt = {"input_ids": torch.tensor(prompts), "attention_mask": torch.tensor(masks)}
        tokens = greedy(model, prompt, a.new)
        ref = {"input_ids": prompts, "attention_mask": masks, "tokens": tokens.tolist(), "layers": L, "heads": H,
               "d": a.d, "vocab": a.vocab, "held_out": {"loss": loss, "accuracy": acc}}
        if a.prompts > 0:
            # Prompts for agreement measurements (quantized vs fp32): windows of the held-out tail.
            lo = len(data) - len(data) // 16
            starts = torch.randint(lo, len(data) - a.prompt_len - a.new, (a.prompts,), generator=g)
            ref["prompts"] = [data[s:s + a.prompt_len].tolist() for s in starts.tolist()]
            # The same windows with the text that follows (prompt + new tokens): top-1 agreement of the
            # logits under teacher forcing on real text, where greedy continuations may repeat themselves.
            ref["windows"] = [data[s:s + a.prompt_len + a.new].tolist() for s in starts.tolist()]
        with open(a.reference, "w") as f:
            json.dump(ref, f)
        print(f"wrote {a.reference}")


if __name__ == "__main__":
    main()

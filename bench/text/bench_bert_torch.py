"""MiniLM fine-tuning throughput of PyTorch on the CPU, the same step as
bench_bert.c: zero_grad(set_to_none=True), forward, cross-entropy, backward
through every layer, classifier Linear(hidden, 2) on mean pooling. The
encoder is an nn.Module BertModel built here from torch.nn modules
(nn.Embedding, nn.Linear, nn.LayerNorm, nn.Dropout, F.gelu), loading the
same model.safetensors strictly (position_ids aside), train mode.

usage: bench_bert_torch.py [--dir DIR] [--batch N] [--seq T] [--iters N]
                           [--warmup N] [--threads N] [--dropout 0|1]
                           [--device cpu|cuda] [--tf32 0|1] [--random 0|1]
On cuda (eager, the same model) the step also runs torch.optim.AdamW (lr
2e-5, weight decay 0.01, PyTorch's default foreach implementation) and
synchronises, like bench_bert --device cuda; --tf32 1 sets
torch.backends.cuda.matmul.allow_tf32. --random 1: PyTorch's default init
instead of the file, all-MiniLM-L6-v2's shape when DIR has no config.json.
prints one JSON line like bench_bert."""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "tests", "golden"))
from gen_bert import read_safetensors  # noqa: E402


class SelfAttention(nn.Module):
    def __init__(self, c, h, p):
        super().__init__()
        self.h = h
        self.query, self.key, self.value = nn.Linear(c, c), nn.Linear(c, c), nn.Linear(c, c)
        self.dropout = nn.Dropout(p)

    def forward(self, x, add_mask):
        b, t, c = x.shape
        d = c // self.h

        def heads(y):
            return y.view(b, t, self.h, d).transpose(1, 2)
        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        probs = (q @ k.transpose(-1, -2) / d ** 0.5 + add_mask).softmax(-1)
        return (self.dropout(probs) @ v).transpose(1, 2).reshape(b, t, c)


class Output(nn.Module):
    def __init__(self, cin, c, p, eps):
        super().__init__()
        self.dense = nn.Linear(cin, c)
        self.LayerNorm = nn.LayerNorm(c, eps=eps)
        self.dropout = nn.Dropout(p)

    def forward(self, y, residual):
        return self.LayerNorm(self.dropout(self.dense(y)) + residual)


class Attention(nn.Module):
    def __init__(self, cfg, p):
        super().__init__()
        c = cfg["hidden_size"]
        self.self = SelfAttention(c, cfg["num_attention_heads"], p[1])
        self.output = Output(c, c, p[0], cfg["layer_norm_eps"])


class Intermediate(nn.Module):
    def __init__(self, c, i):
        super().__init__()
        self.dense = nn.Linear(c, i)


class Layer(nn.Module):
    def __init__(self, cfg, p):
        super().__init__()
        c, i = cfg["hidden_size"], cfg["intermediate_size"]
        self.attention = Attention(cfg, p)
        self.intermediate = Intermediate(c, i)
        self.output = Output(i, c, p[0], cfg["layer_norm_eps"])

    def forward(self, x, add_mask):
        x = self.attention.output(self.attention.self(x, add_mask), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class Embeddings(nn.Module):
    def __init__(self, cfg, p):
        super().__init__()
        c = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], c)
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], c)
        self.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], c)
        self.LayerNorm = nn.LayerNorm(c, eps=cfg["layer_norm_eps"])
        self.dropout = nn.Dropout(p)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = (self.word_embeddings(ids) + self.position_embeddings(pos)[None]
             + self.token_type_embeddings(torch.zeros_like(ids)))
        return self.dropout(self.LayerNorm(x))


class Encoder(nn.Module):
    def __init__(self, cfg, p):
        super().__init__()
        self.layer = nn.ModuleList(Layer(cfg, p) for _ in range(cfg["num_hidden_layers"]))


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c, c)


class BertClassifier(nn.Module):
    def __init__(self, cfg, classes, dropout):
        super().__init__()
        p = (cfg["hidden_dropout_prob"], cfg["attention_probs_dropout_prob"]) if dropout else (0.0, 0.0)
        self.embeddings = Embeddings(cfg, p[0])
        self.encoder = Encoder(cfg, p)
        self.pooler = Pooler(cfg["hidden_size"])   # loaded, unused by this head
        self.classifier = nn.Linear(cfg["hidden_size"], classes)

    def forward(self, ids, mask):
        add_mask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x, add_mask)
        m = mask[:, :, None].float()
        return self.classifier((x * m).sum(1) / m.sum(1).clamp(min=1e-9))


MINILM_L6 = {"vocab_size": 30522, "hidden_size": 384, "num_hidden_layers": 6,
             "num_attention_heads": 12, "intermediate_size": 1536,
             "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
             "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}


def main():
    ap = argparse.ArgumentParser()
    cache = os.environ.get("THAW_CACHE") or os.path.expanduser("~/.cache/thaw")
    ap.add_argument("--dir", default=os.path.join(cache, "weights", "all-minilm-l6-v2"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tf32", type=int, default=0)
    ap.add_argument("--random", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cuda = a.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(json.dumps({"impl": "torch", "skipped": "torch without CUDA"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = bool(a.tf32)
    config = os.path.join(a.dir, "config.json")
    if a.random and not os.path.exists(config):
        cfg = MINILM_L6
    else:
        with open(config) as f:
            cfg = json.load(f)
    model = BertClassifier(cfg, 2, a.dropout)
    if not a.random:
        sd = read_safetensors(os.path.join(a.dir, "model.safetensors"))
        sd["classifier.weight"] = model.classifier.weight.detach()
        sd["classifier.bias"] = model.classifier.bias.detach()
        model.load_state_dict(sd, strict=True)
    model.train()
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (a.batch, a.seq), generator=g)
    ids[:, 0] = 101
    mask = torch.ones_like(ids)
    labels = torch.arange(a.batch) % 2
    opt = None
    if cuda:
        model, ids, mask, labels = model.cuda(), ids.cuda(), mask.cuda(), labels.cuda()
        opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    times = []
    for it in range(a.warmup + a.iters):
        t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(ids, mask), labels)
        loss.backward()
        if opt:
            opt.step()
            torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) * 1e3
        if it >= a.warmup:
            times.append(dt)
    best = min(times)
    print(json.dumps({"impl": "torch", "torch": torch.__version__, "device": a.device
                      + (" tf32" if a.tf32 else " fp32") * cuda, "batch": a.batch,
                      "seq": a.seq, "threads": a.threads, "dropout": a.dropout,
                      "loss": round(loss.item(), 5),
                      "step_ms": [round(t, 1) for t in times],
                      "step_ms_min": round(best, 1),
                      "tokens_s": round(a.batch * a.seq / (best / 1e3), 1)}))


if __name__ == "__main__":
    main()

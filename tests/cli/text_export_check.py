"""Helper of test_eval_text.sh (THAW_PYTHON: torch 1.13, numpy).

  text_export_check.py MODEL.safetensors LOGITS.safetensors EVAL.json [PREDICT.jsonl]

MODEL is what `thaw export` wrote for a text checkpoint; config.json and
vocab.txt must lie beside it. The encoder is bench/text/bench_bert_torch.py's
BertModel made of torch.nn modules (HF names), plus the pooler (tanh of
dense([CLS])) and `classifier = nn.Linear(hidden, classes)` on the head the
metadata names (mean: masked mean of the last hidden states; cls: the
pooler). load_state_dict(strict=True) must take the export as it is.

LOGITS is `thaw eval --logits`: input_ids, attention_mask, labels and thaw's
logits. The reference runs in float64 on the same ids; it must give the
same logits (max |thaw - ref| <= 1e-4 x max |ref|), and from them the
accuracy, loss and confusion matrix that thaw eval printed (EVAL.json).
PREDICT (thaw predict --json on the same texts, in order): each text's top
label is the reference's argmax, its score the softmax within 1e-4."""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "text"))
from bench_bert_torch import Embeddings, Encoder, Pooler  # noqa: E402

_NP = {"F32": np.float32, "I32": np.int32, "I64": np.int64}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(blob[8 + n + b:8 + n + e], dtype=_NP[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out, meta


class TextClassifier(nn.Module):
    def __init__(self, cfg, classes, head):
        super().__init__()
        self.head = head
        self.embeddings = Embeddings(cfg, 0.0)
        self.encoder = Encoder(cfg, (0.0, 0.0))
        self.pooler = Pooler(cfg["hidden_size"])
        self.classifier = nn.Linear(cfg["hidden_size"], classes)

    def forward(self, ids, mask):
        add_mask = (1.0 - mask[:, None, None, :].double()) * torch.finfo(torch.float32).min
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x, add_mask)
        if self.head == "cls":
            return self.classifier(torch.tanh(self.pooler.dense(x[:, 0])))
        m = mask[:, :, None].double()
        return self.classifier((x * m).sum(1) / m.sum(1).clamp(min=1e-9))


def main():
    model_path, logits_path, eval_path = sys.argv[1:4]
    folder = os.path.dirname(os.path.abspath(model_path))
    state, meta = read(model_path)
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    classes = json.loads(meta["classes"])
    assert meta["format"] == "thaw-model-1" and meta["task"] == "text_classification", meta
    assert meta["head"] in ("mean", "cls"), meta
    assert [cfg["id2label"][str(k)] for k in range(len(classes))] == classes, cfg["id2label"]
    assert cfg["thaw_head"] == meta["head"]
    assert not any(k.startswith("opt.") for k in state), "optimizer state in the export"
    with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
        vocab = f.read().split("\n")
    assert len([t for t in vocab if t]) <= cfg["vocab_size"]

    model = TextClassifier(cfg, len(classes), meta["head"])
    model.load_state_dict(state, strict=True)
    model.double().eval()

    dump, _ = read(logits_path)
    ids, mask = dump["input_ids"].long(), dump["attention_mask"].long()
    labels, ours = dump["labels"].long(), dump["logits"].double()
    with torch.no_grad():
        ref = model(ids, mask)
    diff = (ours - ref).abs().max().item()
    scale = ref.abs().max().item()
    print(f"logits {tuple(ref.shape)}: max|thaw - torch| {diff:.3g}, max|ref| {scale:.3g}, "
          f"relative {diff / scale:.3g}")
    assert diff <= 1e-4 * scale, "logits differ"

    ev = json.load(open(eval_path))
    k = len(classes)
    pred = ref.argmax(1)
    acc = (pred == labels).double().mean().item()
    loss = torch.nn.functional.cross_entropy(ref, labels).item()
    conf = [[int(((labels == a) & (pred == b)).sum()) for b in range(k)] for a in range(k)]
    print(f"torch: accuracy {acc:.6f} loss {loss:.6f}; thaw eval: accuracy {ev['accuracy']} "
          f"loss {ev['loss']}")
    assert ev["count"] == len(labels) and ev["classes"] == classes, ev
    assert abs(ev["accuracy"] - acc) < 1e-6 and ev["confusion"] == conf, (ev, conf)
    assert abs(ev["loss"] - loss) <= 1e-4 * max(1.0, abs(loss)), (ev["loss"], loss)

    if len(sys.argv) > 4:
        lines = [json.loads(line) for line in open(sys.argv[4])]
        assert len(lines) == len(labels), (len(lines), len(labels))
        probs = ref.softmax(1)
        for i, line in enumerate(lines):
            top = line["predictions"][0]
            assert top["label"] == classes[pred[i]], (i, line, classes[pred[i]])
            assert abs(top["score"] - probs[i, pred[i]].item()) < 1e-4, (i, line)
            scores = [p["score"] for p in line["predictions"]]
            assert scores == sorted(scores, reverse=True) and len(scores) == k
            assert math.isclose(sum(scores), 1.0, abs_tol=1e-5)
        print(f"predict: {len(lines)} texts, top label = torch argmax, scores = softmax")


if __name__ == "__main__":
    main()

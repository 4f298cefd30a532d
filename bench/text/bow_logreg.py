"""Bag-of-words logistic regression on the fortunes split thaw uses
(text_split.py): lower-cased word counts (words seen in training, at least
twice), log(1 + count) features scaled by idf, softmax regression with L2
trained by full-batch gradient descent (Adam) in numpy. Prints one JSON
line: accuracy on the held-out split, sizes, seconds."""
import argparse
import json
import re
import time

import numpy as np

from text_split import fortunes_split


def words(b):
    return re.findall(r"[a-z0-9']+", b.decode("utf-8", "replace").lower())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", required=True)
    ap.add_argument("--subset", type=int, default=0)
    ap.add_argument("--val", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--iters", type=int, default=500)
    a = ap.parse_args()
    t0 = time.time()
    topics = a.topics.split(",")
    train, val = fortunes_split(topics, a.subset, a.val, a.seed)
    counts = {}
    for text, _ in train:
        for w in set(words(text)):
            counts[w] = counts.get(w, 0) + 1
    vocab = {w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= 2))}

    def featurize(items):
        x = np.zeros((len(items), len(vocab)))
        for r, (text, _) in enumerate(items):
            for w in words(text):
                if w in vocab:
                    x[r, vocab[w]] += 1
        return np.log1p(x), np.array([y for _, y in items])

    xt, yt = featurize(train)
    xv, yv = featurize(val)
    idf = np.log((1 + len(train)) / (1 + (xt > 0).sum(0))) + 1
    xt, xv = xt * idf, xv * idf
    norm = lambda x: x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    xt, xv = norm(xt), norm(xv)
    k = len(topics)
    w = np.zeros((xt.shape[1], k))
    b = np.zeros(k)
    onehot = np.eye(k)[yt]
    m1w, m2w, m1b, m2b = 0 * w, 0 * w, 0 * b, 0 * b
    lr, b1, b2 = 0.05, 0.9, 0.999
    for it in range(1, a.iters + 1):
        z = xt @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        gw = xt.T @ (p - onehot) / len(yt) + a.l2 * w
        gb = (p - onehot).mean(0)
        m1w, m2w = b1 * m1w + (1 - b1) * gw, b2 * m2w + (1 - b2) * gw * gw
        m1b, m2b = b1 * m1b + (1 - b1) * gb, b2 * m2b + (1 - b2) * gb * gb
        c1, c2 = 1 - b1 ** it, 1 - b2 ** it
        w -= lr * (m1w / c1) / (np.sqrt(m2w / c2) + 1e-8)
        b -= lr * (m1b / c1) / (np.sqrt(m2b / c2) + 1e-8)
    acc = float(((xv @ w + b).argmax(1) == yv).mean())
    print(json.dumps({"model": "bow_logreg", "val_acc": round(acc, 4), "train": len(train),
                      "val": len(val), "vocab": len(vocab),
                      "seconds": round(time.time() - t0, 1)}))


if __name__ == "__main__":
    main()

"""Checkpoints in the layouts Hugging Face model folders hold, for
tests/golden/test_bert_load.c (engine/models/bert_load.c), written with
torch.save from the real all-MiniLM-L6-v2 weights and a tiny random BERT.

MiniLM ($THAW_CACHE/weights/all-minilm-l6-v2/model.safetensors, THAW_CACHE
defaults to ~/.cache/thaw; when absent this prints 'skipped:' and writes
only the tiny files; the test then skips the MiniLM cases):
  bert_load_pretrain_zip.bin     BertForPreTraining as bert-base-uncased's
        pytorch_model.bin: "bert." prefix, LayerNorm .gamma/.beta, the
        position_ids buffer, cls.predictions.* (decoder weight sharing the
        word embeddings' storage, as tied weights are saved) and
        cls.seq_relationship.*; torch.save's zip format.
  bert_load_pretrain_legacy.bin  the same, _use_new_zipfile_serialization=False.
  bert_load_prefixed.safetensors "bert." keys with the new LayerNorm names,
        position_ids and two cls.* keys (bert-base-uncased's
        model.safetensors, which leaves the tied decoder out).
  bert_load_seqcls.bin           BertForSequenceClassification: "bert." +
        new names + classifier.weight [3, 384] / classifier.bias [3].
  bert_load_expect.safetensors   that classifier (to compare against);
        metadata "weights" names the MiniLM file.
Tiny (vocab 30, hidden 8, 2 layers), bert_load_tiny_*:
  config.json, plain.safetensors (BertModel names), ok.bin (prefixed,
  gamma/beta), unknown.bin (one extra key),
  shape.bin (a misshapen intermediate weight), missing.bin (a LayerNorm beta
  left out), cls2.bin (a 2-class classifier), badcls.bin (a classifier on
  the wrong hidden size), dup.safetensors (a key with and without the
  prefix), nopooler.bin (BertForMaskedLM: no pooler), half_cls.bin
  (classifier.weight without its bias).
Run: /usr/bin/python3 gen_bert_load.py --out DIR
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402
from gen_bert import read_safetensors  # noqa: E402

CLASSES = 3
MINILM_OUTPUTS = ("bert_load_pretrain_zip.bin", "bert_load_pretrain_legacy.bin",
                  "bert_load_prefixed.safetensors", "bert_load_seqcls.bin",
                  "bert_load_expect.safetensors")


def old_names(sd, prefix="bert."):
    """prefix + key, LayerNorm.weight/.bias as the old .gamma/.beta."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        k = prefix + k
        if k.endswith("LayerNorm.weight"):
            k = k[:-len("weight")] + "gamma"
        elif k.endswith("LayerNorm.bias"):
            k = k[:-len("bias")] + "beta"
        out[k] = v
    return out


def pretraining_heads(sd, word, hidden, vocab, g):
    """cls.* of BertForPreTraining with random values of the right shapes;
    the decoder is tied to the word embeddings (one storage)."""
    sd["cls.predictions.bias"] = torch.randn(vocab, generator=g)
    sd["cls.predictions.transform.dense.weight"] = torch.randn(hidden, hidden, generator=g)
    sd["cls.predictions.transform.dense.bias"] = torch.randn(hidden, generator=g)
    sd["cls.predictions.transform.LayerNorm.gamma"] = torch.randn(hidden, generator=g)
    sd["cls.predictions.transform.LayerNorm.beta"] = torch.randn(hidden, generator=g)
    sd["cls.predictions.decoder.weight"] = word
    sd["cls.seq_relationship.weight"] = torch.randn(2, hidden, generator=g)
    sd["cls.seq_relationship.bias"] = torch.randn(2, generator=g)


def minilm(out_dir):
    cache = os.environ.get("THAW_CACHE") or os.path.expanduser("~/.cache/thaw")
    path = os.path.join(cache, "weights", "all-minilm-l6-v2", "model.safetensors")
    if not os.path.exists(path):
        print(f"skipped: {path} missing (bash quickstart.sh fetches all-MiniLM-L6-v2)")
        for stale in MINILM_OUTPUTS:   # from an earlier run: the test skips
            if os.path.exists(os.path.join(out_dir, stale)):
                os.remove(os.path.join(out_dir, stale))
        return
    sd = read_safetensors(path)   # float tensors only: position_ids dropped
    hidden = sd["embeddings.word_embeddings.weight"].shape[1]
    vocab = sd["embeddings.word_embeddings.weight"].shape[0]
    g = torch.Generator().manual_seed(11)

    pre = old_names(sd)
    pre["bert.embeddings.position_ids"] = torch.arange(512).reshape(1, 512)
    pretraining_heads(pre, pre["bert.embeddings.word_embeddings.weight"], hidden, vocab, g)
    torch.save(pre, os.path.join(out_dir, "bert_load_pretrain_zip.bin"))
    torch.save(pre, os.path.join(out_dir, "bert_load_pretrain_legacy.bin"),
               _use_new_zipfile_serialization=False)

    new = collections.OrderedDict(("bert." + k, v) for k, v in sd.items())
    new["bert.embeddings.position_ids"] = torch.arange(512).reshape(1, 512)
    new["cls.predictions.bias"] = torch.randn(vocab, generator=g)
    new["cls.seq_relationship.weight"] = torch.randn(2, hidden, generator=g)
    golden_io.save(os.path.join(out_dir, "bert_load_prefixed.safetensors"), new)

    seq = collections.OrderedDict(("bert." + k, v) for k, v in sd.items())
    seq["classifier.weight"] = 0.02 * torch.randn(CLASSES, hidden, generator=g)
    seq["classifier.bias"] = torch.randn(CLASSES, generator=g)
    torch.save(seq, os.path.join(out_dir, "bert_load_seqcls.bin"))
    golden_io.save(os.path.join(out_dir, "bert_load_expect.safetensors"),
                   {"classifier.weight": seq["classifier.weight"],
                    "classifier.bias": seq["classifier.bias"]},
                   {"weights": path})


def tiny_state(cfg, g):
    c, inter = cfg["hidden_size"], cfg["intermediate_size"]
    sd = collections.OrderedDict()
    sd["embeddings.word_embeddings.weight"] = torch.randn(cfg["vocab_size"], c, generator=g)
    sd["embeddings.position_embeddings.weight"] = torch.randn(
        cfg["max_position_embeddings"], c, generator=g)
    sd["embeddings.token_type_embeddings.weight"] = torch.randn(
        cfg["type_vocab_size"], c, generator=g)
    sd["embeddings.LayerNorm.weight"] = torch.randn(c, generator=g)
    sd["embeddings.LayerNorm.bias"] = torch.randn(c, generator=g)
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key",
                  "attention.self.value", "attention.output.dense"):
            sd[p + n + ".weight"] = torch.randn(c, c, generator=g)
            sd[p + n + ".bias"] = torch.randn(c, generator=g)
        sd[p + "attention.output.LayerNorm.weight"] = torch.randn(c, generator=g)
        sd[p + "attention.output.LayerNorm.bias"] = torch.randn(c, generator=g)
        sd[p + "intermediate.dense.weight"] = torch.randn(inter, c, generator=g)
        sd[p + "intermediate.dense.bias"] = torch.randn(inter, generator=g)
        sd[p + "output.dense.weight"] = torch.randn(c, inter, generator=g)
        sd[p + "output.dense.bias"] = torch.randn(c, generator=g)
        sd[p + "output.LayerNorm.weight"] = torch.randn(c, generator=g)
        sd[p + "output.LayerNorm.bias"] = torch.randn(c, generator=g)
    sd["pooler.dense.weight"] = torch.randn(c, c, generator=g)
    sd["pooler.dense.bias"] = torch.randn(c, generator=g)
    return sd


def tiny(out_dir):
    cfg = {"vocab_size": 30, "hidden_size": 8, "num_hidden_layers": 2,
           "num_attention_heads": 2, "intermediate_size": 16,
           "max_position_embeddings": 16, "type_vocab_size": 2,
           "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
    name = lambda n: os.path.join(out_dir, "bert_load_tiny_" + n)  # noqa: E731
    with open(name("config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    g = torch.Generator().manual_seed(3)
    sd = tiny_state(cfg, g)
    c = cfg["hidden_size"]
    golden_io.save(name("plain.safetensors"), sd)
    ok = old_names(sd)
    torch.save(ok, name("ok.bin"))

    bad = collections.OrderedDict(ok)
    bad["bert.encoder.layer.0.attention.self.rotary.weight"] = torch.zeros(c)
    torch.save(bad, name("unknown.bin"))
    bad = collections.OrderedDict(ok)
    bad["bert.encoder.layer.1.intermediate.dense.weight"] = torch.zeros(16, 9)
    torch.save(bad, name("shape.bin"))
    bad = collections.OrderedDict(ok)
    del bad["bert.encoder.layer.1.output.LayerNorm.beta"]
    torch.save(bad, name("missing.bin"))

    cls = collections.OrderedDict(ok)
    cls["classifier.weight"] = torch.randn(2, c, generator=g)
    cls["classifier.bias"] = torch.randn(2, generator=g)
    torch.save(cls, name("cls2.bin"))
    cls = collections.OrderedDict(ok)
    cls["classifier.weight"] = torch.randn(CLASSES, c + 1, generator=g)
    cls["classifier.bias"] = torch.randn(CLASSES, generator=g)
    torch.save(cls, name("badcls.bin"))
    cls = collections.OrderedDict(ok)
    cls["classifier.weight"] = torch.randn(CLASSES, c, generator=g)
    torch.save(cls, name("half_cls.bin"))

    dup = dict(sd)
    dup["bert.embeddings.word_embeddings.weight"] = sd["embeddings.word_embeddings.weight"]
    golden_io.save(name("dup.safetensors"), dup)

    mlm = collections.OrderedDict((k, v) for k, v in ok.items() if ".pooler." not in k)
    pretraining_heads(mlm, mlm["bert.embeddings.word_embeddings.weight"], c,
                      cfg["vocab_size"], g)
    del mlm["cls.seq_relationship.weight"], mlm["cls.seq_relationship.bias"]
    torch.save(mlm, name("nopooler.bin"))


def main():
    out = golden_io.out_dir_from_argv()
    tiny(out)
    minilm(out)


if __name__ == "__main__":
    main()

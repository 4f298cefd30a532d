"""A tiny text classification run that needs no downloaded weights, for
the GPU checks (tests/gpu/run.sh, tests/cli/test_train_device.sh): a BERT
folder with only config.json and vocab.txt (hidden 64, 2 layers, 4 heads;
the run says "pretrained": false, so thaw initialises it as transformers
does), a CSV of 48 short texts in two classes, and run.json (3 epochs,
batch 8, AdamW, dropout as in the config).
Run: python3 make_tiny_text_run.py DIR  ->  DIR/run.json"""
import json
import os
import random
import sys

out = sys.argv[1]
os.makedirs(os.path.join(out, "model"), exist_ok=True)
warm = ["sunny", "warm", "bright", "calm", "clear", "mild", "golden", "gentle"]
cold = ["storm", "cold", "dark", "wind", "rain", "grey", "frost", "bleak"]
common = ["the", "day", "was", "very", "and", "a", "sky", "morning", "evening", "quite"]
words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + common + warm + cold
with open(os.path.join(out, "model", "vocab.txt"), "w") as f:
    f.write("\n".join(words) + "\n")
config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(words),
          "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 128, "max_position_embeddings": 64, "type_vocab_size": 2,
          "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu"}
with open(os.path.join(out, "model", "config.json"), "w") as f:
    json.dump(config, f, indent=1)
rng = random.Random(7)
with open(os.path.join(out, "texts.csv"), "w") as f:
    f.write("text,label\n")
    for i in range(48):
        label, pool = ("warm", warm) if i % 2 == 0 else ("cold", cold)
        n = rng.randrange(3, 12)   # lengths differ: batches pad to their longest
        text = " ".join(rng.choice(pool) if rng.random() < 0.5 else rng.choice(common)
                        for _ in range(n))
        f.write(f"{text},{label}\n")
run = {"model": {"arch": "bert", "weights": os.path.join(out, "model"), "pretrained": False},
       "dataset": {"type": "text_csv", "path": os.path.join(out, "texts.csv"),
                   "val_fraction": 0.25, "max_length": 16},
       "optimizer": {"name": "adamw", "lr": 0.002},
       "epochs": 3, "batch": 8, "seed": 11}
with open(os.path.join(out, "run.json"), "w") as f:
    json.dump(run, f, indent=1)

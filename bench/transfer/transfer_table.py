"""Markdown table from bench/transfer/run_transfer.sh's results.jsonl."""
import json
import sys

LABELS = {"lite0_scratch": "EfficientNet-Lite0, from scratch",
          "lite0_feature_extraction": "EfficientNet-Lite0, feature extraction",
          "lite0_fine_tune": "EfficientNet-Lite0, fine-tune stage7+top",
          "lite0_full": "EfficientNet-Lite0, full fine-tuning",
          "resnet18_scratch": "ResNet-18, from scratch"}


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    thaw = {r["name"]: r for r in rows if r["side"] == "thaw"}
    torch = [r for r in rows if r["side"] == "pytorch"]
    print("| run | test accuracy (10k) | val accuracy | train wall time |")
    print("|---|---|---|---|")
    for name, label in LABELS.items():
        r = thaw.get(name)
        if r:
            print(f"| {label} | {r['test_acc']:.4f} | {r['val_acc']:.3f} | {r['wall_s']:.0f} s |")
    fe = thaw.get("lite0_feature_extraction")
    if fe and fe["epoch_train_s"]:
        e = fe["epoch_train_s"]
        later = sum(e[1:]) / max(1, len(e) - 1)
        print(f"\nfeature cache: epoch 1 trains in {e[0]:.2f} s, later epochs "
              f"{later:.3f} s on average ({e[0] / later:.0f}x faster)" if later > 0 else "")
    if fe and torch:
        t = torch[-1]
        print(f"\nfeature extraction, whole run: thaw {fe['wall_s']:.1f} s, PyTorch "
              f"{t['torch']} {t['wall_s']:.1f} s: thaw is {t['wall_s'] / fe['wall_s']:.1f}x "
              f"faster (PyTorch val acc {t['epochs'][-1]['val_acc']:.3f})")


if __name__ == "__main__":
    main()

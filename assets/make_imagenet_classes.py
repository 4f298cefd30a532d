"""Writes assets/imagenet_classes.txt: the 1000 ImageNet-1k class names in
index order, one per line, taken from torchvision's weights metadata (the
Debian package python3-torchvision 0.14; reading .meta downloads nothing).
Run: /usr/bin/python3 assets/make_imagenet_classes.py [OUT]
"""
import os
import sys

from torchvision.models import ResNet18_Weights


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "imagenet_classes.txt")
    names = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    if len(names) != 1000 or any(not n or "\n" in n for n in names):
        sys.exit(f"unexpected category list ({len(names)} names)")
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write("".join(n + "\n" for n in names))
    os.replace(out + ".tmp", out)
    print(f"wrote {len(names)} class names to {out}")


if __name__ == "__main__":
    main()

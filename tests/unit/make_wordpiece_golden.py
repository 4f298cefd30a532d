#!/usr/bin/env python3
"""Writes tests/unit/data/wordpiece_golden.jsonl, the ids test_wordpiece.c
must reproduce, with Hugging Face's Python BertTokenizer (do_lower_case=True)
on the all-MiniLM-L6-v2 vocab. Run by hand in a throwaway venv, not by the
tests (the output is committed):

    python3 -m venv /tmp/tokvenv && /tmp/tokvenv/bin/pip install transformers
    /tmp/tokvenv/bin/python tests/unit/make_wordpiece_golden.py

The reference is the Python tokenizer: BertTokenizer in transformers 4.x,
BertTokenizerLegacy in 5.x (where BertTokenizer became the Rust one). The
Rust tokenizer differs on a few edge cases (no final sigma, Unicode version);
those records also carry "fast_ids" for information, the test ignores them.

One line per case: {"text", optional "pair", "max_length", "pad_to", "ids",
"type_ids" (pairs), "mask" (padded)}. Texts holding U+0000 also carry
"text_hex"/"pair_hex" (UTF-8 bytes in hex) because C JSON strings stop there.
Also checks the claim in engine/text/bert_basic.h that BasicTokenizer's NFC
step never changes the result (skip with --no-nfc-check).
"""
import argparse
import glob
import gzip
import json
import os
import random
import re
import unicodedata

import transformers
from transformers.models.bert import tokenization_bert_legacy as legacy_module

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VOCAB = os.path.join(os.environ.get("THAW_CACHE", os.path.expanduser("~/.cache/thaw")),
                             "weights", "all-minilm-l6-v2", "vocab.txt")

EDGE_CASES = [
    "", " ", "   \t\n  ", "\u00a0\u2003\u3000", "\u2028\u2029",
    "Hello, world!", "HELLO WORLD", "hello    world", "unaffable", "UNAFFABLE running jumped",
    "café", "naïve", "Ångström", "Crème Brûlée à la française", "São Paulo, Zürich, Kraków, Ærøskøbing",
    "e\u0301te\u0301", "A\u030a and \u212b", "ﬁnance ﬂow", "Ⅻ ½ ² ™ ℃",
    "...!!!???", "a--b", "wait...what?!", "(parens) [brackets] {braces} <angles>",
    "\"quoted\" 'single' `back`", "$100 ~tilde^ caret_ under|pipe \\back",
    "¡Hola! ¿Qué tal?", "«guillemets» „Anführungszeichen“ “curly” ‘quotes’", "em—dash en–dash",
    "email@example.com http://www.example.org/path?q=1&r=2#frag",
    "I ❤️ emoji 😀😃🎉 👍🏽 👨‍👩‍👧", "🤗 transformers", "★☆♥♦ ✓✗",
    "中文分词测试", "我爱北京天安门", "日本語のテキスト、カタカナとひらがな。", "한국어 텍스트입니다",
    "mixed 中文 and English", "漢字㐀𠀀𪜀", "兀 豈 更 (compatibility ideographs)",
    "Привет, мир! Это тест.", "ЁЛКА ёлка", "Γειά σου Κόσμε", "ΟΔΟΣ ΟΔΟΣ. ΣΑΣ", "ὈΔΥΣΣΕΎΣ",
    "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Tiếng Việt có dấu",
    "İstanbul ıi IÎ", "straße STRASSE", "ΣΑ σ ς Σ", "aΣ", "aΣb", "a\u0301Σ", "Σ\u0301",
    "12345 3.14159 1,000,000 -42 +7 1e-10 0x1F", "2023-01-01 12:30:45", "v1.2.3-beta+build",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "a" * 100, "a" * 101, "b" * 150 + " short", "é" * 101, "x" + "é" * 99, "ab" * 60 + " ok",
    "tab\tseparated\tvalues", "line\nbreaks\r\nand\rcarriage", "ctrl\x01\x02\x07\x1b[0mchars",
    "zero\u200bwidth\u200djoin\ufeffbom", "soft\u00adhyphen", "nul\x00inside", "repl\ufffdchar",
    "private\ue000use \U000f0000 and unassigned \u0378\U000e0080", "\x7f\x80\x85\x9f c1 controls",
    "combining: a\u0300\u0301\u0302\u0303 o\u0308", "\u0301\u0302 leading marks", "\u0345 iota",
    "Hangul jamo: \u1100\u1161\u11a8", "Devanagari: क्षत्रिय", "Thai: กำลัง", "Tamil: கொ",
    "music \U0001d15e\U0001d165\U0001d16e", "ZALGO t\u0336\u0334e\u0337x\u0338t",
    "Hello [SEP] world", "[CLS] start", "end [SEP]", "a[MASK]b", "[mask] lower [Mask]",
    "[UNK] and [PAD]", "[[SEP]]", "[SEP][SEP]", "[ SEP ]", "[SE P]",
    "don't can't won't it's", "U.S.A. e.g. i.e.", "C++ C# F# .NET", "#hashtag @mention",
    "x=1;y=2;z=x+y", "<html><body>Hi</body></html>", "snake_case camelCase PascalCase kebab-case",
    "ßẞ ǅǈǋ Ǳǲǳ", "ﬀ ﬃ ﬆ", "Ꭰ ꭰ Cherokee", "𐐀𐐨 Deseret", "ⓐⓑⒶ", "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ",
    "…‥‧", "、。〃〈〉《》「」", "؟،؛", "¶§†‡•", "°′″‰", "₹€£¥₩", "±×÷∞≠≤≥",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!",
    "Transfer learning reuses features learned on ImageNet.",
]

PAIRS = [
    ("How old are you?", "I am six years old.", None, None),
    ("What is the capital of France?", "Paris is the capital and largest city of France.", 16, 16),
    ("short", "a much longer second sentence that will need to be cut down to size", 12, None),
    ("a much longer first sentence that will need to be cut down to size", "short", 12, None),
    ("equal length one two three four", "equal length five six seven eight", 10, None),
    ("equal length one two three four", "equal length five six seven eight", 11, None),
    ("", "", None, None), ("", "only second", 8, 8), ("only first", "", 8, 8),
    ("café naïve", "Ångström 中文", 7, 7), ("one", "two", 3, None), ("one two", "three", 4, 4),
    ("[SEP] inside", "and [CLS] here", None, None), ("emoji 😀", "mixed 한국어", 9, 9),
]


def doc_sentences(rng, count):
    """Sentences from Debian's documentation on this machine."""
    files = sorted(glob.glob("/usr/share/doc/*/README*") + glob.glob("/usr/share/doc/*/copyright"))
    rng.shuffle(files)
    seen, out = set(), []
    for path in files:
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8", errors="strict") as f:
                text = f.read(200000)
        except (OSError, UnicodeDecodeError, EOFError):
            continue
        parts = re.split(r"(?<=[.!?])\s+|\n\s*\n", text)
        parts = [" ".join(p.split()) for p in parts]
        parts = [p for p in parts if 25 <= len(p) <= 300 and p not in seen]
        for p in rng.sample(parts, min(2, len(parts))):
            seen.add(p)
            out.append(p)
        if len(out) >= count:
            break
    return out


def check_nfc_is_a_no_op(tokenizer_cls):
    """BasicTokenizer.tokenize with its NFC step and without must agree."""
    bt = tokenizer_cls(do_lower_case=True)
    real = unicodedata.normalize

    def run(text, nfc):
        if not nfc:
            legacy_module.unicodedata.normalize = lambda f, s: s if f == "NFC" else real(f, s)
        try:
            return bt.tokenize(text)
        finally:
            legacy_module.unicodedata.normalize = real

    rng = random.Random(1)
    marks = list(range(0x300, 0x370)) + [0x345, 0x1dc0, 0x20d0, 0x3099, 0x1d165, 0x0f71, 0x93c, 0x9be, 0xbbe]
    bases = list(range(0x41, 0x7b)) + list(range(0x391, 0x3cf)) + list(range(0x1100, 0x1175)) + \
        list(range(0x11a8, 0x11c3)) + [0xac00, 0xd7a3, 0x9c7, 0xbc6, 0x1025] + list(range(0x410, 0x450))
    texts = ["A" + chr(c) + "\u03a3 b" for c in range(0x10000) if not 0xD800 <= c < 0xE000]
    texts += ["".join(chr(rng.choice(bases if rng.random() < .5 else marks))
                      for _ in range(rng.randint(1, 6))) for _ in range(50000)]
    bad = [t for t in texts if run(t, True) != run(t, False)]
    if bad:
        raise SystemExit(f"NFC changes BasicTokenizer's output, e.g. {bad[0]!r}: implement NFC in C")
    print(f"NFC check: {len(texts)} texts, no difference")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default=DEFAULT_VOCAB)
    ap.add_argument("--out", default=os.path.join(HERE, "data", "wordpiece_golden.jsonl"))
    ap.add_argument("--no-nfc-check", action="store_true")
    args = ap.parse_args()

    if hasattr(transformers, "BertTokenizerLegacy"):
        slow = transformers.BertTokenizerLegacy(args.vocab, do_lower_case=True)
        fast = transformers.BertTokenizer(vocab=legacy_module.load_vocab(args.vocab), do_lower_case=True)
        basic_cls = legacy_module.BasicTokenizer
    else:
        slow = transformers.BertTokenizer(args.vocab, do_lower_case=True)
        fast = transformers.BertTokenizerFast(args.vocab, do_lower_case=True)
        from transformers.models.bert.tokenization_bert import BasicTokenizer as basic_cls
    if not args.no_nfc_check:
        check_nfc_is_a_no_op(basic_cls)

    rng = random.Random(0)
    cases = [(t, None, None, None) for t in EDGE_CASES]
    cases += [(t, None, None, None) for t in doc_sentences(rng, 260)]
    docs = [c[0] for c in cases[len(EDGE_CASES):]]
    for i in range(0, 40, 2):   # doc sentence pairs, truncated and padded
        ml = rng.choice([8, 12, 16, 24, 32, 64])
        cases.append((docs[i], docs[i + 1], ml, ml if i % 4 == 0 else None))
    for i in range(40, 60):     # single doc sentences truncated
        ml = rng.choice([2, 3, 5, 8, 16])
        cases.append((docs[i], None, ml, ml if i % 3 == 0 else None))
    cases.append(("padding only, no truncation", None, None, 20))
    cases += PAIRS

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    differ = 0
    with open(args.out, "w", encoding="utf-8") as f:
        for text, pair, max_length, pad_to in cases:
            assert not (max_length and pad_to) or max_length == pad_to, "HF pads to max_length"
            kwargs = dict(truncation=max_length is not None, padding="max_length" if pad_to else False)
            if max_length or pad_to:
                kwargs["max_length"] = max_length or pad_to
            enc = slow(text, pair, return_token_type_ids=True, **kwargs)
            rec = {"text": text}
            if pair is not None:
                rec["pair"] = pair
            if max_length:
                rec["max_length"] = max_length
            if pad_to:
                rec["pad_to"] = pad_to
            for key, value in (("text", text), ("pair", pair)):
                if value is not None and "\x00" in value:
                    rec[key + "_hex"] = value.encode("utf-8").hex()
            rec["ids"] = enc["input_ids"]
            if pair is not None:
                rec["type_ids"] = enc["token_type_ids"]
            if pad_to:
                rec["mask"] = enc["attention_mask"]
            fast_ids = fast(text, pair, **kwargs)["input_ids"]
            if fast_ids != rec["ids"]:
                differ += 1
                rec["fast_ids"] = fast_ids
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {args.out} ({differ} differ in the Rust tokenizer, "
          f"transformers {transformers.__version__}, vocab {args.vocab})")


if __name__ == "__main__":
    main()

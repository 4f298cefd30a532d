"""The fortunes topics split exactly as thaw's text job makes it
(engine/data/text_dataset*.c): entries between lines holding only "%",
trimmed of ASCII whitespace, empty ones skipped; a seeded per-class subset
and a stratified split with thaw's RNG (splitmix64 seeding, xoshiro256**,
thaw_seed_mix, Fisher-Yates per class, round-half-even counts)."""
import os

M64 = (1 << 64) - 1


def _splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def seed_mix(a, b):
    x = a ^ ((b * 0xD1342543DE82EF95 + 0x632BE59BD9B4E019) & M64)
    x, _ = _splitmix(x)
    _, z = _splitmix(x)
    return z


class Rng:
    def __init__(self, seed):
        x, self.s = seed, []
        for _ in range(4):
            x, z = _splitmix(x)
            self.s.append(z)

    def u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        if n <= 1:
            return 0
        limit = M64 - M64 % n
        while True:
            v = self.u64()
            if v < limit:
                return v % n


def read_topic(path):
    entries, cur = [], []
    data = open(path, "rb").read()
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if line == b"%":
            entries.append(b"\n".join(cur))
            cur = []
        else:
            cur.append(line)
    tail = b"\n".join(cur)
    if tail.strip():
        entries.append(tail)
    return [e.strip() for e in entries if e.strip()]


def choose(labels, k, seed, n_fixed=None, frac=None):
    mark = [False] * len(labels)
    for c in range(k):
        pos = [i for i, y in enumerate(labels) if y == c]
        rng = Rng(seed_mix(seed, c))
        for i in range(len(pos) - 1, 0, -1):
            j = rng.below(i + 1)
            pos[i], pos[j] = pos[j], pos[i]
        take = min(n_fixed, len(pos)) if n_fixed is not None else round(frac * len(pos))
        for i in pos[:take]:
            mark[i] = True
    return mark


def fortunes_split(topics, subset_per_class, val_fraction, seed,
                   root="/usr/share/games/fortunes"):
    """(train, val): lists of (text bytes, class index), in thaw's order."""
    items = []
    for k, t in enumerate(topics):
        items += [(e, k) for e in read_topic(os.path.join(root, t))]
    if subset_per_class > 0:
        mark = choose([y for _, y in items], len(topics), seed, n_fixed=subset_per_class)
        items = [it for it, m in zip(items, mark) if m]
    mark = choose([y for _, y in items], len(topics), seed, frac=val_fraction)
    train = [it for it, m in zip(items, mark) if not m]
    val = [it for it, m in zip(items, mark) if m]
    return train, val

"""How well the embedded model's embeddings tell paraphrases from unrelated text.

``similar`` on the local model embeds with SmolLM2-135M in llama.cpp's embedding mode. This
measures, on 24 hand-written sentence pairs (12 paraphrases, 12 unrelated), the cosine
similarity each pooling gives, the pass rate at promptfoo's default threshold 0.75, the
best single threshold, and the ranking quality (AUC: the chance a paraphrase pair scores
above an unrelated one), next to difflib's character ratio (``similar-text``).

    python benchmarks/embeddings.py
"""

from __future__ import annotations

import difflib
import math
import os
import statistics
import time

PARAPHRASES = [
    ("The cat sat on the mat.", "A cat was sitting on the rug."),
    ("I want my money back.", "Please refund my payment."),
    ("The meeting is postponed until Monday.", "We moved the meeting to Monday."),
    ("How do I reset my password?", "What are the steps to change my password?"),
    ("The package arrived damaged.", "My parcel came broken."),
    ("It is raining heavily outside.", "There is a downpour outside."),
    ("Paris is the capital of France.", "France's capital city is Paris."),
    ("The store opens at nine.", "Opening time for the shop is 9 am."),
    ("He finished the marathon in three hours.", "He ran the marathon in 3 hours."),
    ("Your order has shipped.", "We have sent out your order."),
    ("The soup is too salty.", "There is too much salt in the soup."),
    ("Turn off the lights when you leave.", "Switch the lights off on your way out."),
]
UNRELATED = [
    ("The cat sat on the mat.", "Stock markets fell sharply today."),
    ("I want my money back.", "The volcano erupted last night."),
    ("The meeting is postponed until Monday.", "Bananas are rich in potassium."),
    ("How do I reset my password?", "The orchestra played Beethoven."),
    ("The package arrived damaged.", "Photosynthesis needs sunlight."),
    ("It is raining heavily outside.", "My laptop battery is full."),
    ("Paris is the capital of France.", "Dogs enjoy long walks."),
    ("The store opens at nine.", "The theorem was proved in 1995."),
    ("He finished the marathon in three hours.", "Please refund my payment."),
    ("Your order has shipped.", "Cats sleep most of the day."),
    ("The soup is too salty.", "The train to Berlin is late."),
    ("Turn off the lights when you leave.", "Jupiter has dozens of moons."),
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def report(name: str, same: list[float], other: list[float]) -> None:
    auc = statistics.mean(float(s > o) + 0.5 * (s == o) for s in same for o in other)
    cuts = sorted(set(same + other))
    best = max(
        cuts,
        key=lambda t: sum(s >= t for s in same) + sum(o < t for o in other),
    )
    accuracy = (sum(s >= best for s in same) + sum(o < best for o in other)) / 24
    at_default = (sum(s >= 0.75 for s in same), sum(o >= 0.75 for o in other))
    print(
        f"{name:<22} paraphrase {statistics.mean(same):.3f}  unrelated"
        f" {statistics.mean(other):.3f}  AUC {auc:.2f}  pass at 0.75:"
        f" {at_default[0]}/12 paraphrases, {at_default[1]}/12 unrelated  best threshold"
        f" {best:.3f} ({accuracy:.0%} right)"
    )


def main() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp

    from promptsuite.models.local import default_model_path

    texts = sorted({t for pair in PARAPHRASES + UNRELATED for t in pair})
    poolings = {
        "mean (promptsuite)": xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN,
        "last token": xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST,
        "first token": xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_CLS,
    }
    for name, pooling in poolings.items():
        params = xllamacpp.CommonParams()
        params.model.path = str(default_model_path())
        params.embedding = True
        params.pooling_type = pooling
        params.n_ctx = 2048
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
        params.verbosity = 0
        server = xllamacpp.Server(params)
        started = time.perf_counter()
        data = server.handle_embeddings({"input": texts})["data"]
        seconds = time.perf_counter() - started
        vectors = dict(zip(texts, (d["embedding"] for d in data), strict=True))
        same = [cosine(vectors[a], vectors[b]) for a, b in PARAPHRASES]
        other = [cosine(vectors[a], vectors[b]) for a, b in UNRELATED]
        report(name, same, other)
        print(f"{'':<22} ({len(texts)} texts embedded in {seconds:.2f} s)")
        del server

    def ratio(a: str, b: str) -> float:
        return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()

    report("difflib (similar-text)", [ratio(a, b) for a, b in PARAPHRASES],
           [ratio(a, b) for a, b in UNRELATED])  # fmt: skip


if __name__ == "__main__":
    main()

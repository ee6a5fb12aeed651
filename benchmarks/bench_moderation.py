"""Moderation throughput in-process, on ONE core: the full pipeline vs a BERT-class classifier.

What it measures: listings/s of `Moderator.moderate_batch` (normalization with offset maps, lexicon and
rules, counterfeit signals, linear classifier, decision) on the project's 3,100 labelled listings, batch
256, with every library limited to one thread; and, as the peer a platform would otherwise deploy, a
`transformers` BERT-base-architecture classifier (12 layers, hidden 768, bert-base-chinese vocabulary size,
random weights: same FLOPs as the real model) on the same texts, batch and thread budget. Also the cost of
each stage alone, to show normalization is not the bottleneck.

Run: `.venv/bin/python benchmarks/bench_moderation.py [--bert-listings 64]`
"""

from __future__ import annotations

import argparse
import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = "1"

import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from moderation import Listing, Moderator, normalize  # noqa: E402
from moderation.classifier import classifier_text  # noqa: E402
from moderation.dataset import load_dataset  # noqa: E402
from moderation.rules import find_contact_details  # noqa: E402
from moderation.training import train_linear  # noqa: E402

torch.set_num_threads(1)


def rate(fn, n_items: int, repeats: int) -> float:
    """Median items/s over `repeats` runs of `fn` (which processes `n_items`)."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return n_items / statistics.median(times)


def bert_rate(texts: list[str], batch: int) -> float:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    from models.testing import train_tiny_tokenizer

    config = BertConfig(vocab_size=21128, num_labels=7)  # bert-base-chinese shape
    model = BertForSequenceClassification(config).eval()
    raw = train_tiny_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], vocab_size=4000, corpus=texts)
    tokenizer = BertTokenizerFast(tokenizer_object=raw, pad_token="[PAD]", unk_token="[UNK]")

    def run() -> None:
        with torch.inference_mode():
            for start in range(0, len(texts), batch):
                enc = tokenizer(
                    texts[start : start + batch], padding=True, truncation=True, max_length=128, return_tensors="pt"
                )
                model(**enc)

    return rate(run, len(texts), repeats=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bert-listings", type=int, default=64, help="listings for the (slow) BERT baseline")
    args = parser.parse_args()

    rows = load_dataset()
    listings = [
        Listing(id=r.id, title=r.title, body=r.body, price=r.price, brand=r.brand, category=r.category) for r in rows
    ]
    moderator = Moderator(classifier=train_linear())
    n = len(listings)

    def pipeline() -> None:
        for start in range(0, n, args.batch):
            moderator.moderate_batch(listings[start : start + args.batch])

    folded = [(normalize(x.title), normalize(x.body)) for x in listings]
    texts = [classifier_text(t, b) for t, b in folded]
    stages = {
        "normalize (title+body, offset maps)": lambda: [(normalize(x.title), normalize(x.body)) for x in listings],
        "lexicon + contact rules": lambda: [
            (moderator.lexicon.match("t", t), moderator.lexicon.match("b", b), find_contact_details("b", b))
            for t, b in folded
        ],
        "linear classifier (batched)": lambda: [
            moderator.classifier.predict(texts[s : s + args.batch]) for s in range(0, n, args.batch)
        ],
    }
    print(f"{n} listings, batch {args.batch}, one thread, median of {args.repeats} runs")
    for name, fn in stages.items():
        print(f"  stage {name:<38}{rate(fn, n, args.repeats):>12,.0f} listings/s")
    ours = rate(pipeline, n, args.repeats)
    print(f"{'Note Studio moderator (full pipeline)':<46}{ours:>12,.0f} listings/s")
    raw_texts = [f"{x.title}\n{x.body}" for x in listings[: args.bert_listings]]
    bert = bert_rate(raw_texts, min(args.batch, args.bert_listings))
    print(f"{'BERT-base classifier (transformers, random)':<46}{bert:>12,.1f} listings/s")
    print(f"ratio (ours / BERT-base): {ours / bert:,.0f}x")


if __name__ == "__main__":
    main()

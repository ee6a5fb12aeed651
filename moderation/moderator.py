"""`Moderator`: normalize -> lexicon & rules -> counterfeit signals -> classifier -> policy decision.

One instance per process; `moderate_batch` runs the classifier once per batch, which is where throughput
comes from. Every result names its engine and the versions of everything that decided it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from moderation.classifier import LinearClassifier, TextClassifier, classifier_text
from moderation.counterfeit import BrandBook
from moderation.image_registry import ImageError, ImageRegistry, decode_image
from moderation.image_text import ImageTextReader, ImageTextSignals
from moderation.lexicon import Lexicon
from moderation.normalize import NormalizedText, normalize
from moderation.nudity import NuditySignals
from moderation.policy import Policy
from moderation.rules import find_contact_details, find_replica_ratio, find_tao_codes, mark_evasion
from moderation.types import TOP_LABELS, Evidence, Hit, Label, Listing, ModerationResult

__all__ = ["Moderator"]

log = logging.getLogger(__name__)


_HAN = re.compile(r"[\u3400-\u9fff]")


def _mostly_chinese(text: str, threshold: float = 0.3) -> bool:
    """Share of Han characters among letters; digits and symbols do not count either way."""
    han = len(_HAN.findall(text))
    if han >= threshold * len(text):  # most listings: no need to count letters one by one
        return True
    letters = sum(map(str.isalpha, text))
    return letters == 0 or han / letters >= threshold


def _noisy_or(scores: Sequence[float]) -> float:
    """Independent signals combined: two medium counterfeit signals outweigh one."""
    return float(1.0 - np.prod([1.0 - s for s in scores]))


def _masked(normalized: NormalizedText, spans: list[tuple[int, int]]) -> NormalizedText:
    """`normalized` with the folded `spans` blanked (same length and offsets, so evidence still maps back)."""
    if not spans:
        return normalized
    chars = list(normalized.text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return NormalizedText("".join(chars), normalized.offsets, normalized.original)


def _renumber(hit: Hit, index: int) -> Hit:
    """A hit on a listing's image checked alone (as `images[0]`) names its place in the listing."""
    evidence = tuple(
        Evidence(f"images[{index}]", e.start, e.end, e.text) if e.field == "images[0]" else e for e in hit.evidence
    )
    return Hit(hit.code, hit.score, evidence, hit.source)


class Moderator:
    def __init__(
        self,
        lexicon: Lexicon | None = None,
        brands: BrandBook | None = None,
        classifier: TextClassifier | None = None,
        policy: Policy | None = None,
        images: ImageRegistry | None = None,
        image_checks: bool = True,
    ) -> None:
        """`image_checks`: read listing images — OCR and QR codes through the text rules, and the nudity
        detector when its optional package is installed (the log says how to add it when it is not)."""
        self.lexicon = lexicon or Lexicon()
        self.brands = brands or BrandBook()
        self.classifier = classifier
        self.policy = policy or Policy.load()
        self.images = images
        self._text_reader: ImageTextReader | None = None
        self._nudity: NuditySignals | None = None
        if image_checks:
            self._text_reader = ImageTextReader()
            try:
                self._nudity = NuditySignals()
            except ImportError as exc:
                log.warning("sexual content in images is not checked: %s", exc)

    @classmethod
    def from_files(
        cls, classifier_path: Path | None = None, images_dir: Path | None = None, train_if_missing: bool = True
    ) -> Moderator:
        """The default stack: shipped lexicon, brands and policy; the linear classifier from `classifier_path`,
        trained from the shipped dataset when the file does not exist yet (a few seconds, once, under a file
        lock: replicas starting together train it once and the others load it)."""
        classifier = None
        if classifier_path is not None:
            if classifier_path.exists():
                classifier = LinearClassifier.load(classifier_path)
            elif train_if_missing:
                from moderation.training import ensure_linear_classifier

                classifier, _ = ensure_linear_classifier(classifier_path)
        images = ImageRegistry(images_dir) if images_dir is not None else None
        return cls(classifier=classifier, images=images)

    @property
    def engine(self) -> str:
        return f"rules+{self.classifier.name}" if self.classifier else "rules"

    @property
    def versions(self) -> dict[str, str]:
        versions = {
            "lexicon": self.lexicon.version,
            "grammar": self.lexicon.grammar.version,
            "brands": self.brands.version,
            "policy": self.policy.version,
        }
        if self.classifier:
            versions["classifier"] = self.classifier.version
        if self._text_reader is not None:
            versions["image_text"] = "rapidocr-onnxruntime PP-OCRv4 + opencv qr"
        if self._nudity is not None:
            versions["nudity"] = "nudenet 320n"
        return versions

    def set_policy(self, policy: Policy) -> None:
        """Swap the policy atomically (Ray Serve `reconfigure`)."""
        self.policy = policy

    # ------------------------------------------------------------------------------------------------
    def moderate(self, listing: Listing) -> ModerationResult:
        return self.moderate_batch([listing])[0]

    def moderate_batch(self, listings: Sequence[Listing]) -> list[ModerationResult]:
        # 1. normalize every field once
        folded = [(normalize(item.title), normalize(item.body)) for item in listings]
        # 2. rules first: hits, and the words the rules read and judged not to be claims (explained)
        ruled = [self._hits(item, title, body) for item, (title, body) in zip(listings, folded, strict=True)]
        # 3. the classifier reads the whole batch in one call, without the explained words (an ordinal 第一 or
        #    advice 最好 must not come back as a claim through it). It learnt Chinese listings, so text that is
        #    mostly not Chinese is judged by the rules alone (a model outside its domain only adds noise); it
        #    also abstains on Chinese text its in-domain model finds far from listings (prose, policy
        #    `classifier.abstain_below`): there it may still doubt a rule hit, never add a label
        probs, listing_like = None, None
        chinese = [_mostly_chinese(t.text + b.text) for t, b in folded]
        masked = [
            (_masked(t, e["title"]), _masked(b, e["body"])) for (t, b), (_, _, e) in zip(folded, ruled, strict=True)
        ]
        if self.classifier is not None and listings:
            # whether a text reads like a listing is judged on all of it; the labels without the explained words,
            # re-scored only for the listings that have some (one more pass over those alone)
            scores = self.classifier.scores([classifier_text(t, b) for t, b in folded])
            probs = scores.probs
            if scores.in_domain is not None:
                listing_like = scores.in_domain
            redo = [i for i, (_, _, e) in enumerate(ruled) if e["title"] or e["body"]]
            if redo:
                probs = np.array(probs, copy=True)
                probs[redo] = self.classifier.predict([classifier_text(*masked[i]) for i in redo])
        policy = self.policy  # one policy per batch, even if `set_policy` swaps it meanwhile
        thresholds = {top: policy.thresholds(top) for top in TOP_LABELS}
        versions = self.versions
        rows = probs.tolist() if probs is not None else None  # Python floats: cheaper per label than numpy
        # 4. per listing: combination, decision
        return [
            self._decide(
                item,
                title,
                body,
                hits,
                reasons,
                rows[i] if rows is not None and chinese[i] else None,
                in_domain=None if listing_like is None else float(listing_like[i]),
                policy=policy,
                thresholds=thresholds,
                versions=versions,
            )
            for i, (item, (title, body), (hits, reasons, _)) in enumerate(zip(listings, masked, ruled, strict=True))
        ]

    def _hits(self, item: Listing, title, body) -> tuple[list[Hit], list[str], dict[str, list[tuple[int, int]]]]:
        hits: list[Hit] = []
        reasons: list[str] = []
        explained: dict[str, list[tuple[int, int]]] = {"title": [], "body": []}
        for field, normalized in (("title", title), ("body", body)):
            hits += self.lexicon.match(field, normalized, item.category, explained[field])
            hits += find_contact_details(field, normalized)
            hits += find_replica_ratio(field, normalized.original)
            hits += find_tao_codes(field, normalized.original)
        if hits:
            hits, hidden = mark_evasion(hits)
            reasons += hidden
        # counterfeit: a price far below the brand's floor
        if item.price is not None:
            mentions = self.brands.mentions("title", title) + self.brands.mentions("body", body)
            brand = self.brands.canonical(item.brand) or (mentions[0].brand if mentions else None)
            if brand:
                evidence = next((m.evidence for m in mentions if m.brand == brand), None)
                category = self.brands.floor_category(item.category, item.title)
                hit = self.brands.price_hit(brand, item.price, category, self.policy.counterfeit.price_ratio, evidence)
                if hit:
                    hits.append(Hit(hit.code, hit.score, hit.evidence, "counterfeit"))
                    reasons.append(hit.source.split(":", 1)[1])
        if not item.images:
            return hits, reasons, explained
        pixels = []
        for index, data in enumerate(item.images):
            try:
                pixels.append(decode_image(data))
            except ImageError as exc:  # the service validated them; a library caller may not have
                reasons.append(f"images[{index}] not read: {exc}")
                pixels.append(None)
        readable = [(index, image) for index, image in enumerate(pixels) if image is not None]
        # text inside images (contact ids and QR codes are the usual way around text moderation), nudity
        if self._text_reader is not None:

            def text_hits(field: str, text: str) -> list[Hit]:
                normalized = normalize(text)
                return self.lexicon.match(field, normalized, item.category) + find_contact_details(field, normalized)

            for check in (ImageTextSignals(text_hits, self._text_reader), self._nudity):
                if check is None:
                    continue
                for index, image in readable:
                    found, why = check([image])
                    hits += [_renumber(hit, index) for hit in found]
                    reasons += [reason.replace("images[0]", f"images[{index}]", 1) for reason in why]
        # counterfeit: registered brand images
        if self.images is not None:
            for index, image in readable:
                for match in self.images.match(image)[:1]:
                    evidence = Evidence(f"images[{index}]", 0, 0, match.image_id)
                    hits.append(Hit("counterfeit.image", round(0.5 * match.score, 3), (evidence,), "image"))
                    reasons.append(f"images[{index}] matches a registered {match.brand} image ({match.detail})")
        return hits, reasons, explained

    def _reads_as_evidence(self, evidence: Evidence, normalized) -> bool:
        """A classifier's n-gram counts as evidence only with a Chinese character in it and outside a warning."""
        return bool(_HAN.search(evidence.text)) and not self.lexicon.warns_about(
            normalized, evidence.start, evidence.end
        )

    def _decide(
        self,
        item: Listing,
        title,
        body,
        hits: list[Hit],
        reasons: list[str],
        probs: list[float] | None,
        in_domain: float | None,
        policy: Policy,
        thresholds: dict,
        versions: dict[str, str],
    ) -> ModerationResult:
        # Far from the listings it learnt (real prose, manuals), the classifier abstains: no label of its own,
        # no boost of a rule's score; it may still doubt a rule hit (the veto only ever lowers a score).
        abstain = probs is not None and in_domain is not None and in_domain < policy.classifier.abstain_below
        if abstain:
            reasons = [*reasons, f"classifier abstained: text unlike listings (in-domain {in_domain:.2f})"]
        by_top: dict[str, list[Hit]] = {}
        for hit in hits:
            by_top.setdefault(hit.code.split(".", 1)[0], []).append(hit)
        labels: list[Label] = []
        for index, top in enumerate(TOP_LABELS):
            top_hits = by_top.get(top, [])
            prob = probs[index] if probs is not None else None
            if not top_hits and (prob is None or abstain or prob < policy.classifier.review_alone):
                continue
            if top_hits:
                # The classifier may doubt text matches (context the lexicon missed), not prices or images.
                veto = prob is not None and prob < policy.classifier.veto_below
                scores = [
                    h.score * policy.classifier.veto_scale if veto and h.source in ("lexicon", "rule") else h.score
                    for h in top_hits
                ]
                rule_score = _noisy_or(scores) if top == "counterfeit" else max(scores)
                score = rule_score if abstain else max(rule_score, prob or 0.0)
                strongest = max(top_hits, key=lambda h: h.score)
                code = strongest.code
                evidence = [e for h in sorted(top_hits, key=lambda h: -h.score) for e in h.evidence]
                sources = sorted(
                    {h.source.split(":")[0] for h in top_hits} | ({"classifier"} if prob and not abstain else set())
                )
            elif prob is not None and not abstain and prob >= policy.classifier.review_alone:
                # Without rule evidence the classifier can send a listing to review, never block it, and only
                # from a probability calibrated on real clean prose (policy `classifier.review_alone`).
                score = min(prob, thresholds[top].block - 0.001)
                code = f"{top}.classifier"
                evidence = []
                if score >= thresholds[top].review and self.classifier is not None:
                    found = []
                    for field, normalized in (("title", title), ("body", body)):
                        found += [(e, normalized) for e in self.classifier.evidence(field, normalized, top)]
                    evidence = [e for e, normalized in found if self._reads_as_evidence(e, normalized)]
                    if found and not evidence:
                        # What drove the label is digits (sales counts, model numbers: the contact rules know
                        # phone and id formats) or words inside a warning the rules already read as one.
                        continue
                sources = ["classifier"]
            else:
                continue
            if score >= thresholds[top].review:
                labels.append(Label(code, round(score, 4), evidence, sources))
        labels.sort(key=lambda label: -label.score)
        decision = "pass"
        if labels:
            decision = "review"
            for label in labels:
                top = label.code.split(".", 1)[0]
                if top in policy.block_labels and label.score >= thresholds[top].block:
                    decision = "block"
                    break
        risk = round(
            max(
                [label.score for label in labels],
                default=max(probs) if probs is not None and not abstain else 0.0,
            ),
            4,
        )
        return ModerationResult(
            id=item.id,
            decision=decision,
            risk=min(1.0, risk),
            labels=labels,
            engine=self.engine if probs is not None else "rules",  # out-of-domain text: rules alone
            versions=versions,
            reasons=reasons,
        )

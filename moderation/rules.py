"""Pattern rules the lexicon cannot express: phone numbers, QQ and WeChat ids, links, e-mail addresses.

Phone and id patterns run on the folded text (so ①③⑧, 一三八 and 138-1234-5678 all read 13812345678);
links and e-mail run on the original text, where their punctuation still exists.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from moderation.normalize import NormalizedText, fold
from moderation.types import Evidence, Hit

__all__ = ["find_contact_details", "find_replica_ratio", "find_tao_codes", "mark_evasion"]

# Mainland mobile numbers, digits possibly split by single spaces (dashes and dots are folded away).
_PHONE = re.compile(r"(?<![0-9])1[3-9][0-9](?: ?[0-9]){8}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])0[1-9][0-9]{1,2} ?[2-8][0-9]{6,7}(?![0-9])")
_QQ = re.compile(r"(?:qq|扣扣|企鹅号?|q号)(?:号|号码)?(?:是|为)?([1-9][0-9]{4,10})(?![0-9])")
_WECHAT_ID = re.compile(
    r"(?:微信|薇信|威信|维信|徽信|v信|绿泡泡|绿色泡泡|vx|wx|weixin|wechat)"
    r"(?:号|id)?(?:是|为)? ?([a-z][a-z0-9]{5,19})(?![a-z0-9])"
)
# A bare "v" / "加v" is an id prefix only when the id carries a digit ("V collection" is English).
_V_ID = re.compile(r"(?<![a-z])(?:加v|v)(?:号)? ?((?=[a-z0-9]*[0-9])[a-z][a-z0-9]{5,19})(?![a-z0-9])")
_LINK = re.compile(
    r"(?i)(?:https?://|www\.)[^\s，。！？、）)]+|\b[a-z0-9-]{2,}\.(?:com|cn|net|top|xyz|cc|vip|shop|link|me)\b(?:/[^\s，。]*)?"
)
_EMAIL = re.compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b")
_ANY_DIGIT = re.compile(r"[0-9]")
_TAO_CODE = re.compile(
    r"[￥¥$€₤£](?:[\u200b-\u200f\u2060\ufeff]*[A-Za-z0-9]){4,16}[\u200b-\u200f\u2060\ufeff]*[￥¥$€₤£]"
)
_RATIO = re.compile(r"(?<![0-9.])[1１一]\s*[:：比]\s*[1１一](?![0-9.])")
_RULES = yaml.safe_load((Path(__file__).with_name("data") / "rules.yaml").read_text(encoding="utf-8"))
_RATIO_CONTEXT = tuple(_RULES["replica_ratio_context"])
_RATIO_WINDOW = int(_RULES["replica_ratio_window"])
_EVASION_BOOST = float(_RULES["evasion_boost"])
_LINKS = _RULES["links"]
_DIVERT_CUES = tuple(fold(cue) for cue in _LINKS["divert_cues"])
#: Invisible characters: C0/C1 controls but tab and line breaks, soft hyphen, zero-width and bidi format
#: characters, BOM, and U+FFFD (what could not be decoded, e.g. a lone surrogate).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufffd]"
)


def _one_token(normalized: NormalizedText, match: re.Match, group: int) -> bool:
    """Whether the id the pattern read is one token as written: folding deletes punctuation, so "vipw(8)，vigr(8)"
    reads vipw8vigr8 and "virtdisk.qcow2" virtdiskqcow2, which look like ids. An id may carry _ and -, and
    spaces, emoji or invisible characters (evasion), never other punctuation or symbols."""
    start, end = normalized.span(match.start(group), match.end(group))
    for ch in normalized.original[start:end]:
        if ch in "_-" or ch.isalnum() or ch.isspace():
            continue
        if unicodedata.category(ch)[0] in "PS" and unicodedata.category(ch) != "So":
            return False
    return True


def _starts_a_word(normalized: NormalizedText, start: int) -> bool:
    """A Latin prefix (wx, vx) must start a word as written: the wx in "drwxrwxrwx" (a Unix permission string) is
    not WeChat, the one in "459r，wechat号" is (folding deleted the comma between)."""
    text = normalized.text
    if (
        start == 0
        or not ("a" <= text[start] <= "z")
        or not ("a" <= text[start - 1] <= "z" or text[start - 1].isdigit())
    ):
        return True
    return int(normalized.offsets[start]) - int(normalized.offsets[start - 1]) > 1


def _from_folded(field: str, normalized: NormalizedText, match: re.Match, group: int = 0) -> Evidence:
    start, end = normalized.span(match.start(group), match.end(group))
    if group:  # report the whole "微信号 abc123" phrase when the id itself matched
        start = normalized.span(match.start(), match.end())[0]
    return Evidence(field, start, end, normalized.original[start:end])


def find_contact_details(field: str, normalized: NormalizedText) -> list[Hit]:
    """Contact details and links in one field, as `diversion.*` hits."""
    text = normalized.text
    hits: list[Hit] = []
    original = normalized.original
    if _ANY_DIGIT.search(text):  # phones, QQ numbers and "v"-ids all carry digits
        phones = [_from_folded(field, normalized, m) for m in _PHONE.finditer(text)]
        phones += [_from_folded(field, normalized, m) for m in _LANDLINE.finditer(text)]
        if phones:
            hits.append(Hit("diversion.contact", 0.97, tuple(phones), "rule"))
        ids = [_from_folded(field, normalized, m, 1) for m in _QQ.finditer(text) if _one_token(normalized, m, 1)]
        ids += [
            _from_folded(field, normalized, m, 1)
            for m in _V_ID.finditer(text)
            if not _WECHAT_ID.search(m.group()) and _one_token(normalized, m, 1)
        ]
    else:
        ids = []
    ids += [
        _from_folded(field, normalized, m, 1)
        for m in _WECHAT_ID.finditer(text)
        if _one_token(normalized, m, 1) and _starts_a_word(normalized, m.start())
    ]
    if ids:
        hits.append(Hit("diversion.contact", 0.96, tuple(ids), "rule"))
    if "." in original or "@" in original or "．" in original:
        # links and addresses are read with invisible characters taken out (c9KWfQZU.taobao\u200b.com is a link)
        visible, where = _visible(original)
        links = [_span(field, original, where, m) for m in _LINK.finditer(visible)]
        emails = [_span(field, original, where, m) for m in _EMAIL.finditer(visible)]
        links = [link for link in links if not any(e.start <= link.start < e.end for e in emails)] + emails
        if links:
            # A link or address alone asks for a look (documentation quotes them); one to a shop, a short-link
            # service or next to words that send the reader there diverts: block level.
            strong = [link for link in links if _diverting_link(original, link)]
            weight = _LINKS["divert_weight"] if strong else _LINKS["weight"]
            hits.append(Hit("diversion.link", weight, tuple(strong or links), "rule"))
    return hits


def _visible(original: str) -> tuple[str, list[int]]:
    """`original` without invisible characters, and for each kept character its index in `original`."""
    if not _INVISIBLE.search(original):
        return original, list(range(len(original)))
    where = [i for i, ch in enumerate(original) if not _INVISIBLE.match(ch)]
    return "".join(original[i] for i in where), where


def _span(field: str, original: str, where: list[int], match: re.Match) -> Evidence:
    start, end = where[match.start()], where[match.end() - 1] + 1
    return Evidence(field, start, end, original[start:end])


def find_tao_codes(field: str, original: str) -> list[Hit]:
    """Marketplace share codes (淘口令): a short token between currency signs, ￥dY7DLTS￥, that opens a listing
    elsewhere when copied."""
    evidence = [Evidence(field, m.start(), m.end(), m.group()) for m in _TAO_CODE.finditer(original)]
    return [Hit("diversion.offsite", 0.9, tuple(evidence), "rule")] if evidence else []


def _diverting_link(original: str, link: Evidence) -> bool:
    """A link to a shop, marketplace or short-link service, or one with a cue nearby that sends readers there.
    Names and cues are looked for in folded text too (网-址, ta😭obao.com)."""
    lowered = link.text.lower()
    if any(domain in lowered for domain in _LINKS["divert_domains"]):
        return True
    window = int(_LINKS["window"])
    around = fold(original[max(0, link.start - window) : link.end + window])
    return any(name in around for name in _LINKS["divert_names"]) or any(cue in around for cue in _DIVERT_CUES)


def find_replica_ratio(field: str, original: str) -> list[Hit]:
    """ "1:1" / "1比1" next to words about copying a genuine item (not a recipe ratio)."""
    evidence = []
    for match in _RATIO.finditer(original):
        around = original[max(0, match.start() - _RATIO_WINDOW) : match.end() + _RATIO_WINDOW].lower()
        if any(word in around for word in _RATIO_CONTEXT):
            evidence.append(Evidence(field, match.start(), match.end(), match.group()))
    return [Hit("counterfeit.slang", 0.9, tuple(evidence), "rule")] if evidence else []


def mark_evasion(hits: list[Hit]) -> tuple[list[Hit], list[str]]:
    """Hits whose evidence hides invisible characters score `evasion_boost` higher, with a reason each.

    Folding already made the hidden term match; that someone hid it is a signal of its own.
    """
    out: list[Hit] = []
    reasons: list[str] = []
    for hit in hits:
        hidden = 0
        for evidence in hit.evidence:
            count = len(_INVISIBLE.findall(evidence.text))
            if count:
                reasons.append(f"{evidence.field}: {count} invisible characters inside a {hit.code} match")
            hidden += count
        out.append(Hit(hit.code, min(1.0, hit.score + _EVASION_BOOST), hit.evidence, hit.source) if hidden else hit)
    return out, reasons

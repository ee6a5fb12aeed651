"""Lexicon matching with precision-minded context rules and evidence on the original text."""

from __future__ import annotations

import pytest

from moderation.lexicon import Lexicon
from moderation.normalize import normalize
from moderation.rules import find_contact_details, find_replica_ratio


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon()


def codes(lexicon, text, category=None):
    hits = lexicon.match("body", normalize(text), category) + find_contact_details("body", normalize(text))
    hits += find_replica_ratio("body", text)
    return {h.code for h in hits}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("全网最低价，史上最强口红", "ad_law.absolute"),
        ("国 家 级 认证面霜", "ad_law.absolute"),
        ("无效退款，七天见效", "ad_law.false_promise"),
        ("这款面霜可以治疗湿疹", "medical_claim.treatment"),
        ("加薇信领取优惠", "diversion.contact"),
        ("V❤ shop2024 私聊", "diversion.contact"),
        ("高*仿 LV 原单", "counterfeit.slang"),
        ("gao仿 AJ 纯原", "counterfeit.slang"),
        ("1:1还原专柜做工", "counterfeit.slang"),
        ("出售一次性电子烟 多口味烟弹", "prohibited.e_cigarette"),
        ("代办学历证书 刻章", "prohibited.forged_document"),
        ("好评返现5元", "fraud.cashback_review"),
        ("在家兼职刷单日结", "fraud.click_farming"),
        ("同城约 上门服务", "sexual.solicitation"),
    ],
)
def test_violations_are_found(lexicon, text, code):
    assert code in codes(lexicon, text)


@pytest.mark.parametrize(
    "text",
    [
        "第一次用这款口红就爱上了",  # personal use, not an absolute claim
        "最近最喜欢的一支，最后一点也用完了",
        "原价199，现在活动价99",  # 原价 is not 原单
        "客厅摆了一束仿真花，高仿真模型也很好看",
        "官方复刻经典款今日发售",  # an official reissue
        "劝大家远离电子烟，真的有害健康",  # warning against, not selling
        "不要相信刷单兼职，都是骗子",
        "水和面粉1:1混合，揉成面团",  # a ratio, not a replica grade
        "V领毛衣 collection 2024",
    ],
)
def test_hard_negatives_stay_clean(lexicon, text):
    assert codes(lexicon, text) == set()


def test_drug_category_may_claim_treatment(lexicon):
    assert "medical_claim.treatment" not in codes(lexicon, "用于治疗感冒引起的头痛", category="药品")


def test_evidence_spans_index_the_original(lexicon):
    text = "超好用！国.家.级认证，加 薇 信 了解"
    hits = lexicon.match("body", normalize(text))
    for hit in hits:
        for e in hit.evidence:
            assert text[e.start : e.end] == e.text
    spans = {e.text for h in hits for e in h.evidence}
    assert {"国.家.级", "加 薇 信"} <= spans


def test_longest_overlapping_match_wins(lexicon):
    [hit] = [h for h in lexicon.match("title", normalize("全网第一的面膜")) if h.code == "ad_law.absolute"]
    assert [e.text for e in hit.evidence] == ["全网第一"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("电话 138-1234-5678", "138-1234-5678"),
        ("联系 ❶❸⑧①②③④⑤⑥⑦⑧", "❶❸⑧①②③④⑤⑥⑦⑧"),
        ("qq：12345678", "12345678"),
        ("微信号: shop_girl88", "shop_girl88"),
        ("详情 https://t.cn/abc", "https://t.cn/abc"),
    ],
)
def test_contact_rules(text, fragment):
    hits = find_contact_details("body", normalize(text))
    assert any(fragment in e.text and text[e.start : e.end] == e.text for h in hits for e in h.evidence)


@pytest.mark.parametrize("text", ["月销量13800件", "型号 WH-1000XM4", "订单号 2024112512345"])
def test_numbers_that_are_not_contacts(text):
    assert find_contact_details("body", normalize(text)) == []

"""Word-aware lexicon hits and grammatical context (moderation/grammar.py, data/grammar.yaml), and the claim
classes that need them: each case is one member of a class, several per class."""

from __future__ import annotations

import pytest

from moderation.lexicon import Lexicon
from moderation.normalize import normalize
from moderation.rules import find_contact_details
from moderation.segment import WINDOW


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon()


def codes(lexicon, text, category=None):
    normalized = normalize(text)
    return {h.code for h in lexicon.match("body", normalized, category) + find_contact_details("body", normalized)}


@pytest.mark.parametrize(
    "text",
    [
        "我们单位的原单位是教育局",  # 原单 inside 原|单位
        "这块小香皂很好闻",  # 小香 inside 小|香皂
        "纯原装进口零件，质保一年",  # 纯原 inside 纯|原装
        "请确保您已安装 Git 2 或更高版本",  # 高版本 after a degree adverb: "a higher version"
        "软件需要较高版本的系统",
    ],
)
def test_a_term_inside_an_ordinary_word_is_not_a_hit(lexicon, text):
    assert codes(lexicon, text) == set()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("高仿包包 原单货 细节到位", "counterfeit.slang"),
        ("高 仿 古驰 酒神包", "counterfeit.slang"),  # separators inside the term, a space after it
        ("原✨单，純原，价格美丽", "counterfeit.slang"),  # emoji inside, Traditional, clause marks around
        ("山寨版手机便宜出", "counterfeit.slang"),  # a compound of the term keeps its meaning
        ("加微信号了解更多", "diversion.contact"),  # jieba alone reads 微|信号
        ("刷浏览量，价格319元", "fraud.fake_followers"),
    ],
)
def test_terms_still_match_as_words_and_through_evasions(lexicon, text, code):
    assert code in codes(lexicon, text)


@pytest.mark.parametrize(
    "text",
    [
        "第一行代码是导入模块",
        "第一步先洗脸，第二步涂精华",
        "参见第 1 节“类 Unix 文件系统”",
        "参见第 1.1.4 节",
        "先前的《参考手册》(第一版)",
        "文件的第一代备份",
        "第一时间发货",
        "第12章讲的是安装",
        "安全第一，驾驶时请系好安全带",
        "质量第一，服务至上",
        "最好使用新版本的驱动",
        "最好不要在阳光下暴晒",
        "最好先做皮试再用",
        "绝对路径写在配置文件里",
        "使用最优化方法求解最优解",
    ],
)
def test_ordinals_advice_and_set_phrases_are_not_claims(lexicon, text):
    assert "ad_law.absolute" not in codes(lexicon, text)


@pytest.mark.parametrize(
    "text",
    [
        "销量第一的口红",
        "全网第一的面膜",
        "行业第一品牌",
        "这是天下第一的好物",
        "销量第1名",
        "这是最好的面霜",
        "全网最好用的粉底",
        "最好看的口红色号",
        "国 家 级 认证",
    ],
)
def test_absolute_claims_still_match(lexicon, text):
    assert "ad_law.absolute" in codes(lexicon, text)


@pytest.mark.parametrize(
    "text",
    [
        "-rwxrwxrwx 1 root root",  # a Unix permission string is not a WeChat id
        "drwxr-xr-x 权限",
        "详见 vipw(8)，vigr(8)",  # man-page references are not ids
        "需要 version>=8.2",
        "镜像文件 virtdisk.qcow2",
        "支持 vfat、ext4（UEFI）",
        "vim(1)或者nano(1)",
        "powertop(1)：系统能耗",
    ],
)
def test_technical_tokens_are_not_contacts_or_claims(lexicon, text):
    assert codes(lexicon, text) == set()


@pytest.mark.parametrize(
    ("text", "strong"),
    [
        ("参见 http://security.debian.org/ 的公告", False),
        ("戳链接 https://t.cn/abc 下单", True),
        ("去 shop.ta😭obao.com 买", True),
    ],
)
def test_links_alone_review_and_links_that_divert_block(text, strong):
    [hit] = [h for h in find_contact_details("body", normalize(text)) if h.code == "diversion.link"]
    assert (hit.score >= 0.88) is strong


@pytest.mark.parametrize(
    ("text", "category", "code"),
    [
        ("三天祛痘，痘痘全消", "护肤", "medical_claim.cosmetic_drug_claim"),
        ("这款精华可以祛痘抗菌", None, "medical_claim.cosmetic_drug_claim"),  # no category: 精华 names a cosmetic
        ("生发液，毛囊再生", "个护", "medical_claim.cosmetic_drug_claim"),
        ("修复激素脸，细胞再生", "护肤", "medical_claim.cosmetic_drug_claim"),
        ("三天祛痘", None, "ad_law.false_promise"),  # a deadline on an efficacy, whatever the goods
        ("七天美白，一周去皱", None, "ad_law.false_promise"),
        ("每天一粒，预防糖尿病", "保健食品", "medical_claim.food_disease"),
        ("降尿酸，告别痛风", "食品", "medical_claim.food_disease"),
        ("免费送手机，只需付邮费", None, "fraud.free_gift"),
        ("0元领iPhone，转发到三个群即可", None, "fraud.free_gift"),
        ("集赞38个送面膜一盒", None, "fraud.free_gift"),
    ],
)
def test_new_claim_classes(lexicon, text, category, code):
    assert code in codes(lexicon, text, category)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("除螨吸尘器，高温除螨", "家居"),  # a vacuum cleaner may remove mites
        ("抗菌砧板，易清洗", "家居"),
        ("除螨吸尘器，高温除螨", None),  # nothing names a cosmetic
        ("淡化痘印，温和不刺激", "护肤"),  # fading marks is a permitted claim
        ("这款面霜不能祛痘，敏感肌慎用", "护肤"),
        ("有助于维持血糖健康水平", "保健食品"),  # a permitted health-food function
        ("用于治疗2型糖尿病", "药品"),  # a drug may
        ("免费送货上门，包邮到家", None),
        ("我在朋友圈分享了这款面霜", None),
        ("一天两次，早晚使用", None),
    ],
)
def test_permitted_uses_of_the_same_words(lexicon, text, category):
    assert not {c for c in codes(lexicon, text, category) if c.split(".")[0] in {"medical_claim", "fraud", "ad_law"}}


def test_only_a_window_around_a_hit_is_segmented(lexicon):
    """Segmenting whole listings would cost the throughput target: the segmenter sees a few characters."""
    segmenter = lexicon.grammar.segmenter
    seen: list[str] = []
    cut = segmenter._cut_cached

    def spy(window: str):
        seen.append(window)
        return cut(window)

    segmenter._cut_cached = spy
    try:
        text = "这是一段很长的笔记。" * 50 + "销量第一的口红" + "很好用的面霜。" * 50
        assert "ad_law.absolute" in codes(lexicon, text)
    finally:
        segmenter._cut_cached = cut
    assert seen and all(len(window) <= 2 * WINDOW + 2 for window in seen)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("团购复制这段￥dY7DLTS￥打开淘宝", "diversion.offsite"),  # a marketplace share code
        ("更多款式绿泡泡oyaars697511", "diversion.contact"),  # 绿泡泡: WeChat's nickname
        ("毕业证，全国通用，先付定金", "prohibited.forged_document"),
        ("今天来分享一个 大/保/健", "sexual.solicitation"),
    ],
)
def test_evasive_vocabulary(lexicon, text, code):
    from moderation.rules import find_tao_codes

    normalized = normalize(text)
    found = {h.code for h in lexicon.match("body", normalized) + find_contact_details("body", normalized)}
    found |= {h.code for h in find_tao_codes("body", text)}
    assert code in found


def test_a_link_hidden_by_invisible_characters_is_a_link():
    text = "团购戳 c9KWfQZU.taobao\u200b.com 下单"
    [hit] = [h for h in find_contact_details("body", normalize(text)) if h.code == "diversion.link"]
    assert all(text[e.start : e.end] == e.text for e in hit.evidence) and hit.score >= 0.88


def test_classifier_only_labels_need_chinese_evidence_outside_warnings():
    """Digits alone (sales counts, model numbers) and words inside a warning do not make a classifier-only label."""
    from moderation.moderator import Moderator
    from moderation.training import train_linear
    from moderation.types import Listing

    moderator = Moderator(classifier=train_linear(), image_checks=False)
    for listing in (
        Listing(title="月销18600+ 置物架", body="已售15800件，型号T62111，重量：约1.2kg。"),
        Listing(title="好评返现是违规的吗？", body="收到商家卡片说好评返现，查了平台规则这是违规行为，已经举报了。"),
    ):
        result = moderator.moderate(listing)
        assert not [label for label in result.labels if label.code.endswith(".classifier")], result.labels

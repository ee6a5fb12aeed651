"""Translation over HTTP: LibreTranslate's endpoints field for field (JSON and form bodies, `api_key` in the body,
its error shapes), and our `/v1/translate` with notes, terms and variants."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth
from tests.serving.test_contract import assert_envelope

KEY = {"api_key": MERCHANT_KEY}


def test_libretranslate_translate_json_form_and_batch(client):
    single = client.post("/translate", json={"q": "这个软件很好用", "source": "auto", "target": "zh-Hant", **KEY})
    assert single.status_code == 200
    assert single.json() == {
        "translatedText": "這個軟件很好用",
        "detectedLanguage": {"confidence": 100.0, "language": "zh-Hans"},
    }
    batch = client.post("/translate", json={"q": ["软件", "鼠标"], "source": "zh", "target": "zt", "alternatives": 1,
                                            **KEY})  # fmt: skip
    assert batch.json() == {"translatedText": ["軟件", "鼠標"], "alternatives": [[], []]}
    form = client.post("/translate", data={"q": "软件", "source": "zh-Hans", "target": "zh-Hant", **KEY})
    assert form.json() == {"translatedText": "軟件"}
    header = client.post("/translate", json={"q": "软件", "source": "zh-Hans", "target": "zh-Hant"},
                         headers=auth(MERCHANT_KEY))  # fmt: skip
    assert header.json() == {"translatedText": "軟件"}
    html = client.post("/translate", json={"q": "<p>软件 <b>鼠标</b></p>", "source": "zh-Hans", "target": "zh-Hant",
                                           "format": "html", **KEY})  # fmt: skip
    assert html.json() == {"translatedText": "<p>軟件 <b>鼠標</b></p>"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"source": "en", "target": "zh-Hans", **KEY}, 400, "Invalid request: missing q parameter"),
        ({"q": "hi", "target": "zh-Hans", **KEY}, 400, "Invalid request: missing source parameter"),
        ({"q": "hi", "source": "en", **KEY}, 400, "Invalid request: missing target parameter"),
        ({"q": "hi", "source": "xx", "target": "en", **KEY}, 400, "xx is not supported"),
        ({"q": "hi", "source": "en", "target": "en", "format": "pdf", **KEY}, 400, "pdf format is not supported"),
        ({"q": "hi", "source": "en", "target": "en", "alternatives": "x", **KEY}, 400,
         "Invalid request: alternatives parameter is not a number"),
        ({"q": "字" * 5001, "source": "zh-Hans", "target": "zh-Hant", **KEY}, 400,
         "Invalid request: request (5001) exceeds text limit (5000)"),
        ({"q": "hi", "source": "en", "target": "ja", "api_key": "wrong"}, 403, "Invalid API key"),
        ({"q": "hi", "source": "en", "target": "ja"}, 400, "Please contact the server operator to get an API key"),
        ({"q": "hi", "source": "en", "target": "ja", "api_key": PLATFORM_KEY}, 403, "Invalid API key"),
    ],
)  # fmt: skip
def test_libretranslate_errors_have_its_shape(client, body, status, message):
    response = client.post("/translate", json=body)
    assert response.status_code == status and response.json() == {"error": message}


def test_libretranslate_unserved_pair_says_what_to_configure(client):
    response = client.post("/translate", json={"q": "hello", "source": "en", "target": "ja", **KEY})
    assert response.status_code == 400 and "translation_models" in response.json()["error"]


def test_libretranslate_detect_and_languages(client):
    detected = client.post("/detect", json={"q": "Bonjour tout le monde, comment allez-vous ?", **KEY}).json()
    assert detected[0]["language"] == "fr" and 0 < detected[0]["confidence"] <= 100
    assert set(detected[0]) == {"confidence", "language"}
    languages = client.get("/languages").json()
    by_code = {lang["code"]: lang for lang in languages}
    assert by_code["zh-Hans"]["targets"] == ["zh-Hant"] and by_code["zh-Hant"]["name"] == "Chinese (Traditional)"
    assert all(set(lang) == {"code", "name", "targets"} for lang in languages)


def test_v1_translate_texts_notes_terms_and_variants(client):
    body = {"text": ["雅诗兰黛 软件", "鼠标"], "target": "zh-Hant", "variant": "tw", "dnt": ["雅诗兰黛"]}
    out = client.post("/v1/translate", json=body, headers=auth(MERCHANT_KEY)).json()["translations"]
    assert [o["text"] for o in out] == ["雅诗兰黛 軟體", "滑鼠"] and out[0]["engine"] == "opencc"
    note = {"titles": ["夏日防晒"], "body": "1. 软件\n\n✅ 鼠标", "hashtags": ["防晒"], "engine": "template"}
    done = client.post("/v1/translate", json={"note": note, "target": "zh-Hant"}, headers=auth(MERCHANT_KEY)).json()
    assert done["note"]["note"]["body"] == "1. 軟件\n\n✅ 鼠標" and done["note"]["note"]["hashtags"] == ["防曬"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"text": "hi", "target": "qq"}, 422, "target"),
        ({"text": "hi", "source": "qq", "target": "en"}, 422, "source"),
        ({"target": "en"}, 422, None),
        ({"text": "hello world", "source": "en", "target": "ja"}, 503, "target"),
        ({"text": "字" * 6000, "source": "zh-Hans", "target": "zh-Hant"}, 413, "text"),
        ({"text": ["a"] * 200, "target": "en"}, 422, None),
        ({"text": ["软件", "  "], "target": "zh-Hant"}, 422, "text.1"),
        ({"text": "软件\u202e件软", "target": "zh-Hant"}, 422, "text"),
        ({"text": "a\u0007b", "target": "zh-Hant"}, 422, "text"),
    ],
)
def test_v1_translate_bad_input_names_the_field(client, body, status, param):
    response = client.post("/v1/translate", json=body, headers=auth(MERCHANT_KEY))
    error = response.json()["error"]
    assert response.status_code == status, response.text
    if param:
        assert error["param"] == param
    assert_envelope(response, status, error["type"])


def test_a_glossary_keeps_its_terms_and_is_the_owners_alone(client):
    glossary = {
        "name": "brands",
        "terms": [
            {"source": "雅诗兰黛", "kind": "brand"},
            {"source": "小棕瓶", "target": "小棕瓶", "target_lang": "zh-Hant", "kind": "product"},
        ],
    }
    created = client.post("/v1/glossaries", json=glossary, headers=auth(MERCHANT_KEY))
    assert created.status_code == 201, created.text
    body = {"text": "雅诗兰黛小棕瓶和软件", "target": "zh-Hant", "glossary_id": created.json()["id"]}
    out = client.post("/v1/translate", json=body, headers=auth(MERCHANT_KEY)).json()["translations"][0]
    assert out["text"] == "雅诗兰黛小棕瓶和軟件" and out["missing"] == []
    other = client.post("/v1/translate", json=body, headers=auth(ADMIN_KEY))
    assert other.status_code == 200  # an admin may use any glossary
    unknown = client.post("/v1/translate", json={**body, "glossary_id": "nope"}, headers=auth(MERCHANT_KEY))
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "glossary_id"


@pytest.fixture(scope="module")
def model_client(tmp_path_factory):
    """A server whose translation_models is a tiny random opus-mt style Marian (zh-Hans -> en) on transformers."""
    import yaml

    from models import testing
    from tests.conftest import serving_client

    root = tmp_path_factory.mktemp("mt")
    spec = testing.build_tiny_opus_marian(root / "marian")
    registry = root / "models.yaml"
    registry.write_text(yaml.safe_dump({"models": [spec.model_dump(mode="json")]}))
    with serving_client(root / "var", models=registry, translation_models=[spec.name]) as test_client:
        yield test_client


def test_a_real_seq2seq_model_keeps_every_protected_term(model_client):
    """Random weights write nonsense and lose tags; every brand, price, URL and code still comes out, named as
    re-inserted where the model dropped it, and the answer names the model."""
    from tests.generation.test_translate_service import _listings

    listings = _listings()
    dnt = sorted({term for item in listings for term in item["keep"]})
    body = {"text": [item["text"] for item in listings], "source": "zh-Hans", "target": "en", "dnt": dnt}
    response = model_client.post("/v1/translate", json=body, headers=auth(MERCHANT_KEY))
    assert response.status_code == 200, response.text
    for out, terms in zip(response.json()["translations"], [item["keep"] for item in listings], strict=True):
        assert out["engine"] == "transformers" and out["model"] == "tiny-opus-marian"
        assert out["missing"] == [] and all(term in out["text"] for term in terms), out
    bridged = model_client.post("/v1/translate", json={"text": "這個軟體", "source": "zh-Hant", "target": "en"},
                                headers=auth(MERCHANT_KEY)).json()["translations"][0]  # fmt: skip
    assert bridged["engine"] == "opencc+transformers"
    lt = model_client.post(
        "/translate", json={"q": "雅诗兰黛", "source": "zh", "target": "en", "api_key": MERCHANT_KEY}
    )
    assert lt.status_code == 200 and isinstance(lt.json()["translatedText"], str)
    languages = {lang["code"]: lang["targets"] for lang in model_client.get("/languages").json()}
    assert "en" in languages["zh-Hans"] and "en" in languages["zh-Hant"] and languages["en"] == []

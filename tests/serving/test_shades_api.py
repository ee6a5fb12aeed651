"""`/v1/tryon/shades` over HTTP: merchants' own shades (JSON or a swatch photo), listed beside the read-only
built-in catalog, usable at once by the makeup endpoints for their owner only, isolated between keys (404), limits,
and 4xx envelopes naming the field."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import deltaE_ciede2000

from ar_tryon.shade_store import MAX_MERCHANT_SHADES
from ar_tryon.swatch import hex_to_lab
from tests.ar_tryon.swatch_render import COOL, PAPER, jpeg, render_swatch
from tests.conftest import ADMIN_KEY, MERCHANT_KEY, PLATFORM_KEY, auth
from tests.serving.test_contract import assert_envelope

OTHER_MERCHANT_KEY = "test-other-merchant-key-0123"
H, OTHER = auth(MERCHANT_KEY), auth(OTHER_MERCHANT_KEY)
CORAL = {"name": "Sunset Coral", "hex": "#e0604f", "kind": "lipstick", "finish": "satin"}


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """One moderation classifier for the module (each runtime's warm-up would train its own, ~seconds of CPU)."""
    return tmp_path_factory.mktemp("moderation") / "moderation-linear.pkl"


@pytest.fixture
def settings(tmp_path, classifier_file):
    from serving.settings import Settings

    keys = f"{MERCHANT_KEY}:merchant,{OTHER_MERCHANT_KEY}:merchant,{PLATFORM_KEY}:platform,{ADMIN_KEY}:admin"
    return Settings(
        data_dir=tmp_path / "var", api_keys=keys, studio=False, rate_limit_per_minute=0, classifier_file=classifier_file
    )


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def create(client, body=CORAL, headers=H) -> dict:
    response = client.post("/v1/tryon/shades", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_lifecycle(client):
    created = create(client)
    sid = created["id"]
    assert sid.startswith("ms_") and created["sku"] == sid
    assert created | {"created_at": None, "updated_at": None} == {
        "id": sid,
        "sku": sid,
        "name": "Sunset Coral",
        "hex": "#E0604F",
        "product": "lips",
        "kind": "lipstick",
        "finish": "satin",
        "source": "merchant",
        "created_at": None,
        "updated_at": None,
        "swatch": None,
    }
    listed = client.get("/v1/tryon/shades", headers=H).json()
    sources = {s["id"]: s["source"] for s in listed["shades"]}
    assert sources[sid] == "merchant" and sources["LIP-102"] == "builtin"
    assert listed["merchant_count"] == 1 and listed["merchant_limit"] == MAX_MERCHANT_SHADES
    assert client.get(f"/v1/tryon/shades/{sid}", headers=H).json() == created
    assert client.get("/v1/tryon/shades/LIP-102", headers=H).json()["source"] == "builtin"

    patched = client.patch(f"/v1/tryon/shades/{sid}", json={"name": "Dusk Coral", "kind": "blush"}, headers=H)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["name"], body["kind"], body["product"], body["hex"]) == ("Dusk Coral", "blush", "blush", "#E0604F")
    assert client.patch(f"/v1/tryon/shades/{sid}", json={}, headers=H).json()["name"] == "Dusk Coral"

    assert client.delete(f"/v1/tryon/shades/{sid}", headers=H).status_code == 204
    assert_envelope(client.get(f"/v1/tryon/shades/{sid}", headers=H), 404, "not_found", "shade_id")
    assert_envelope(client.delete(f"/v1/tryon/shades/{sid}", headers=H), 404, "not_found", "shade_id")
    assert client.get("/v1/tryon/shades", headers=H).json()["merchant_count"] == 0


def test_another_keys_shade_is_not_found_and_not_usable(client):
    sid = create(client)["id"]
    for response in (
        client.get(f"/v1/tryon/shades/{sid}", headers=OTHER),
        client.patch(f"/v1/tryon/shades/{sid}", json={"name": "Mine now"}, headers=OTHER),
        client.delete(f"/v1/tryon/shades/{sid}", headers=OTHER),
    ):
        assert_envelope(response, 404, "not_found", "shade_id")
    assert sid not in {s["id"] for s in client.get("/v1/tryon/shades", headers=OTHER).json()["shades"]}
    photo = png(data.astronaut())
    refused = client.post("/v1/tryon/makeup", files={"image": ("a.png", photo)}, data={"shade": [sid]}, headers=OTHER)
    assert sid in assert_envelope(refused, 422, "invalid_request", "shade")["message"]
    assert client.get(f"/v1/tryon/shades/{sid}", headers=H).json()["name"] == "Sunset Coral"


def test_builtin_catalog_is_read_only(client):
    for response in (
        client.patch("/v1/tryon/shades/LIP-102", json={"name": "Mine"}, headers=H),
        client.delete("/v1/tryon/shades/LIP-102", headers=H),
    ):
        err = assert_envelope(response, 403, "permission_error", "shade_id")
        assert "LIP-102" in err["message"] and "read-only" in err["message"]
    assert client.get("/v1/tryon/shades/LIP-102", headers=H).json()["name"] == "Classic Red"


def test_own_shade_works_at_once_in_makeup_and_frames(client):
    photo = png(data.astronaut())
    red = create(client, {"name": "Pure Red", "hex": "#D00000", "kind": "lipstick", "finish": "gloss"})
    blue = create(client, {"name": "Odd Blue", "hex": "#1030D0", "kind": "lipstick"})

    def lips(sid: str) -> np.ndarray:
        response = client.post(
            "/v1/tryon/makeup",
            files={"image": ("a.png", photo)},
            data={"shade": [sid], "intensity": "1", "output": "json"},
            headers=H,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["shades"][0]["id"] == sid and body["shades"][0]["source"] == "merchant"
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(body["image_base64"]))).convert("RGB"))

    as_red, as_blue = lips(red["id"]), lips(blue["id"])
    changed = (as_red.astype(int) - as_blue.astype(int)).any(axis=2)
    assert changed.sum() > 200  # the two own shades paint the lips differently
    region = changed[..., None]
    red_mean = (as_red * region).sum(axis=(0, 1)) / region.sum()
    blue_mean = (as_blue * region).sum(axis=(0, 1)) / region.sum()
    assert red_mean[0] > blue_mean[0] and blue_mean[2] > red_mean[2]

    frame = client.post(
        "/v1/tryon/frames",
        files={"frame": ("f.jpg", jpeg(data.astronaut()))},
        data={"session_id": "own-shade-stream", "shade": [red["id"], "BLS-201"], "output": "json"},
        headers=H,
    )
    assert frame.status_code == 200, frame.text
    assert [s["id"] for s in frame.json()["shades"]] == [red["id"], "BLS-201"]


def test_shade_from_swatch_photo(client):
    photo = jpeg(render_swatch("#A24E5D", PAPER, "gloss", COOL, seed=11))
    response = client.post(
        "/v1/tryon/shades",
        files={"photo": ("swatch.jpg", photo, "image/jpeg")},
        data={"name": "Rose Glaze", "kind": "lipstick"},
        headers=H,
    )
    assert response.status_code == 201, response.text
    shade = response.json()
    assert shade["source"] == "merchant" and shade["finish"] == "gloss" and shade["swatch"]["white_balanced"]
    assert deltaE_ciede2000(np.array(hex_to_lab("#A24E5D")), np.array(hex_to_lab(shade["hex"]))) <= 5
    assert shade["swatch"]["hex"] == shade["hex"] and 0 < shade["swatch"]["confidence"] <= 1
    # The given finish wins over the guess; the shade is listed and usable like any other.
    given = client.post(
        "/v1/tryon/shades",
        files={"photo": ("swatch.jpg", photo, "image/jpeg")},
        data={"name": "Rose Velvet", "kind": "blush", "finish": "matte", "background": "neutral"},
        headers=H,
    ).json()
    assert (given["finish"], given["swatch"]["finish"], given["product"]) == ("matte", "gloss", "blush")
    ids = {s["id"] for s in client.get("/v1/tryon/shades", headers=H).json()["shades"]}
    assert {shade["id"], given["id"]} <= ids
    # Measuring alone stores nothing.
    measured = client.post("/v1/tryon/swatch", files={"photo": ("s.jpg", photo)}, headers=H)
    assert measured.status_code == 200 and measured.json()["hex"] == shade["hex"]
    assert client.get("/v1/tryon/shades", headers=H).json()["merchant_count"] == 2


@pytest.mark.parametrize("path", ["/v1/tryon/shades", "/v1/tryon/swatch"])
def test_photo_without_a_swatch_is_422_naming_photo(client, path):
    response = client.post(
        path,
        files={"photo": ("a.png", png(data.astronaut()))},
        data={"name": "Nothing", "kind": "blush"},
        headers=H,
    )
    assert "no swatch found" in assert_envelope(response, 422, "invalid_request", "photo")["message"]
    assert client.get("/v1/tryon/shades", headers=H).json()["merchant_count"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**CORAL, "hex": "red"}, "hex"),
        ({**CORAL, "kind": "eyeliner"}, "kind"),
        ({**CORAL, "finish": "velvet"}, "finish"),
        ({**CORAL, "name": "   "}, "name"),
        ({**CORAL, "name": "a\nb"}, "name"),
        ({"hex": "#E0604F", "kind": "blush"}, "name"),
        ({**CORAL, "colour": "#E0604F"}, "colour"),
    ],
)
def test_bad_json_names_the_field(client, body, param):
    assert_envelope(client.post("/v1/tryon/shades", json=body, headers=H), 422, "invalid_request", param)


def test_bad_bodies(client):
    assert_envelope(
        client.post("/v1/tryon/shades", content=b"{not json", headers={**H, "content-type": "application/json"}),
        400,
        "invalid_request",
        "body",
    )
    assert_envelope(
        client.post("/v1/tryon/shades", content=b"x", headers={**H, "content-type": "text/plain"}),
        415,
        "unsupported_media_type",
        "body",
    )
    form = client.post("/v1/tryon/shades", data={"name": "No photo", "kind": "blush"}, headers=H)
    assert_envelope(form, 422, "invalid_request", "photo")
    photo = jpeg(render_swatch("#A24E5D", PAPER, seed=1))
    bad_kind = client.post(
        "/v1/tryon/shades", files={"photo": ("s.jpg", photo)}, data={"name": "X", "kind": "mascara"}, headers=H
    )
    assert_envelope(bad_kind, 422, "invalid_request", "kind")
    sid = create(client)["id"]
    assert_envelope(
        client.patch(f"/v1/tryon/shades/{sid}", json={"hex": "#12345"}, headers=H), 422, "invalid_request", "hex"
    )
    assert_envelope(client.get("/v1/tryon/shades/bad%20id", headers=H), 422, "invalid_request", "shade_id")


def test_keys_and_scopes(client):
    assert_envelope(client.get("/v1/tryon/shades"), 401, "authentication_error")
    assert_envelope(client.post("/v1/tryon/shades", json=CORAL, headers=auth(PLATFORM_KEY)), 403, "permission_error")
    # An admin key has its own shades, like any key.
    admin = create(client, headers=auth(ADMIN_KEY))
    assert_envelope(client.get(f"/v1/tryon/shades/{admin['id']}", headers=H), 404, "not_found", "shade_id")


def test_limit_per_key_is_a_409(client, monkeypatch):
    import ar_tryon.shade_store as store

    monkeypatch.setattr(store, "MAX_MERCHANT_SHADES", 3)
    for _ in range(3):
        create(client)
    assert (
        "delete one first"
        in assert_envelope(client.post("/v1/tryon/shades", json=CORAL, headers=H), 409, "conflict")["message"]
    )
    create(client, headers=OTHER)  # another key's count is its own


def test_shades_survive_a_new_runtime_on_the_same_database(tmp_path, classifier_file):
    from tests.conftest import serving_client

    with serving_client(tmp_path / "var", classifier_file=classifier_file) as first:
        sid = create(first)["id"]
    with serving_client(tmp_path / "var", classifier_file=classifier_file) as second:
        assert second.get(f"/v1/tryon/shades/{sid}", headers=H).json()["name"] == "Sunset Coral"

"""`notestudio tryon makeup|garment|shades|shade-from-swatch`: AR try-on on a photo file, the shade catalog, and a
shade measured from a swatch photo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import UsageError, exit_on_errors

app = typer.Typer(help="AR try-on on photos: makeup shades and garments (mediapipe landmarks).", no_args_is_help=True)
console = Console()

ImageIn = Annotated[Path, typer.Option("--image", "-i", help="Input photo (PNG, JPEG, WebP).")]
ImageOut = Annotated[Path, typer.Option("--out", "-o", help="Output image (.png or .jpg).")]
BeforeAfter = Annotated[bool, typer.Option("--before-after", help="Write input and result side by side.")]
Landmarks = Annotated[Path | None, typer.Option("--landmarks", help="Also write landmarks as JSON here.")]


def _read(path: Path, option: str) -> bytes:
    if not path.is_file():
        raise UsageError(f"{option}: no such file: {path}")
    return path.read_bytes()


def _write(path: Path, image) -> None:
    from common.images import encode_image

    fmt = "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_image(image, fmt))


@app.command("makeup")
@exit_on_errors
def makeup(
    image: ImageIn,
    out: ImageOut,
    shade: Annotated[list[str], typer.Option("--shade", "-s", help="Shade SKU; repeat for several products.")],
    intensity: Annotated[float, typer.Option(help="Strength 0..1.")] = 0.8,
    all_faces: Annotated[bool, typer.Option("--all-faces", help="Every face, not only the largest.")] = False,
    before_after: BeforeAfter = False,
    landmarks: Landmarks = None,
) -> None:
    """Apply shades (see `notestudio tryon shades`) to the face in a photo."""
    from cli.settings import cli_services

    services = cli_services()
    service = services.tryon
    try:
        look = service.look(shade, intensity, "--shade")
        decoded = service.decode(_read(image, "--image"), "--image")
        result = service.makeup_photo(decoded, look, all_faces=all_faces)
    finally:
        services.close()
    _write(out, result.side_by_side() if before_after else decoded.with_rgb(result.image))
    if landmarks:
        landmarks.write_text(json.dumps([{"box": f.box, "landmarks": f.to_list()} for f in result.faces]))
    typer.echo(f"{out}: {len(result.faces)} face(s), shades {', '.join(i.shade.sku for i in look.items)}")


@app.command("garment")
@exit_on_errors
def garment(
    image: ImageIn,
    out: ImageOut,
    garment: Annotated[Path, typer.Option("--garment", "-g", help="Garment: PNG with alpha or on a plain background.")],
    category: Annotated[str, typer.Option("--category", "-c", help="upper, lower or dress.")] = "upper",
    before_after: BeforeAfter = False,
    landmarks: Landmarks = None,
) -> None:
    """Place a garment on the person in a photo, from pose landmarks."""
    from cli.settings import cli_services

    services = cli_services()
    service = services.tryon
    try:
        decoded = service.decode(_read(image, "--image"), "--image")
        piece = service.decode(_read(garment, "--garment"), "--garment")
        result = service.garment_photo(decoded, piece, category)
    finally:
        services.close()
    _write(out, result.side_by_side() if before_after else decoded.with_rgb(result.image))
    if landmarks:
        landmarks.write_text(json.dumps({"pose": result.pose.to_list()}))
    typer.echo(f"{out}: {category} garment placed")


@app.command("shades")
@exit_on_errors
def shades(
    product: Annotated[
        str | None, typer.Option(help="Only this product: lips, blush, eyeshadow, eyeliner, brows.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the shade catalog (illustrative house shades unless you configure your own)."""
    from ar_tryon.shades import Product
    from cli.settings import cli_services

    catalog = cli_services().tryon.catalog
    items = list(catalog)
    if product:
        try:
            items = catalog.by_product(Product(product))
        except ValueError:
            raise UsageError(f"--product: expected one of {[p.value for p in Product]}, got {product!r}") from None
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in items], indent=2))
        return
    table = Table(title=f"shades in {catalog.source}")
    for column in ("sku", "name", "product", "finish", "hex"):
        table.add_column(column)
    for s in items:
        table.add_row(s.sku, s.name, s.product.value, s.finish.value, f"[on {s.hex}]    [/] {s.hex}")
    console.print(table)


@app.command("shade-from-swatch")
@exit_on_errors
def shade_from_swatch(
    photo: Annotated[Path, typer.Option("--photo", "-p", help="Photo of a lipstick / blush / eyeshadow swatch.")],
    background: Annotated[
        str, typer.Option(help="auto (from the photo's border), neutral (paper: white balance corrected) or skin.")
    ] = "auto",
    name: Annotated[str | None, typer.Option(help="Also print a POST /v1/tryon/shades body with this name.")] = None,
    kind: Annotated[str, typer.Option(help="lipstick, blush or eyeshadow (with --name).")] = "lipstick",
) -> None:
    """Measure a swatch photo: colour (hex, CIELAB), finish guess and confidence, as JSON."""
    from ar_tryon.schema import MerchantShadeIn, SwatchRequest
    from cli.settings import cli_services

    if background not in ("auto", "neutral", "skin"):
        raise UsageError(f"--background: expected auto, neutral or skin, got {background!r}")
    services = cli_services()
    try:
        swatch = services.tryon.swatch(_read(photo, "--photo"), SwatchRequest(background=background), "--photo")
    finally:
        services.close()
    out = swatch.model_dump(mode="json")
    if name is not None:
        if kind not in ("lipstick", "blush", "eyeshadow"):
            raise UsageError(f"--kind: expected lipstick, blush or eyeshadow, got {kind!r}")
        shade = MerchantShadeIn(name=name, hex=swatch.hex, kind=kind, finish=swatch.finish)  # type: ignore[arg-type]
        out = {"swatch": out, "shade": shade.model_dump(mode="json")}
    typer.echo(json.dumps(out, indent=2, ensure_ascii=False))

"""`notestudio image cover|cutout|covers|templates`: covers and cut-outs from product photos."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cli.copy_cmd import read_products
from cli.errors import UsageError, exit_on_errors

app = typer.Typer(help="Covers and product cut-outs (the composer: no weights needed).", no_args_is_help=True)
console = Console(stderr=True)

Photos = Annotated[list[Path], typer.Option("--photo", "-p", help="Product photo; repeat for 2-4 (collages).")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output file (.png or .jpg).")]
_COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())


def _read(path: Path, option: str) -> bytes:
    if not path.is_file():
        raise UsageError(f"{option}: no such file: {path}")
    return path.read_bytes()


def _format(path: Path) -> str:
    return "jpeg" if path.suffix.lower() in (".jpg", ".jpeg") else "png"


@app.command("cover")
@exit_on_errors
def cover(
    photo: Photos,
    title: Annotated[str, typer.Option("--title", "-t", help="The note's title (Chinese welcome).")],
    out: Out,
    subtitle: Annotated[str, typer.Option(help="A second line.")] = "",
    point: Annotated[list[str] | None, typer.Option("--point", help="A selling point; repeat (up to 4).")] = None,
    price: Annotated[float | None, typer.Option(help="Price in CNY (price templates).")] = None,
    badge: Annotated[str, typer.Option(help="A sticker word: 新品, 限时, 必入.")] = "",
    preset: Annotated[str, typer.Option(help="3:4 (1242x1660), 1:1 or 9:16.")] = "3:4",
    template: Annotated[str | None, typer.Option(help="A template name (see `image templates`).")] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same cover.")] = None,
) -> None:
    """Make one cover; prints a JSON line with the engine, template and seed that made it."""
    from cli.settings import cli_services
    from generation.image.schema import CoverSpec

    spec = CoverSpec(
        title=title, subtitle=subtitle, points=point or [], price=price, badge=badge, preset=preset,
        template=template, seed=seed,
    )  # fmt: skip
    rendered = cli_services().images.cover([_read(p, "--photo") for p in photo], spec, _format(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(rendered.data)
    typer.echo(json.dumps({"out": str(out), **rendered.info.model_dump()}, ensure_ascii=False))


@app.command("cutout")
@exit_on_errors
def cutout(
    photo: Annotated[Path, typer.Option("--photo", "-p", help="Product photo.")],
    out: Out,
    mask: Annotated[Path | None, typer.Option(help="Optional mask (white = product).")] = None,
) -> None:
    """Cut the product out of its photo: an RGBA PNG."""
    from cli.settings import cli_services

    if out.suffix.lower() != ".png":
        raise UsageError(f"--out: a cut-out keeps its transparency, so it is a PNG; got {out.name}")
    data = cli_services().images.cutout(_read(photo, "--photo"), _read(mask, "--mask") if mask else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(str(out))


@app.command("covers")
@exit_on_errors
def covers(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL: {title, photos: [paths], ...} per line.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Directory for cover-NNNN files.")],
    jpeg: Annotated[bool, typer.Option("--jpeg/--png", help="JPEG (what feeds serve) or PNG.")] = True,
) -> None:
    """A cover for every product of a JSONL file, with a progress bar; one JSON result line per product on
    stdout (its info and file, or its error). Photo paths are relative to the input file."""
    from cli.settings import cli_services

    records = read_products(input)
    items = [_item(record, input.parent) for record in records]
    out_dir.mkdir(parents=True, exist_ok=True)
    images = cli_services().images
    with Progress(*_COLUMNS, console=console) as progress:
        task = progress.add_task(f"covers ({images.engine_name})", total=len(items))
        result = images.batch(
            items,
            lambda name, data: (out_dir / name).write_bytes(data),
            "jpeg" if jpeg else "png",
            on_progress=lambda done, total: progress.update(task, completed=done),
        )
    for entry in result.results:
        sys.stdout.write(json.dumps(entry, ensure_ascii=False) + "\n")
    console.print(f"{result.covers} covers in {out_dir}, {result.failed} failed")
    if result.failed == len(items):
        raise typer.Exit(2)


def _item(record: object, base: Path) -> object:
    """A JSONL product -> a batch item: the cover fields as `spec`, photo files read as base64."""
    if not isinstance(record, dict):
        return record  # the service names the bad line
    record = dict(record)
    paths = record.pop("photos", [])
    photos = []
    for value in paths if isinstance(paths, list) else [paths]:
        path = base / str(value)
        photos.append(base64.b64encode(path.read_bytes()).decode() if path.is_file() else str(value))
    item_id = record.pop("id", None)
    return {"spec": record, "photos": photos, **({"id": item_id} if item_id is not None else {})}


@app.command("scene")
@exit_on_errors
def scene(
    mode: Annotated[str, typer.Option(help="text2img, restyle, background, outpaint or variations.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Directory for scene-NN.png (and covers).")],
    prompt: Annotated[str, typer.Option(help="What the scene should look like.")] = "",
    photo: Annotated[Path | None, typer.Option("--photo", "-p", help="Product photo (all modes but text2img).")] = None,
    preset: Annotated[str, typer.Option(help="3:4, 1:1 or 9:16.")] = "3:4",
    n: Annotated[int, typer.Option("-n", min=1, max=4, help="Images; image i uses seed + i.")] = 1,
    steps: Annotated[int, typer.Option(min=1, max=150)] = 30,
    seed: Annotated[int | None, typer.Option()] = None,
    lora: Annotated[str | None, typer.Option(help="A LoRA adapter name from the model's lora_dir.")] = None,
    title: Annotated[str | None, typer.Option(help="Also lay each image out as a cover with this title.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Registry text-to-image model (default NOTESTUDIO_IMAGE_MODEL).")
    ] = None,
) -> None:
    """Paint with the configured diffusion model (weights needed), with a progress bar over the steps."""
    from cli.settings import cli_services
    from generation.image.schema import SceneRequest

    request = SceneRequest(
        mode=mode, prompt=prompt, preset=preset, n=n, steps=steps, seed=seed, lora=lora,
        photo=base64.b64encode(_read(photo, "--photo")).decode() if photo else None,
        cover={"title": title} if title else None,
    )  # fmt: skip
    scenes = cli_services(image_model=model).images.scenes()
    out_dir.mkdir(parents=True, exist_ok=True)
    with Progress(*_COLUMNS, console=console) as progress:
        task = progress.add_task(f"{mode} (loading the model)", total=steps * n)
        result = scenes(
            request,
            lambda name, data: (out_dir / name).write_bytes(data),
            on_step=lambda step, total: progress.update(task, advance=1, description=f"{mode} step {step}/{total}"),
        )
    typer.echo(json.dumps(result, ensure_ascii=False))


@app.command("templates")
@exit_on_errors
def templates(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """The cover templates."""
    from cli.settings import cli_services

    items = cli_services().images.templates()
    if as_json:
        typer.echo(json.dumps([t.model_dump() for t in items], ensure_ascii=False, indent=2))
        return
    table = Table(title="cover templates")
    for column in ("name", "display name", "photos", "description"):
        table.add_column(column)
    for t in items:
        table.add_row(t.name, t.display_name, f"{t.min_photos}-{t.max_photos}", t.description)
    Console().print(table)

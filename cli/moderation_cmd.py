"""`notestudio moderate` and `notestudio moderation train|eval`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from cli.errors import UsageError, exit_on_errors

app = typer.Typer(help="Train and evaluate the moderation classifier.", no_args_is_help=True)
console = Console(stderr=True)

DEFAULT_MODEL = Path("var/models/moderation-linear.pkl")
ModelOption = Annotated[Path, typer.Option("--model", help="Linear classifier file (trained on first use).")]


def _listing(record: object, line: int):
    from serving.errors import ApiError
    from serving.handlers.moderation import listing_from_wire

    try:
        return listing_from_wire(_read_local_images(record), f"line {line}")
    except ApiError as exc:
        raise UsageError(f"{exc.param}: {exc.message}") from None


def _read_local_images(record: object) -> object:
    """The CLI may name image files; they are read and sent on as base64 like over HTTP."""
    import base64

    if isinstance(record, dict) and isinstance(record.get("images"), list):
        images = []
        for image in record["images"]:
            path = Path(image) if isinstance(image, str) and not image.startswith(("data:", "http")) else None
            if path is not None and path.is_file():
                image = base64.b64encode(path.read_bytes()).decode()
            images.append(image)
        record = {**record, "images": images}
    return record


@exit_on_errors
def moderate(
    input: Annotated[Path, typer.Option("--input", "-i", help="JSONL of listings (title, body, price, ...).")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL results (default: stdout).")] = None,
    model: ModelOption = DEFAULT_MODEL,
    batch_size: Annotated[int, typer.Option(min=1, max=4096)] = 256,
) -> None:
    """Moderate every line of INPUT; one result per line, in order. A bad line gets an `error` result."""
    from moderation import Moderator

    if not input.is_file():
        raise UsageError(f"input file {input} does not exist")
    moderator = Moderator.from_files(classifier_path=model)
    lines = input.read_text(encoding="utf-8").splitlines()
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with Progress(console=console, transient=True, disable=output is None) as progress:
            task = progress.add_task("moderating", total=len(lines))
            for start in range(0, len(lines), batch_size):
                chunk = lines[start : start + batch_size]
                slots, listings = [], []
                for offset, line in enumerate(chunk, start + 1):
                    try:
                        listing = _listing(json.loads(line), offset)
                    except (json.JSONDecodeError, UsageError) as exc:
                        slots.append(
                            {
                                "id": None,
                                "error": {"type": "invalid_request", "message": str(exc), "param": f"line {offset}"},
                            }
                        )
                        continue
                    slots.append(None)
                    listings.append(listing)
                results = iter(moderator.moderate_batch(listings))
                for slot in slots:
                    record = slot if slot is not None else next(results).to_dict()
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                progress.advance(task, len(chunk))
    finally:
        if output:
            sink.close()


@app.command("train")
@exit_on_errors
def train(
    output: ModelOption = DEFAULT_MODEL,
    engine: Annotated[
        str, typer.Option(help="linear (CPU, default) or transformer (fine-tune a checkpoint).")
    ] = "linear",
    base: Annotated[Path | None, typer.Option(help="transformer: checkpoint dir to fine-tune.")] = None,
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
) -> None:
    """Train on the train split of moderation/data/listings.jsonl."""
    from moderation.training import fine_tune_transformer, train_linear

    if engine == "linear":
        classifier = train_linear()
        classifier.save(output)
        console.print(f"saved {classifier.version} to {output}")
    elif engine == "transformer":
        if base is None or not base.is_dir():
            raise UsageError("--engine transformer needs --base DIR (a sequence-classification checkpoint)")
        with Progress(console=console) as progress:
            task = progress.add_task("fine-tuning", total=None)
            fine_tune_transformer(
                base, output, epochs=epochs, progress=lambda s, t: progress.update(task, completed=s, total=t)
            )
        console.print(f"saved a fine-tuned classifier to {output}; add it to models.yaml (task: classification)")
    else:
        raise UsageError(f"unknown engine {engine!r}; use linear or transformer")


@app.command("eval")
@exit_on_errors
def evaluate(model: ModelOption = DEFAULT_MODEL, split: Annotated[str, typer.Option()] = "test") -> None:
    """Per-label precision / recall / F1, clean-block rate and a confusion table on the held-out split."""
    from moderation import Moderator
    from moderation.dataset import load_dataset
    from moderation.training import evaluate as run_eval

    moderator = Moderator.from_files(classifier_path=model)
    rows = load_dataset(split=split)
    if not rows:
        raise UsageError(f"the dataset has no {split!r} split")
    report = run_eval(moderator, rows)
    typer.echo(f"{len(rows)} {split} listings, engine {moderator.engine} ({moderator.versions})")
    typer.echo(report.format())

"""`notestudio moderate` and `notestudio moderation train|eval`."""

from __future__ import annotations

import asyncio
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

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="Linear classifier file (default: <data dir>/models/moderation-linear.pkl)."),
]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: var).")]


def _classifier_path(model: Path | None, data_dir: Path | None) -> Path:
    from serving.settings import Settings

    overrides = {"data_dir": data_dir, "classifier_file": model}
    return Settings(**{k: v for k, v in overrides.items() if v is not None}).classifier_path


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
    model: ModelOption = None,
    data_dir: DataDirOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096)] = 256,
) -> None:
    """Moderate every line of INPUT; one result per line, in order. A bad line gets an `error` result.

    Decisions are recorded in the audit log of the data directory's database, as over HTTP.
    """
    from cli.settings import cli_services

    if not input.is_file():
        raise UsageError(f"input file {input} does not exist")
    services = cli_services(data_dir=data_dir, classifier_file=model)
    service = services.moderation
    lines = input.read_text(encoding="utf-8").splitlines()
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with Progress(console=console, transient=True, disable=output is None) as progress:
            task = progress.add_task("moderating", total=len(lines))
            for start in range(0, len(lines), batch_size):
                records: list[object] = []
                for line in lines[start : start + batch_size]:
                    try:
                        records.append(_read_local_images(json.loads(line)))
                    except json.JSONDecodeError as exc:
                        records.append(_NotJson(exc.msg))
                slots = asyncio.run(service.moderate_records(records, "cli", param="line"))
                for offset, slot in enumerate(slots, start + 1):
                    record = slot.to_dict() if hasattr(slot, "to_dict") else slot
                    if "error" in record:  # lines are numbered from 1, like an editor shows them
                        error, where = record["error"], f"line.{offset - start - 1}"
                        source = records[offset - start - 1]
                        if isinstance(source, _NotJson):
                            error["message"] = f"{where}: not JSON: {source}"
                        for key in ("param", "message"):
                            error[key] = (error[key] or where).replace(where, f"line {offset}", 1)
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
                progress.advance(task, len(records))
    finally:
        if output:
            sink.close()
        services.close()


class _NotJson(str):
    """A line that is not JSON, kept in its place so results stay aligned with input lines."""


@app.command("train")
@exit_on_errors
def train(
    output: ModelOption = None,
    data_dir: DataDirOption = None,
    engine: Annotated[
        str, typer.Option(help="linear (CPU, default) or transformer (fine-tune a checkpoint).")
    ] = "linear",
    base: Annotated[Path | None, typer.Option(help="transformer: checkpoint dir to fine-tune.")] = None,
    epochs: Annotated[int, typer.Option(min=1, max=50)] = 3,
) -> None:
    """Train on the train split of moderation/data/listings.jsonl."""
    from moderation.training import fine_tune_transformer, train_linear, training_recipe

    output = _classifier_path(output, data_dir)
    if engine == "linear":
        classifier = train_linear()
        classifier.recipe = training_recipe()  # the service keeps a model trained from what it ships
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
def evaluate(
    model: ModelOption = None, data_dir: DataDirOption = None, split: Annotated[str, typer.Option()] = "test"
) -> None:
    """Per-label precision / recall / F1, clean-block rate and a confusion table on the held-out split."""
    from moderation import Moderator
    from moderation.dataset import load_dataset
    from moderation.training import evaluate as run_eval

    moderator = Moderator.from_files(classifier_path=_classifier_path(model, data_dir))
    rows = load_dataset(split=split)
    if not rows:
        raise UsageError(f"the dataset has no {split!r} split")
    report = run_eval(moderator, rows)
    typer.echo(f"{len(rows)} {split} listings, engine {moderator.engine} ({moderator.versions})")
    typer.echo(report.format())

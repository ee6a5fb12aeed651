"""`notestudio copy`: note copy for one product (JSON) or many (JSON list / JSONL), with a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.errors import UsageError, exit_on_errors

__all__ = ["copy", "read_products"]

console = Console(stderr=True)
DEFAULT_CLASSIFIER = Path("var/models/moderation-linear.pkl")


def read_products(path: Path) -> list[dict[str, Any]]:
    """A JSON object, a JSON list of objects, or JSONL (one object per line).

    Raises:
        UsageError: the file is missing or a line is not JSON (naming the line).
    """
    if not path.is_file():
        raise UsageError(f"product file {path} does not exist")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise UsageError(f"product file {path} is empty")
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} line {number} is not JSON: {exc.msg}") from None
    return records


@exit_on_errors
def copy(
    product: Annotated[Path, typer.Option("--product", "-p", help="Product JSON, JSON list or JSONL file.")],
    n: Annotated[
        int | None, typer.Option("-n", min=1, max=8, help="Variants per product (overrides the file).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL drafts (default: stdout).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Registry text model; default: the template engine.")
    ] = None,
    models: Annotated[Path | None, typer.Option("--models", help="Model registry YAML (default: embedded).")] = None,
    moderation_model: Annotated[
        Path, typer.Option("--moderation-model", help="Linear moderation classifier (trained on first use).")
    ] = DEFAULT_CLASSIFIER,
) -> None:
    """Write notes for every product: one JSON line per product with its drafts (or its error), in order.

    Every draft has been through the compliance pass; `compliance.status` says clean, rewritten or flagged.
    """
    from generation.copy.compliance import CompliancePass, shared_moderator
    from generation.copy.pipeline import CopyPipeline
    from generation.copy.request import CopyInputError, NoteRequest

    records = read_products(product)
    engine = None
    if model:
        from models import ModelRegistry, load_engine

        engine = load_engine(ModelRegistry.from_yaml(models).get(model))
    pipeline = CopyPipeline(engine, CompliancePass(shared_moderator(moderation_model)))
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    flagged = failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=output is None) as progress:
            task = progress.add_task(f"notes ({pipeline.engine_name})", total=len(records))
            for index, record in enumerate(records):
                line: dict[str, Any] = {"index": index}
                try:
                    if n is not None and isinstance(record, dict):
                        record = {**record, "n": n}
                    drafts = pipeline(NoteRequest.from_dict(record))
                    line["drafts"] = [d.to_dict() for d in drafts]
                    flagged += sum(d.compliance.status == "flagged" for d in drafts)
                except CopyInputError as exc:
                    failed += 1
                    line["error"] = {"type": "invalid_request", "message": str(exc), "param": exc.param}
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                sink.flush()
                progress.advance(task)
    finally:
        if output:
            sink.close()
    console.print(
        f"{len(records)} products, {failed} invalid, {flagged} flagged drafts "
        f"(engine {pipeline.engine_name}, model {pipeline.model_name})"
    )
    if failed == len(records):
        raise typer.Exit(2)

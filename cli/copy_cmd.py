"""`notestudio copy`: note copy for one product (JSON) or many (JSON list / JSONL), with a progress bar."""

from __future__ import annotations

import asyncio
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
_CHUNK = 32  # products per service call: the progress bar moves, LLM engines still batch


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
        str | None,
        typer.Option("--model", "-m", help="Registry text model (default: NOTESTUDIO_COPY_MODEL, else templates)."),
    ] = None,
    models: Annotated[Path | None, typer.Option("--models", help="Model registry YAML (default: embedded).")] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where the moderation classifier lives (default: var).")
    ] = None,
) -> None:
    """Write notes for every product: one JSON line per product with its drafts (or its error), in order.

    Every draft has been through the compliance pass; `compliance.status` says clean, rewritten or flagged.
    """
    from cli.settings import cli_services

    records = read_products(product)
    services = cli_services(copy_model=model, models=models, data_dir=data_dir)
    service = services.copy
    sink = output.open("w", encoding="utf-8") if output else sys.stdout
    flagged = failed = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=output is None) as progress:
            task = progress.add_task(f"notes ({service.engine_name})", total=len(records))
            for start in range(0, len(records), _CHUNK):
                result = asyncio.run(service.batch(records[start : start + _CHUNK], n))
                for item in result.results:
                    line = item.model_dump(mode="json", exclude_none=True)
                    line["index"] = start + item.index
                    if item.error:  # the param names the field of this product, not of the chunk
                        line["error"]["param"] = _local_param(item.error.get("param"))
                    sink.write(json.dumps(line, ensure_ascii=False) + "\n")
                sink.flush()
                failed += result.failed
                flagged += result.flagged_drafts
                progress.advance(task, len(result.results))
    finally:
        if output:
            sink.close()
        services.close()
    console.print(
        f"{len(records)} products, {failed} invalid, {flagged} flagged drafts "
        f"(engine {service.engine_name}, model {service.model_name})"
    )
    if failed == len(records):
        raise typer.Exit(2)


def _local_param(param: str | None) -> str | None:
    """`products.7.selling_points.0` -> `selling_points.0`: the CLI reports fields of the line itself."""
    if not param or not param.startswith("products."):
        return param
    parts = param.split(".", 2)
    return parts[2] if len(parts) == 3 else "product"

"""`notestudio models list|check|convert`: what is configured, what loads, what is missing and how to add it, and
CTranslate2 conversions of translation models."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cli.errors import exit_on_errors

app = typer.Typer(
    help="Inspect the model registry (NOTESTUDIO_MODELS or the embedded models.yaml).", no_args_is_help=True
)
console = Console()

RegistryOption = Annotated[
    Path | None,
    typer.Option("--registry", help="Registry YAML (default: NOTESTUDIO_MODELS or the embedded one)."),
]


def _registry(path: Path | None):
    from models.registry import ModelRegistry

    return ModelRegistry.from_yaml(path)


@app.command("list")
@exit_on_errors
def list_models(
    registry: RegistryOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List configured models (no weights are read)."""
    reg = _registry(registry)
    if as_json:
        typer.echo(json.dumps([spec.model_dump(mode="json") for spec in reg], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"models in {reg.path}")
    for column in ("name", "task", "engine", "source", "dtype", "device", "licence"):
        table.add_column(column)
    for spec in reg:
        table.add_row(spec.name, spec.task.value, spec.engine.value, spec.source, spec.dtype, spec.device, spec.licence)
    console.print(table)


@app.command("check")
@exit_on_errors
def check_models(
    names: Annotated[list[str] | None, typer.Argument(help="Models to check (default: all).")] = None,
    registry: RegistryOption = None,
    load: Annotated[bool, typer.Option("--load", help="Also load each engine (reads the weights; slow).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Check that weights are on disk (and load with --load). Exit code 2 when any model is not usable."""
    from models.check import check_spec

    reg = _registry(registry)
    specs = [reg.get(name) for name in names] if names else list(reg)
    statuses = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("checking models", total=len(specs))
        for spec in specs:
            progress.update(task, description=f"checking {spec.name}")
            statuses.append(check_spec(spec, load=load))
            progress.advance(task)
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in statuses], ensure_ascii=False, indent=2))
    else:
        table = Table(title="model check" + (" (loaded)" if load else " (weights located; --load to load)"))
        for column in ("name", "status", "found in"):
            table.add_column(column, overflow="fold")
        for s in statuses:
            status = "[green]ok[/]" if s.ok else "[red]missing[/]"
            table.add_row(s.name, status, f"{s.origin}: {s.path}" if s.path else "")
        console.print(table)
        for s in statuses:
            if s.problem:
                console.print(f"[red]-[/] {s.problem}", soft_wrap=True)
    if not all(s.ok for s in statuses):
        raise typer.Exit(2)


class Quantization(StrEnum):
    """Weight types `models convert` offers (CPU: int8 is the fast one)."""

    INT8 = "int8"
    INT8_FLOAT32 = "int8_float32"
    FLOAT32 = "float32"


@app.command("convert")
@exit_on_errors
def convert_model(
    name: Annotated[str, typer.Argument(help="A seq2seq model on the transformers engine (see `models list`).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the CTranslate2 model into.")],
    quantization: Annotated[
        Quantization, typer.Option("--quantization", help="Weight type stored; also the new entry's compute_type.")
    ] = Quantization.INT8,
    force: Annotated[bool, typer.Option("--force", help="Replace --out when it exists.")] = False,
    registry: RegistryOption = None,
) -> None:
    """Convert a translation model to CTranslate2 (offline) and print the registry entry to add."""
    import yaml

    from models.convert import convert_to_ctranslate2

    reg = _registry(registry)
    spec = reg.get(name)
    with Console(stderr=True).status(f"converting {name} to CTranslate2 ({quantization.value})"):
        converted = convert_to_ctranslate2(spec, out, quantization=quantization.value, force=force)
    entry = converted.model_dump(mode="json", exclude_defaults=True)
    typer.echo(f"# converted to {converted.source}; add this entry under `models:` in {reg.path}")
    typer.echo(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True).rstrip())

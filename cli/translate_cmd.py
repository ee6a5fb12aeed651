"""`notestudio translate`: texts, a note, or a JSONL of notes / texts into another language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from cli.errors import UsageError, exit_on_errors

console = Console(stderr=True)


def _terms(glossary: Path | None, target: str, languages: Any) -> list:
    from generation.translate.glossary import read_glossary
    from generation.translate.masking import Term

    if glossary is None:
        return []
    parsed = read_glossary(glossary)
    wanted = languages.code(target, "--to")
    return [Term(t.source, t.target, t.case_sensitive, t.kind) for t in parsed.terms_for(wanted)]


def _read_json(path: Path, option: str) -> Any:
    if not path.is_file():
        raise UsageError(f"{option}: no such file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{option}: not JSON ({exc})") from None


@exit_on_errors
def translate(
    to: Annotated[str, typer.Option("--to", "-t", help="Target language (en, zh-Hans, zh-Hant, ja, ...).")],
    text: Annotated[list[str] | None, typer.Option("--text", help="A text; repeat for several.")] = None,
    note: Annotated[Path | None, typer.Option(help="A note draft (JSON, e.g. from `notestudio copy`).")] = None,
    input: Annotated[  # noqa: A002 - the option's name
        Path | None, typer.Option("--input", "-i", help='JSONL: a note or {"text": ...} per line.')
    ] = None,
    source: Annotated[str, typer.Option("--from", "-f", help="Source language, or auto.")] = "auto",
    glossary: Annotated[Path | None, typer.Option(help="Glossary file (CSV, TSV or JSON).")] = None,
    variant: Annotated[str | None, typer.Option(help="tw or hk: Traditional Chinese of Taiwan / Hong Kong.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write JSONL here instead of stdout.")] = None,
) -> None:
    """Translate texts, a note or a JSONL file; one JSON result per input on stdout (engine and model named)."""
    from cli.settings import cli_services
    from common.errors import InputError

    given = [x for x in (text, note, input) if x]
    if len(given) != 1:
        raise UsageError("give exactly one of --text, --note or --input")
    if variant not in (None, "tw", "hk"):
        raise UsageError(f"--variant: tw or hk, got {variant!r}")
    service = cli_services().translation
    terms = _terms(glossary, to, service.languages)
    results: list[dict[str, Any]] = []
    if text:
        results = [o.model_dump() for o in service.translate_texts(text, source, to, terms, variant)]
    elif note is not None:
        draft = _read_json(note, "--note")
        if isinstance(draft, dict) and isinstance(draft.get("drafts"), list):
            draft = draft["drafts"][0]
        results = [service.translate_note(draft, source, to, terms, variant).model_dump()]
    else:
        assert input is not None
        if not input.is_file():
            raise UsageError(f"--input: no such file: {input}")
        lines = [line for line in input.read_text(encoding="utf-8").splitlines() if line.strip()]
        columns = (TextColumn("translating"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("", total=len(lines))
            for number, line in enumerate(lines, start=1):
                try:
                    item = json.loads(line)
                    if isinstance(item, dict) and "text" in item:
                        made = service.translate_texts([str(item["text"])], source, to, terms, variant)[0].model_dump()
                    elif isinstance(item, dict):
                        made = service.translate_note(item, source, to, terms, variant).model_dump()
                    else:
                        raise ValueError("expected a JSON object")
                    results.append({"line": number, **made})
                except InputError as exc:  # one bad line fails alone; an unserved pair stops the run (exit 2)
                    results.append({"line": number, "error": exc.to_dict()})
                except ValueError as exc:  # not JSON, not an object
                    results.append({"line": number, "error": {"message": f"line {number}: {exc}"}})
                progress.update(task, completed=number)
    rendered = "\n".join(json.dumps(r, ensure_ascii=False) for r in results)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered + "\n", encoding="utf-8")
        console.print(f"{len(results)} results in {out}")
    else:
        typer.echo(rendered)

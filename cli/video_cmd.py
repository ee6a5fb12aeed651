"""`notestudio video slideshow`: a 9:16 MP4 from product photos and a note, with a progress bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cli.errors import UsageError, exit_on_errors

app = typer.Typer(help="Short vertical videos (the slideshow: no weights needed).", no_args_is_help=True)
console = Console(stderr=True)


def _read(path: Path, option: str) -> bytes:
    if not path.is_file():
        raise UsageError(f"{option}: no such file: {path}")
    return path.read_bytes()


def _note(path: Path) -> dict:
    try:
        note = json.loads(_read(path, "--note"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"--note: not JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(note, dict) and isinstance(note.get("drafts"), list) and note["drafts"]:
        note = note["drafts"][0]  # a whole /v1/copy/notes answer: its first draft
    if not isinstance(note, dict):
        raise UsageError("--note: expected a note draft (a JSON object with titles, body, hashtags)")
    return note


@app.command("slideshow")
@exit_on_errors
def slideshow(
    photo: Annotated[list[Path], typer.Option("--photo", "-p", help="Product photo; repeat for 1-12.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.mp4).")],
    note: Annotated[Path | None, typer.Option(help="A note draft (JSON from `notestudio copy`) for the words.")] = None,
    title: Annotated[str | None, typer.Option(help="The cover's title (the first frame).")] = None,
    caption: Annotated[list[str] | None, typer.Option("--caption", help="A caption line; repeat (2-4).")] = None,
    hashtag: Annotated[list[str] | None, typer.Option("--hashtag", help="A closing hashtag; repeat.")] = None,
    price: Annotated[float | None, typer.Option(help="Price in CNY (a sticker on the cover).")] = None,
    audio: Annotated[Path | None, typer.Option(help="An audio track (mp3, m4a, wav, ogg, flac).")] = None,
    duration: Annotated[float, typer.Option(help="Seconds (6-60).")] = 15.0,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 30,
    width: Annotated[int, typer.Option(help="Width; the height is 16/9 of it (1080 -> 1920).")] = 1080,
    transition: Annotated[str, typer.Option(help="crossfade or cut.")] = "crossfade",
    seed: Annotated[int | None, typer.Option(help="Same seed, same video.")] = None,
) -> None:
    """Make a slideshow; prints a JSON line with the engine, size, duration and seed."""
    from cli.settings import cli_services
    from generation.video.schema import SlideshowSpec, captions_from_note

    if out.suffix.lower() != ".mp4":
        raise UsageError(f"--out: the video is an MP4; got {out.name}")
    fields: dict = captions_from_note(_note(note)) if note else {}
    given = {"title": title, "lines": caption, "hashtags": hashtag}
    fields.update({k: v for k, v in given.items() if v is not None})
    spec = SlideshowSpec(
        **fields, price=price, duration=duration, fps=fps, width=width, transition=transition, seed=seed
    )
    videos = cli_services().videos
    inputs = videos.check([_read(p, "--photo") for p in photo], spec, _read(audio, "--audio") if audio else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")  # the file appears only when complete
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("frames", total=spec.frames)
            info = videos.render(inputs, partial, lambda done, total: progress.update(task, completed=done))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    typer.echo(json.dumps({"out": str(out), **info.model_dump()}, ensure_ascii=False))


@app.command("clip")
@exit_on_errors
def clip(
    photo: Annotated[Path, typer.Option("--photo", "-p", help="The product photo to animate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (.mp4).")],
    prompt: Annotated[str, typer.Option(help="How it should move (Wan, CogVideoX; SVD takes none).")] = "",
    negative_prompt: Annotated[str, typer.Option(help="What to avoid.")] = "",
    duration: Annotated[float | None, typer.Option(help="Seconds (default: the model's length).")] = None,
    steps: Annotated[int | None, typer.Option(help="Denoising steps (default: the model's).")] = None,
    fit: Annotated[str, typer.Option(help="contain (whole photo, blurred fill) or cover (crop to 9:16).")] = "contain",
    audio: Annotated[Path | None, typer.Option(help="An audio track.")] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same clip.")] = None,
    model: Annotated[str | None, typer.Option(help="Registry image-to-video model (default: video_model).")] = None,
) -> None:
    """Animate one photo with the configured image-to-video model (weights needed), with progress bars."""
    from cli.settings import cli_services
    from generation.video.schema import ClipSpec, SlideshowSpec

    if out.suffix.lower() != ".mp4":
        raise UsageError(f"--out: the video is an MP4; got {out.name}")
    spec = ClipSpec(prompt=prompt, negative_prompt=negative_prompt, duration=duration, steps=steps, fit=fit)
    videos = cli_services(video_model=model).videos
    videos.clips()  # no model configured: the fix now, before reading anything
    data, track = _read(photo, "--photo"), _read(audio, "--audio") if audio else None
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            denoise = progress.add_task("denoising", total=None)
            encode = progress.add_task("encoding", total=None)
            info = videos.make_clip(
                data,
                spec,
                SlideshowSpec(seed=seed),
                partial,
                track,
                on_step=lambda step, total: progress.update(denoise, completed=step, total=total),
                on_frame=lambda done, total: progress.update(encode, completed=done, total=total),
            )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    typer.echo(json.dumps({"out": str(out), **info.model_dump()}, ensure_ascii=False))

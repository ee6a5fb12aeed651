"""The `notestudio` command. Each capability adds one subcommand module."""

from __future__ import annotations

import typer

from cli import copy_cmd, db_cmd, image_cmd, models_cmd, moderation_cmd, serve_cmd, translate_cmd, tryon_cmd, video_cmd

app = typer.Typer(
    name="notestudio",
    help="Note Studio: notes that sell — copy, covers, videos, moderation and AR try-on, over HTTP and in a studio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve_cmd.serve)
app.add_typer(models_cmd.app, name="models")
app.command("moderate")(moderation_cmd.moderate)
app.add_typer(moderation_cmd.app, name="moderation")
app.add_typer(tryon_cmd.app, name="tryon")
app.command("copy")(copy_cmd.copy)
app.add_typer(image_cmd.app, name="image")
app.add_typer(video_cmd.app, name="video")
app.command("translate")(translate_cmd.translate)
app.add_typer(db_cmd.app, name="db")

if __name__ == "__main__":
    app()

"""One module per studio tab; each exposes `render(key: gr.Textbox, api_url: str) -> None`."""

"""Translation: note-aware, glossaries and do-not-translate terms, detection, OpenCC and model engines."""

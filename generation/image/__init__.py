"""Covers and product images: the composer (no weights) and diffusion pipelines (weights configured)."""

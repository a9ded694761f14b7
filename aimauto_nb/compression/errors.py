"""The error ``compress`` raises when a model cannot be compressed as asked."""

__all__ = ["CompressError"]


class CompressError(ValueError):
    """The model cannot be compressed as asked (names the layer or option)."""

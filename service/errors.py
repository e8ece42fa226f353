"""Errors in what a caller sent. The gRPC layer maps InputError to INVALID_ARGUMENT and ImageTooLarge to
RESOURCE_EXHAUSTED; the message is written for the person who has to fix the input."""


class InputError(ValueError):
    """The request's image cannot be used."""


class ImageTooLarge(InputError):
    """The image is over a configured size or pixel limit."""

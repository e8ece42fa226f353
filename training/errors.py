"""The errors a user can fix, kept free of TensorFlow so the command line can report them before the
heavy import (and its start-up chatter) happens."""


class DataError(Exception):
    """A data set that cannot be used, with a message a person can act on."""


class ModelDirError(Exception):
    """A model folder that cannot be exported to or served from, with a message a person can act on."""

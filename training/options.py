"""Names the command line offers, kept free of TensorFlow so parsing and usage errors answer at once.
training.architectures and training.train check that they implement exactly these."""

ARCHITECTURE_NAMES = ("fc", "base", "exercise", "zipnet")
STRATEGIES = ("auto", "default", "mirrored")

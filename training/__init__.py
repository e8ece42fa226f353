"""Training, evaluation and export of the digit classifier behind zipcode-recognizer."""

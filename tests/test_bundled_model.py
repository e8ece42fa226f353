"""The model that ships in the repo, as the service will load it."""
import numpy as np

from service.normalize import normalize_digit
from training.evaluate import evaluate_probabilities


def test_bundled_model_scores_99_percent_on_the_shipped_test_digits(bundled_model, subset):
    assert bundled_model.directory.name == "5"
    evaluation = evaluate_probabilities(bundled_model.predict(subset.x_test), subset.y_test)
    assert evaluation.accuracy >= 0.99
    assert np.all(evaluation.per_class_accuracy >= 0.95)


def test_bundled_model_card_records_its_training(bundled_model):
    card = bundled_model.card
    # Two zipnets from different starting points, their probabilities averaged: better than either.
    assert card["architecture"] == "ensemble" and len(card["members"]) == 2
    assert card["test_accuracy"] >= 0.996
    assert card["test_accuracy"] > max(member["test_accuracy"] for member in card["members"])
    assert card["training_data"]["train_images"] == 60000 and card["training_data"]["test_images"] == 10000
    # Version 5: version 4's two members (version 3, and a zipnet trained from seed 2), each fine-tuned
    # once more on a second harvest. Their starting points differ, so they err on different digits.
    first, second = card["members"]
    assert first["fine_tuned_from"]["model"] != second["fine_tuned_from"]["model"]
    assert all(member["fine_tuned_from"]["test_accuracy"] >= 0.995 for member in card["members"])
    for member in card["members"]:
        assert member["architecture"] == "zipnet"
        # Trained on digits the pipeline cut out of generated fields, and good on the held-out ones...
        assert member["field_digits"]["train_images"] > 50000
        assert member["field_digits"]["test_accuracy"] > 0.99
        # ...and taught to doubt fields that are no digit: most held-out ones get no confident answer.
        assert member["not_digits"]["train_images"] > 20000 and member["not_digits"]["read_above_0.9"] < 0.25


def test_bundled_model_is_unsure_of_what_is_not_one_digit(bundled_model, subset):
    # What a bad cut hands the classifier: two digits side by side, or the left half of one. A model
    # sure of those would let the recogniser prefer a wrong cut to the right one.
    digits = subset.x_test[:200]
    pairs = np.stack([normalize_digit(np.hstack([digits[i], digits[i + 1]])) for i in range(0, 200, 2)])
    halves = np.stack([normalize_digit(digit[:, :14]) for digit in digits[:100]])

    def sure(images):
        return float((bundled_model.predict(images).numpy().max(axis=1) > 0.9).mean())

    assert sure(digits) >= 0.95
    assert sure(pairs) <= 0.10
    assert sure(halves) <= 0.25

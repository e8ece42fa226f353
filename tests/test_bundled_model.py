"""The model that ships in the repo, as the service will load it."""
import numpy as np

from training.evaluate import evaluate_probabilities


def test_bundled_model_scores_99_percent_on_the_shipped_test_digits(bundled_model, subset):
    assert bundled_model.directory.name == "2"
    evaluation = evaluate_probabilities(bundled_model.predict(subset.x_test), subset.y_test)
    assert evaluation.accuracy >= 0.99
    assert np.all(evaluation.per_class_accuracy >= 0.95)


def test_bundled_model_card_records_its_training(bundled_model):
    card = bundled_model.card
    assert card["architecture"] == "zipnet"
    assert card["test_accuracy"] >= 0.996
    assert card["training_data"]["train_images"] == 60000 and card["training_data"]["test_images"] == 10000
    # Fine-tuned on digits the pipeline cut out of generated fields, and better on the held-out ones.
    assert card["fine_tuned_from"]["model"].endswith("zipnet/1")
    assert card["field_digits"]["train_images"] > 50000
    assert card["field_digits"]["test_accuracy"] > 0.985

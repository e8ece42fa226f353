"""zipcode-train: train, compare and evaluate the digit classifiers.

Errors a user can fix (bad data, a bad model folder) print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import os
import sys

from training.options import ARCHITECTURE_NAMES, STRATEGIES

# TensorFlow's C++ start-up chatter (oneDNN, CUDA probing) buries the report; warnings and errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_USAGE = 2
# What an ensemble's card repeats of each member's: how it was made and how it scored.
MEMBER_CARD_KEYS = ("architecture", "version", "seed", "epochs", "test_accuracy", "fine_tuned_from",
                    "field_digits", "not_digits")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zipcode-train", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def add_data(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--data",
            help="Keras-layout mnist.npz or a folder of MNIST IDX files (raw or .gz); "
            "default: download with keras.datasets.mnist",
        )

    def add_training(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--batch-size", type=int, default=128)
        sub.add_argument("--seed", type=int, default=1)
        sub.add_argument(
            "--strategy", choices=STRATEGIES, default="auto",
            help="auto: MirroredStrategy when more than one GPU is visible (default: %(default)s)",
        )

    train = commands.add_parser("train", help="train one architecture, report it and export it")
    train.add_argument("--arch", choices=ARCHITECTURE_NAMES, default="zipnet")
    train.add_argument("--epochs", type=int, help="default: the architecture's own (zipnet 20, others 10)")
    add_data(train)
    train.add_argument("--export", metavar="DIR", help="model root; writes DIR/<version>/ (TF Serving layout)")
    train.add_argument("--version", type=int, help="version folder to write (default: next free number)")
    train.add_argument("--fields", metavar="NPZ", nargs="+",
                       help="also train on digits and not-digits cut out of fields, from the start "
                            "(tools/make_field_digits.py; several files are joined)")
    add_training(train)

    compare = commands.add_parser("compare", help="train every architecture and the HOG baseline; print one table")
    add_data(compare)
    compare.add_argument("--epochs", type=int, help="epochs for every model (default: each architecture's own)")
    add_training(compare)

    finetune = commands.add_parser(
        "finetune", help="go on training an exported model on MNIST plus digits cut out of fields; export it",
    )
    finetune.add_argument("--model", required=True, metavar="DIR", help="model root (its highest version) or version folder")
    finetune.add_argument("--fields", required=True, metavar="NPZ", nargs="+",
                          help="digits as the pipeline cuts them, Keras layout (tools/make_field_digits.py; "
                               "several files are joined)")
    add_data(finetune)
    finetune.add_argument("--epochs", type=int, default=3)
    finetune.add_argument("--learning-rate", type=float, default=2e-4)
    finetune.add_argument("--export", metavar="DIR", help="model root; writes DIR/<version>/ (TF Serving layout)")
    finetune.add_argument("--version", type=int, help="version folder to write (default: next free number)")
    add_training(finetune)

    ensemble = commands.add_parser(
        "ensemble", help="join exported models into one that averages their probabilities; export it",
    )
    ensemble.add_argument("--models", required=True, nargs="+", metavar="DIR",
                          help="two or more model roots (their highest version) or version folders")
    add_data(ensemble)
    ensemble.add_argument("--export", required=True, metavar="DIR", help="model root; writes DIR/<version>/")
    ensemble.add_argument("--version", type=int, help="version folder to write (default: next free number)")

    member = commands.add_parser(
        "member", help="export one member of an ensemble as a model of its own (half the cost per digit)",
    )
    member.add_argument("--model", required=True, metavar="DIR",
                        help="an ensemble (zipcode-train ensemble): model root (its highest version) or version folder")
    member.add_argument("--number", required=True, type=int, help="which member, 1-based, in the order its card lists them")
    member.add_argument("--export", required=True, metavar="DIR", help="model root; writes DIR/<version>/")
    member.add_argument("--version", type=int, help="version folder to write (default: next free number)")

    evaluate = commands.add_parser("evaluate", help="score an exported model and draw its confusion matrix")
    evaluate.add_argument("--model", required=True, metavar="DIR", help="model root or version folder")
    add_data(evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from training.errors import DataError, ModelDirError

    try:
        commands = {"train": _train, "compare": _compare, "finetune": _finetune, "ensemble": _ensemble,
                    "member": _member, "evaluate": _evaluate}
        return commands[args.command](args)
    except (DataError, ModelDirError) as error:
        print(f"zipcode-train: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _train(args: argparse.Namespace) -> int:
    from training.data import load_dataset, load_fields

    dataset = load_dataset(args.data)  # before TensorFlow loads, so a data error is the only output
    fields, not_digits = load_fields(args.fields) if args.fields else (None, None)
    from training.architectures import ARCHITECTURES
    from training.export import export_model
    from training.report import print_result
    from training.train import field_scores, train

    result = train(args.arch, dataset, args.epochs, args.batch_size, args.seed, args.strategy,
                   extra=fields, not_digits=not_digits)
    print_result(result)
    card = {"description": ARCHITECTURES[result.arch].description, **_training_card(result, dataset, args)}
    if fields is not None:
        card.update(_field_card(fields, not_digits, field_scores(result.model, fields, not_digits)))
    if args.export:
        print(f"exported         {export_model(result.model, args.export, card, args.version)}")
    return 0


def _training_card(result, dataset, args: argparse.Namespace) -> dict:
    return {
        "architecture": result.arch,
        "parameters": result.parameters,
        "epochs": result.epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "training_seconds": round(result.training_seconds, 1),
        "test_accuracy": round(result.test_accuracy, 5),
        "training_data": {
            "source": dataset.source,
            "sha256": dataset.sha256,
            "train_images": len(dataset.x_train),
            "test_images": len(dataset.x_test),
        },
    }


def _finetune(args: argparse.Namespace) -> int:
    from training.data import load_dataset, load_fields

    dataset = load_dataset(args.data)
    fields, not_digits = load_fields(args.fields)
    from training.export import export_model, keras_file, read_card, resolve_version_dir
    from training.report import print_result
    from training.train import fine_tune

    base = resolve_version_dir(args.model)
    base_card = read_card(base)
    trained = keras_file(base, "go on training")
    arch = base_card.get("architecture", "zipnet")
    result, scores = fine_tune(trained, arch, dataset, fields, args.epochs, args.batch_size,
                               args.seed, args.learning_rate, args.strategy, not_digits=not_digits)
    print_result(result)
    card = {
        "description": base_card.get("description", ""),
        **_training_card(result, dataset, args),
        "fine_tuned_from": {"model": str(base), "test_accuracy": base_card.get("test_accuracy")},
        "learning_rate": args.learning_rate,
        **_field_card(fields, not_digits, scores),
    }
    if args.export:
        print(f"exported         {export_model(result.model, args.export, card, args.version)}")
    return 0


def _field_card(fields, not_digits, scores) -> dict:
    """Prints the scores on held-out field digits and not-digits; returns them for the model card."""
    from training.train import CONFIDENT

    print(f"field digits     {scores.digit_accuracy:.2%} of {len(fields.x_test)} held-out digits cut from fields")
    card = {
        "field_digits": {
            "source": fields.source,
            "sha256": fields.sha256,
            "train_images": len(fields.x_train),
            "test_images": len(fields.x_test),
            "test_accuracy": round(scores.digit_accuracy, 5),
        },
    }
    if not_digits is not None and scores.not_digit_confident is not None:
        print(f"not digits       {scores.not_digit_confident:.2%} of {len(not_digits.x_test)} held-out not-digits "
              f"read as a digit above {CONFIDENT:.0%}")
        card["not_digits"] = {
            "train_images": len(not_digits.x_train),
            "test_images": len(not_digits.x_test),
            f"read_above_{CONFIDENT}": round(scores.not_digit_confident, 5),
        }
    return card


def _ensemble(args: argparse.Namespace) -> int:
    from training.data import load_dataset

    dataset = load_dataset(args.data)
    from training.errors import ModelDirError
    from training.ensemble import average_of
    from training.evaluate import evaluate_probabilities
    from training.export import export_model, keras_file, read_card, resolve_version_dir

    import keras

    if len(args.models) < 2:
        raise ModelDirError("an ensemble needs at least two models")
    folders = [resolve_version_dir(path) for path in args.models]
    members = [keras.models.load_model(path) for path in [keras_file(folder, "join") for folder in folders]]
    model = average_of(members)
    accuracy = evaluate_probabilities(model.predict(dataset.x_test.astype("float32"), batch_size=512, verbose=0),
                                      dataset.y_test).accuracy
    cards = [read_card(folder) for folder in folders]
    for folder, card in zip(folders, cards):
        print(f"member           {folder}  test accuracy {card.get('test_accuracy', float('nan')):.2%}")
    print(f"parameters       {model.count_params():,}")
    print(f"test accuracy    {accuracy:.2%}")
    card = {
        "architecture": "ensemble",
        "description": f"mean of the probabilities of {len(members)} models",
        "parameters": model.count_params(),
        "test_accuracy": round(accuracy, 5),
        "members": [{"model": str(folder), **{key: card[key] for key in MEMBER_CARD_KEYS if key in card}}
                    for folder, card in zip(folders, cards)],
        "training_data": {"source": dataset.source, "sha256": dataset.sha256,
                          "train_images": len(dataset.x_train), "test_images": len(dataset.x_test)},
    }
    print(f"exported         {export_model(model, args.export, card, args.version)}")
    return 0


def _member(args: argparse.Namespace) -> int:
    """The ensemble's copy of the member: the same weights it was averaged with, so no build/ folder of
    `make model` is needed to serve one."""
    from training.architectures import ARCHITECTURES
    from training.errors import ModelDirError
    from training.export import copy_of, export_model, keras_file, read_card, resolve_version_dir
    from training.ensemble import members_of

    folder = resolve_version_dir(args.model)
    card = read_card(folder)
    members = card.get("members", [])
    if not 1 <= args.number <= len(members):
        raise ModelDirError(f"{folder}: no member {args.number} (its card lists {len(members)} members; "
                            "only an ensemble has members)")
    import keras

    ensemble = keras.models.load_model(keras_file(folder, "take a member from"))
    member_card = members[args.number - 1]
    arch = member_card.get("architecture", "zipnet")
    model = copy_of(members_of(ensemble)[args.number - 1], arch)
    exported = export_model(model, args.export, {
        "description": ARCHITECTURES[arch].description if arch in ARCHITECTURES else "",
        **{key: value for key, value in member_card.items() if key not in ("model", "version")},
        "parameters": model.count_params(),
        "member_of": {"model": str(folder), "number": args.number, "test_accuracy": card.get("test_accuracy"),
                      "trained_as": member_card.get("model")},
    }, args.version)
    print(f"member           {args.number} of {folder}  test accuracy {member_card.get('test_accuracy', float('nan')):.2%}")
    print(f"parameters       {model.count_params():,}")
    print(f"exported         {exported}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from training.data import load_dataset

    dataset = load_dataset(args.data)
    from training.architectures import ARCHITECTURES
    from training.hog_baseline import train_hog_linear
    from training.report import comparison_table
    from training.train import train

    results = []
    for arch in ARCHITECTURES:
        print(f"--- training {arch}", flush=True)
        results.append(train(arch, dataset, args.epochs, args.batch_size, args.seed, args.strategy))
    print("--- training hog+linear", flush=True)
    results.append(train_hog_linear(dataset, epochs=args.epochs or 10, seed=args.seed))
    print(comparison_table(results, baseline="base"))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from training.data import load_dataset

    dataset = load_dataset(args.data)
    from training.evaluate import evaluate_probabilities, predict_in_batches, save_pictures
    from training.export import load_exported

    model = load_exported(args.model)
    evaluation = evaluate_probabilities(predict_in_batches(model.predict, dataset.x_test), dataset.y_test)
    print(f"model            {model.directory}")
    print(f"test images      {len(dataset.y_test)} from {dataset.source}")
    print(f"accuracy         {evaluation.accuracy:.2%}  ({int((evaluation.labels != evaluation.predictions).sum())} wrong)")
    print("per-class accuracy")
    for digit, accuracy in enumerate(evaluation.per_class_accuracy):
        print(f"  {digit}  {accuracy:.2%}")
    title = f"{model.card.get('architecture', model.directory.name)} v{model.card.get('version', '?')}: " \
            f"{evaluation.accuracy:.2%} on {len(dataset.y_test)} test digits"
    for path in save_pictures(evaluation, dataset.x_test, model.directory, title):
        print(f"wrote            {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

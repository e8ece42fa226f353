"""How training results are shown: the summary after `train` and the table of `compare`."""
from __future__ import annotations

from training.train import TrainResult


def print_result(result: TrainResult) -> None:
    print(f"architecture     {result.arch}")
    print(f"parameters       {result.parameters:,}")
    print(f"epochs           {result.epochs}")
    print(f"training time    {result.training_seconds:.1f} s")
    print(f"test accuracy    {result.test_accuracy:.2%}")


def comparison_table(results: list[TrainResult], baseline: str) -> str:
    """A Markdown table, so a run's output pastes straight into docs/exercise.md. Error rates are also
    given relative to `baseline`, the exercise's starting network."""
    reference = next(r for r in results if r.arch == baseline)
    lines = [
        "| model | parameters | epochs | training time | test accuracy | test errors vs base |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        relative = (1 - result.test_accuracy) / max(1 - reference.test_accuracy, 1e-9)
        lines.append(
            f"| {result.arch} | {result.parameters:,} | {result.epochs} | {result.training_seconds:.0f} s "
            f"| {result.test_accuracy:.2%} | {relative:.2f}x |"
        )
    return "\n".join(lines)


"""The benchmark tools' own behaviour: the generator's record of its digits, its effects left out on the
same random draws, the attribution of wrong codes (bench/attribution.py), and the accuracy benchmark's
figures per seed (bench/accuracy.py)."""
import dataclasses
import json

import numpy as np
import pytest

from bench.accuracy import main as accuracy_main
from bench.accuracy import read_sample
from bench.attribution import main as attribution_main
from bench.attribution import misread_alone, unsure_alone
from bench.zipgen import EFFECTS, FRAMINGS, SPECS, generate, load_test_digits
from bench.zipgen import main as zipgen_main

# Every effect applied to every field, so that leaving one out always changes the picture.
EVERYTHING = dataclasses.replace(SPECS["realistic"], box_share=1.0, broken_share=1.0, dark_share=1.0, jpeg_share=1.0,
                                 blur=3.0)  # blur is applied from a sigma of 0.3


def _twins(pool, effect, seed=4):
    full = generate(pool, "realistic", np.random.default_rng(seed), spec=EVERYTHING)
    twin = generate(pool, "realistic", np.random.default_rng(seed), spec=EVERYTHING, without=(effect,))
    return full, twin


def test_a_field_records_the_mnist_digit_each_of_its_digits_was_written_from(digit_pool):
    sample = generate(digit_pool, "realistic", np.random.default_rng(8), code="90210-3456")
    assert [digit for digit, _ in sample.sources] == [9, 0, 2, 1, 0, 3, 4, 5, 6]
    assert all(0 <= index < len(digit_pool[digit]) for digit, index in sample.sources)


@pytest.mark.parametrize("effect", EFFECTS)
def test_an_effect_left_out_changes_the_picture_and_nothing_else(digit_pool, effect):
    full, twin = _twins(digit_pool, effect)
    assert (twin.code, twin.sources) == (full.code, full.sources)
    assert twin.image.shape == full.image.shape  # the same size, margins and layout were drawn
    assert not np.array_equal(twin.image, full.image)
    if effect not in ("slant", "rotation"):  # only those two move the digits
        assert twin.boxes == full.boxes


def test_a_field_without_jpeg_is_the_same_photograph_saved_losslessly(digit_pool):
    full, twin = _twins(digit_pool, "jpeg")
    assert (full.extension, twin.extension) == (".jpg", ".png")
    assert np.abs(full.image.astype(int) - twin.image.astype(int)).mean() < 3


def test_a_field_without_dark_paper_is_the_negative_of_its_twin(digit_pool):
    full, twin = _twins(digit_pool, "dark")
    assert full.image.mean() < 128 < twin.image.mean()


@pytest.mark.parametrize("exposure", [0.25, 1.5])
def test_a_field_at_another_exposure_is_its_twin_darker_or_clipped_brighter(digit_pool, exposure):
    spec = dataclasses.replace(EVERYTHING, jpeg_share=0.0)  # lossless, so the pixels compare exactly
    full = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec)
    other = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec, exposure=exposure)
    assert (other.code, other.boxes, other.sources) == (full.code, full.boxes, full.sources)
    assert np.abs(other.image.astype(float) - np.minimum(full.image * exposure, 255)).max() <= 0.5


@pytest.mark.parametrize("framing", FRAMINGS)
def test_a_field_framed_otherwise_is_its_twin_turned_over_or_cut_through_a_digit(digit_pool, framing):
    spec = dataclasses.replace(EVERYTHING, jpeg_share=0.0)
    full = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec, code="90210")
    framed = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec, code="90210", framing=framing)
    assert (framed.code, framed.sources) == (full.code, full.sources)
    if framing == "upside_down":
        assert np.array_equal(framed.image, full.image[::-1, ::-1])
        height, width = full.image.shape[:2]
        assert [(width - x - w, height - y - h) for x, y, w, h in full.boxes] == [tuple(b[:2]) for b in framed.boxes]
        return
    cut = full.boxes[0] if framing == "cut_first" else full.boxes[-1]
    middle = cut[0] + cut[2] // 2
    kept = full.image[:, middle:] if framing == "cut_first" else full.image[:, :middle]
    assert np.array_equal(framed.image, kept)
    ends = (framed.boxes[0][0], framed.boxes[0][2]) if framing == "cut_first" else \
        (framed.boxes[-1][0] + framed.boxes[-1][2], framed.boxes[-1][2])
    assert ends == ((0, cut[0] + cut[2] - middle) if framing == "cut_first" else (middle, middle - cut[0]))


def test_a_field_written_with_another_pen_is_its_twin_in_that_colour(digit_pool):
    spec = dataclasses.replace(EVERYTHING, jpeg_share=0.0, dark_share=0.0, box_share=0.0, underline_share=0.0)
    drawn = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec)
    red = generate(digit_pool, "realistic", np.random.default_rng(4), spec=spec, pen="red")
    assert (red.code, red.boxes, red.sources) == (drawn.code, drawn.boxes, drawn.sources)

    def red_pixels(image):  # far redder than green: ink of a red pen, nothing else on an unlined field
        return np.count_nonzero(image[:, :, 2].astype(int) - image[:, :, 1] > 80)

    assert red_pixels(red.image) > 200 and red_pixels(drawn.image) == 0


def test_an_unknown_effect_is_refused(digit_pool):
    with pytest.raises(ValueError, match="unknown effects"):
        generate(digit_pool, "realistic", np.random.default_rng(1), without=("smudge",))


def test_misread_alone_finds_a_digit_filed_under_the_wrong_label(digit_pool, recognizer):
    ones, sevens = digit_pool[1], digit_pool[7]
    pool = {1: ones[:20], 7: np.concatenate([sevens[:20], ones[20:21]])}
    assert misread_alone(recognizer.classify, pool) == {(7, 20)}


def test_unsure_alone_finds_the_digits_read_right_below_the_probability(digit_pool, recognizer):
    ones, sevens = digit_pool[1], digit_pool[7]
    pool = {1: ones[:20], 7: np.concatenate([sevens[:20], ones[20:21]])}
    everything_right = {(digit, index) for digit, images in pool.items() for index in range(len(images))} - {(7, 20)}
    # Every right read is below a probability over 1, none below 0; the misread digit never counts.
    assert unsure_alone(recognizer.classify, pool, 1.01) == everything_right
    assert unsure_alone(recognizer.classify, pool, 0.0) == set()
    own = {(digit, index): float(row[digit]) for digit, images in pool.items()
           for index, row in enumerate(np.asarray(recognizer.classify(images)))}
    ranked = sorted(own[key] for key in everything_right)
    middle = (ranked[len(ranked) // 2 - 1] + ranked[len(ranked) // 2]) / 2  # between two digits, not on one
    assert unsure_alone(recognizer.classify, pool, middle) == {key for key in everything_right if own[key] < middle}


def test_motion_blurs_the_same_field_along_the_writing_only(digit_pool):
    still = generate(digit_pool, "clean", np.random.default_rng(6), code="40213")
    moved = generate(digit_pool, "clean", np.random.default_rng(6), code="40213", motion=0.2)
    assert (moved.code, moved.boxes, moved.image.shape) == (still.code, still.boxes, still.image.shape)
    assert not np.array_equal(moved.image, still.image)
    # Sideways only: each row keeps its ink, spread along it; the columns' profiles are smoothed.
    rows = lambda image: image.astype(float).mean(axis=(1, 2))
    columns = lambda image: image.astype(float).mean(axis=(0, 2))
    assert np.abs(rows(moved.image) - rows(still.image)).max() < 1.0
    assert np.abs(np.diff(columns(moved.image))).max() < 0.5 * np.abs(np.diff(columns(still.image))).max()


@pytest.mark.parametrize("code", ["40213", "40213-5567"])
def test_comb_prints_the_same_boxes_without_their_top_rules(digit_pool, code):
    spec = dataclasses.replace(SPECS["clean"], box_share=1.0)
    field = lambda **options: generate(digit_pool, "clean", np.random.default_rng(6), code=code, spec=spec, **options)
    plain, boxed, comb = field(without=("guides",)), field(), field(comb=0.4)
    assert (comb.code, comb.boxes, comb.image.shape) == (boxed.code, boxed.boxes, boxed.image.shape)
    printed = lambda shot: (shot.image.astype(int).sum(axis=2) < plain.image.astype(int).sum(axis=2) - 60)
    box_rows, comb_rows = (np.flatnonzero(printed(shot).any(axis=1)) for shot in (boxed, comb))
    # The same bottom rule; the ticks rise 0.4 of the box height from it, and no top rule is printed.
    assert comb_rows[-1] == box_rows[-1]
    box_height = box_rows[-1] - box_rows[0]
    assert abs((comb_rows[-1] - comb_rows[0]) - 0.4 * box_height) <= 3
    row_widths = lambda shot: printed(shot).sum(axis=1)
    assert row_widths(boxed)[box_rows[0]:box_rows[0] + 3].max() > 0.5 * boxed.image.shape[1]
    upper_comb = row_widths(comb)[comb_rows[0]:comb_rows[-1] - 5]
    assert upper_comb.max() <= 2 * (len(comb.boxes) + 2) * 3  # ticks only: a few pixels per box side


def test_dashed_prints_the_same_underline_in_dashes(digit_pool):
    spec = dataclasses.replace(SPECS["realistic"], box_share=0.0, underline_share=1.0, noise=0.0, lighting=0.0,
                               blur=0.0, jpeg_share=0.0, rotation=0.0, dark_share=0.0)
    field = lambda **options: generate(digit_pool, "realistic", np.random.default_rng(6), code="40213", spec=spec, **options)
    plain, solid, dashed = field(without=("guides",)), field(), field(dashed=True)
    assert (dashed.code, dashed.boxes, dashed.image.shape) == (solid.code, solid.boxes, solid.image.shape)
    printed = lambda shot: shot.image.astype(int).sum(axis=2) < plain.image.astype(int).sum(axis=2) - 60
    line_rows = np.flatnonzero(printed(solid).any(axis=1))
    assert np.array_equal(np.flatnonzero(printed(dashed).any(axis=1)), line_rows)  # the same line
    solid_columns, dashed_columns = printed(solid).any(axis=0), printed(dashed).any(axis=0)
    assert not (dashed_columns & ~solid_columns).any()
    # A dash a fifth of the digit height, a gap after it: the line is broken every third of a height.
    runs = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], dashed_columns.astype(int), [0])))))
    dashes, gaps = runs[::2], runs[1::2]
    height = dashed.boxes[0][3]
    assert len(dashes) >= 8 and np.median(dashes) < 0.35 * height and np.median(gaps) > 0.05 * height


def test_zipgen_prints_a_corpus_as_combs_and_dashed_lines_with_the_same_ground_truth(subset_path, tmp_path):
    common = ["--data", str(subset_path), "--count", "12", "--seed", "5"]
    assert zipgen_main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert zipgen_main([*common, "--out", str(tmp_path / "forms"), "--comb", "0.5", "--dashed"]) == 0
    labels = lambda name: (tmp_path / name / "labels.jsonl").read_text()
    assert labels("forms") == labels("plain")  # the same codes and digit boxes
    files = [json.loads(line)["file"] for line in labels("plain").splitlines()]
    changed = [name for name in files if (tmp_path / "forms" / name).read_bytes() != (tmp_path / "plain" / name).read_bytes()]
    # Only the fields with printed lines change (about 45% of realistic fields have some), not all.
    assert 0 < len(changed) < len(files)


def test_a_cut_off_read_is_rejected_first_on_the_curve_and_a_whole_one_by_its_confidence(digit_pool, recognizer):
    # No threshold accepts a read that a digit at the photo's side rejects: it goes with the wrong lengths.
    shot = generate(digit_pool, "clean", np.random.default_rng(11), code="45911")
    cut_read = read_sample(generate(digit_pool, "clean", np.random.default_rng(11), code="45911",
                                    framing="cut_first"), recognizer)
    assert cut_read.score == 0.0 and not cut_read.accepted and cut_read.guess
    whole = read_sample(shot, recognizer)
    assert whole.accepted and whole.score == pytest.approx(recognizer.recognize(shot.encoded).confidence)


def test_attribution_reports_the_baseline_and_each_effect_left_out(subset_path, capsys, tmp_path):
    reads_path = tmp_path / "reads.jsonl"
    assert attribution_main(["--data", str(subset_path), "--count", "6", "--effects", "broken,dark",
                             "--jobs", "1", "--seed", "4", "--reads", str(reads_path)]) == 0
    out = capsys.readouterr().out
    assert "6 realistic fields, seed 4:" in out
    assert "test digits the model misreads on their own:" in out
    fragile_line, = [line for line in out.splitlines() if line.startswith("of the other fields, holding one:")]
    fragile_count = int(fragile_line.split("holding one: ")[1].split(",")[0])
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert {"nothing", "broken", "dark"} <= set(rows)
    baseline = int(rows["nothing"].split("|")[2])
    for effect in ("broken", "dark"):
        exact, gained, lost, net = (int(cell) for cell in rows[effect].split("|")[2:6])
        assert exact == baseline + gained - lost and net == gained - lost

    # The reads file: one line per field, the same field as the generator gives for that index.
    fields = [json.loads(line) for line in reads_path.read_text().splitlines()]
    assert [field["index"] for field in fields] == list(range(6))
    rng = np.random.default_rng(4)
    pool = load_test_digits(subset_path)
    for field in fields:
        sample = generate(pool, "realistic", rng)
        assert (field["truth"], [tuple(source) for source in field["sources"]]) == (sample.code, sample.sources)
        assert set(field["reads"]) == {"nothing", "broken", "dark"}
        assert not (field["model_misreads_a_digit"] and field["model_unsure_of_a_digit"])
    assert sum(field["model_unsure_of_a_digit"] for field in fields) == fragile_count
    assert sum(field["reads"]["nothing"]["code"] == field["truth"] for field in fields) == baseline


def _table_rows(out: str, first_cell: str, cells: int) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith(f"| {first_cell}")]
    return [row for row in rows if len(row) == cells]


def test_accuracy_with_several_seeds_pools_their_fields_and_gives_each_seed_its_own_row(subset_path, capsys):
    assert accuracy_main(["--data", str(subset_path), "--count", "5", "--tiers", "realistic", "--seeds", "3,4",
                          "--jobs", "2", "--no-tesseract"]) == 0
    out = capsys.readouterr().out
    assert "5 images per tier and seed (2 seeds)" in out
    pooled, = _table_rows(out, "zipnet pipeline", 10)
    per_seed = _table_rows(out, "realistic |", 7)
    assert [row[1] for row in per_seed] == ["3", "4"]
    # Equal draws per seed: the pooled exact-code share is the mean of the seeds' shares.
    seed_exact = [float(row[2].rstrip("%")) for row in per_seed]
    assert float(pooled[2].rstrip("%")) == pytest.approx(sum(seed_exact) / 2, abs=0.06)

    # A seed's row, read in its own process, is what that seed alone gives in this one: each seed draws its
    # fields from its own generator.
    assert accuracy_main(["--data", str(subset_path), "--count", "5", "--tiers", "realistic", "--seed", "4",
                          "--no-tesseract"]) == 0
    alone = capsys.readouterr().out
    assert _table_rows(alone, "realistic |", 7) == []  # one seed: no per-seed table
    single, = _table_rows(alone, "zipnet pipeline", 10)
    seed_four = per_seed[1]
    assert [single[2], single[4], single[6], single[7], single[8]] == seed_four[2:]

"""Synthetic photos of handwritten zip-code fields, with ground truth, for tests and benchmarks.

Digits are MNIST *test* digits (never training digits, so the model has not seen them), written as ink
on paper with the variation a sorting line sees: size from 20 to 300 pixels, blue, black or pencil ink,
tinted and textured paper, uneven light, JPEG artefacts, rotation and slant, touching and broken digits,
ZIP+4 with a dash, a dot or no hyphen, pre-printed boxes (orange, red, black, faint) and guide lines that
the handwriting crosses, and now and then light ink on a dark background.

    python bench/zipgen.py --data ../shared/data/mnist.npz --tier realistic --count 200 --out /tmp/zips

writes the images and labels.jsonl (file, code, tier, digit boxes as [x, y, w, h] in image pixels).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Sequence

import cv2
import numpy as np

TIERS = ("clean", "realistic", "hard")


@dataclass(frozen=True)
class TierSpec:
    digit_height: tuple[int, int]
    zip4_share: float
    gap: tuple[float, float]  # space between digits, in digit heights; negative overlaps
    rotation: float  # degrees, either way
    slant: float  # horizontal shear per pixel of height, either way
    noise: float  # paper grain, grey levels
    lighting: float  # darkest corner as a fraction of full light, 1 - this
    jpeg_share: float
    jpeg_quality: tuple[int, int]
    box_share: float
    underline_share: float
    broken_share: float  # per digit
    dark_share: float  # light ink on dark background
    blur: float  # camera blur sigma, at most
    guide_colours: tuple[str, ...] = ("orange", "red", "black", "faint")  # of BOX_COLOURS
    break_across_share: float = 0.6  # breaks across a digit (pieces stacked); the rest split it side by side


SPECS = {
    "clean": TierSpec((36, 60), 0.0, (0.15, 0.4), 0.0, 0.0, 0.0, 0.0, 0.0, (95, 95), 0.0, 0.0, 0.0, 0.0, 0.0),
    "realistic": TierSpec(
        (24, 120), 0.3, (-0.04, 0.45), 3.0, 0.12, 6.0, 0.35, 0.5, (60, 95), 0.3, 0.15, 0.06, 0.04, 0.8
    ),
    "hard": TierSpec((20, 300), 0.4, (-0.12, 0.5), 6.0, 0.25, 12.0, 0.55, 0.7, (35, 90), 0.45, 0.2, 0.15, 0.08, 1.5),
}

INKS = {  # BGR, and how much of a full stroke's darkness the medium gives
    "black": ((35, 30, 30), 1.0),
    "blue": ((140, 50, 20), 1.0),
    "pencil": ((95, 95, 95), 0.75),
}
# Pens a tier never draws: generate(pen=) writes a field with one instead of the drawn ink. A red pen
# drops out of the red channel with the printed boxes (service/binarize.py).
OTHER_PENS = {"red": ((40, 40, 200), 1.0)}
PENS = {**INKS, **OTHER_PENS}
# How a sorting line's camera or field locator can frame a field wrongly, beyond the tiers' small
# rotations: the photo upside down, or cut down the middle of its first or last digit. No tier draws one.
FRAMINGS = ("upside_down", "cut_first", "cut_last")
BOX_COLOURS = {"orange": (40, 140, 250), "red": (50, 50, 215), "black": (40, 40, 40), "faint": (170, 180, 200)}
# What generate(without=...) can leave out of a field. Left out, an effect still draws its random numbers,
# so the field is the same as its twin in everything else (bench/attribution.py compares the two).
EFFECTS = ("broken", "guides", "slant", "lighting", "noise", "blur", "rotation", "dark", "jpeg")


@dataclass
class Sample:
    image: np.ndarray  # BGR uint8
    encoded: bytes  # what a camera would send
    extension: str  # ".png" or ".jpg"
    code: str  # "12345" or "12345-6789"
    boxes: list[list[int]] = field(default_factory=list)  # [x, y, w, h] per digit, in code order
    tier: str = "clean"
    # Per digit, in code order: (digit, index in the pool's images of that digit) it was written from.
    sources: list[tuple[int, int]] = field(default_factory=list)


def _digit_alpha(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """An MNIST digit as pen coverage (0..1) at `height` pixels, with crisp edges as a pen at that size."""
    rows = np.flatnonzero(digit.max(axis=1) > 40)
    cols = np.flatnonzero(digit.max(axis=0) > 40)
    crop = digit[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].astype(np.float32) / 255.0
    scale = height / crop.shape[0] * rng.uniform(0.9, 1.1)
    width = max(2, round(crop.shape[1] * scale))
    big = cv2.resize(crop, (width, max(2, round(crop.shape[0] * scale))), interpolation=cv2.INTER_CUBIC)
    return np.clip((big - 0.25) / 0.45, 0.0, 1.0)  # sharpen the anti-aliased MNIST edge


def _break_stroke(alpha: np.ndarray, rng: np.random.Generator, across_share: float) -> np.ndarray:
    """Erase a thin band across the digit: an open 4, a 5 whose top bar floats free."""
    h, w = alpha.shape
    band = max(1, round(h * rng.uniform(0.04, 0.08)))
    broken = alpha.copy()
    if rng.random() < across_share:
        y = int(h * rng.uniform(0.25, 0.45))
        broken[y: y + band, :] = 0
    else:
        x = int(w * rng.uniform(0.35, 0.65))
        broken[:, x: x + band] = 0
    return broken


def _code(rng: np.random.Generator, zip4: bool, codes: Sequence[str] | None = None) -> str:
    """Any digits, or a five-digit code of `codes` (a directory's) with any four after it."""
    if codes:
        first = codes[int(rng.integers(len(codes)))]
        return f"{first}-{''.join(str(d) for d in rng.integers(0, 10, size=4))}" if zip4 else first
    digits = "".join(str(d) for d in rng.integers(0, 10, size=9 if zip4 else 5))
    return f"{digits[:5]}-{digits[5:]}" if zip4 else digits


def _pick_digit(pool: dict[int, np.ndarray], digit: int, rng: np.random.Generator) -> int:
    return int(rng.integers(len(pool[digit])))


def make_pool(images: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    return {d: images[labels == d] for d in range(10)}


def generate(pool: dict[int, np.ndarray], tier: str, rng: np.random.Generator, code: str | None = None,
             spec: TierSpec | None = None, hyphen: str | None = None, without: Collection[str] = (),
             exposure: float = 1.0, pen: str | None = None, framing: str | None = None,
             codes: Sequence[str] | None = None, motion: float = 0.0, comb: float = 0.0,
             dashed: bool = False) -> Sample:
    """One image. Tests pin a case down with `code`, a modified `spec` (dataclasses.replace on
    SPECS[tier]) and `hyphen` ("dash", "dot" or "none"). without: EFFECTS to leave out, on the same
    random draws as the field with them. exposure: the camera's gain on the finished photo (0.25 is
    two stops under, 1.5 about half a stop over, clipped at white); it draws no random numbers, so the
    fields are those of exposure 1, darker or brighter. pen: a key of PENS to write with instead of the
    ink the tier draws (the draw is still made, so the field is otherwise the same). framing: one of
    FRAMINGS, applied to the finished photo before it is encoded; it draws no random numbers either. codes:
    five-digit codes to address the fields to (a directory's, as mail is addressed to codes that exist)
    instead of any digits; the fields are then others than without it. motion: the item moving past the
    camera while it exposes, along the line of writing: a blur as long as this share of the digit height
    (0.1: 5 pixels on 50-pixel digits); it draws no random numbers. comb: boxed fields printed as a comb
    instead, a rule under each box and ticks up its sides this share of the box height (1.0: boxes open at
    the top); it draws no random numbers either, so the fields are their boxed twins. dashed: underlined
    fields' lines printed dashed, dashes a fifth of the digit height with gaps two thirds as long (no
    random numbers drawn either)."""
    unknown = set(without) - set(EFFECTS)
    if unknown:
        raise ValueError(f"unknown effects {sorted(unknown)}; known: {', '.join(EFFECTS)}")
    if framing is not None and framing not in FRAMINGS:
        raise ValueError(f"unknown framing {framing!r}; known: {', '.join(FRAMINGS)}")
    spec = spec or SPECS[tier]
    code = code or _code(rng, rng.random() < spec.zip4_share, codes)
    height = int(rng.uniform(*spec.digit_height))
    boxed = rng.random() < spec.box_share
    underlined = not boxed and rng.random() < spec.underline_share
    hyphen_style = (hyphen or rng.choice(["dash", "dash", "dot", "none"])) if "-" in code else None

    # Lay the ink out on a transparent layer, left to right.
    alphas, slots, sources = [], [], []
    for char in code:
        if char == "-":
            continue
        sources.append((int(char), _pick_digit(pool, int(char), rng)))
        alpha = _digit_alpha(pool[int(char)][sources[-1][1]], height, rng)
        if rng.random() < spec.broken_share:
            broken = _break_stroke(alpha, rng, spec.break_across_share)
            alpha = alpha if "broken" in without else broken
        alphas.append(alpha)
    margin = int(height * rng.uniform(0.3, 0.8))
    box_width = int(height * rng.uniform(1.15, 1.4))
    x = margin
    baseline = margin + height
    positions = []
    for index, alpha in enumerate(alphas):
        if index == 5:  # the ZIP+4 separator
            x += int(height * (0.55 if hyphen_style != "none" else 0.45))
        if boxed:
            slot_left = margin + index * box_width + (int(box_width * 0.6) if index >= 5 else 0)
            left = slot_left + (box_width - alpha.shape[1]) // 2 + int(rng.uniform(-0.08, 0.08) * height)
            slots.append(slot_left)
        else:
            left = x
        top = baseline - alpha.shape[0] + int(rng.uniform(-0.08, 0.08) * height)
        positions.append((left, top))
        x = left + alpha.shape[1] + int(rng.uniform(*spec.gap) * height)
    width = max(x, positions[-1][0] + alphas[-1].shape[1]) + margin + (box_width if boxed else 0)
    canvas_h = baseline + margin + int(0.2 * height)
    ink = np.zeros((canvas_h, width), np.float32)
    boxes = []
    for (left, top), alpha in zip(positions, alphas):
        left, top = max(0, left), max(0, top)
        region = ink[top: top + alpha.shape[0], left: left + alpha.shape[1]]
        np.maximum(region, alpha[: region.shape[0], : region.shape[1]], out=region)
        ys, xs = np.nonzero(alpha > 0.25)
        boxes.append([left + int(xs.min()), top + int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)])
    if hyphen_style in ("dash", "dot"):
        gap_left = positions[4][0] + alphas[4].shape[1]
        gap_right = positions[5][0]
        centre_x, centre_y = (gap_left + gap_right) // 2, baseline - height // 2
        thickness = max(2, height // 10)
        if hyphen_style == "dash":
            half = max(thickness, int(height * rng.uniform(0.12, 0.2)))
            cv2.line(ink, (centre_x - half, centre_y), (centre_x + half, centre_y + int(rng.uniform(-2, 2))), 1.0, thickness)
        else:
            cv2.circle(ink, (centre_x, centre_y + height // 5), thickness, 1.0, -1)

    # Handwriting slant: shear the ink only (printed boxes stay straight).
    shear = rng.uniform(-spec.slant, spec.slant)
    if shear and "slant" not in without:
        transform = np.float32([[1, -shear, shear * baseline], [0, 1, 0]])
        ink = cv2.warpAffine(ink, transform, (width, canvas_h))
        boxes = [_transform_box(box, transform) for box in boxes]

    plain = spec.noise == 0 and spec.lighting == 0
    drawn_ink = "black" if plain else rng.choice(list(INKS))
    ink_colour, strength = PENS[pen or drawn_ink]
    paper = np.full(3, 255.0) if plain else np.array([rng.uniform(225, 255) for _ in range(3)])
    image = np.empty((canvas_h, width, 3), np.float32)
    image[:] = paper
    if boxed or underlined:
        _draw_guides(image.copy() if "guides" in without else image, boxed, slots, box_width, baseline, height,
                     margin, rng, spec, tier, comb, dashed)
    coverage = (ink * strength)[:, :, None]
    image = image * (1 - coverage) + np.array(ink_colour, np.float32) * coverage

    image = _photograph(image, spec, rng, without)
    angle = rng.uniform(-spec.rotation, spec.rotation)
    if angle and "rotation" not in without:
        image, rotation = _rotate(image, angle)
        boxes = [_transform_box(box, rotation) for box in boxes]
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < spec.dark_share and "dark" not in without:
        image = 255 - image
    if motion > 0:
        image = _moved(image, int(round(motion * height)))
    if exposure != 1.0:
        image = np.clip(image * np.float32(exposure) + 0.5, 0, 255).astype(np.uint8)
    if framing:
        image, boxes = _reframed(image, boxes, framing)
    jpeg = rng.random() < spec.jpeg_share
    quality = int(rng.uniform(*spec.jpeg_quality)) if jpeg else 0
    if jpeg and "jpeg" not in without:
        encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
        extension = ".jpg"
        image = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR)
    else:
        encoded, extension = cv2.imencode(".png", image)[1].tobytes(), ".png"
    return Sample(image=image, encoded=encoded, extension=extension, code=code, boxes=boxes, tier=tier,
                  sources=sources)


def _moved(image: np.ndarray, length: int) -> np.ndarray:
    """The photo of an item that moved `length` pixels sideways while the shutter was open."""
    if length < 2:
        return image
    return cv2.blur(image, (length, 1), borderType=cv2.BORDER_REPLICATE)


def _reframed(image: np.ndarray, boxes: list[list[int]], framing: str) -> tuple[np.ndarray, list[list[int]]]:
    """The photo framed as FRAMINGS says, and the digit boxes in it (a cut digit's box is what is left)."""
    height, width = image.shape[:2]
    if framing == "upside_down":
        return cv2.rotate(image, cv2.ROTATE_180), [[width - x - w, height - y - h, w, h] for x, y, w, h in boxes]
    x, _, w, _ = boxes[0] if framing == "cut_first" else boxes[-1]
    middle = x + w // 2
    left, right = (middle, width) if framing == "cut_first" else (0, middle)
    kept = [[max(x, left) - left, y, min(x + w, right) - max(x, left), h] for x, y, w, h in boxes]
    return np.ascontiguousarray(image[:, left:right]), kept


def _draw_guides(image, boxed, slots, box_width, baseline, height, margin, rng, spec, tier, comb=0.0,
                 dashed=False) -> None:
    colour = BOX_COLOURS[rng.choice(list(spec.guide_colours))]
    thickness = int(rng.integers(1, 4 if tier == "hard" else 3)) + height // 80
    if boxed:
        top = baseline - int(height * rng.uniform(1.1, 1.3))
        bottom = baseline + int(height * rng.uniform(-0.02, 0.12))  # low boxes: descenders cross the line
        tick_top = bottom - int(round(comb * (bottom - top)))
        for left in slots:
            if not comb:
                cv2.rectangle(image, (left, top), (left + box_width, bottom), colour, thickness)
                continue
            cv2.line(image, (left, bottom), (left + box_width, bottom), colour, thickness)
            for side in (left, left + box_width):
                cv2.line(image, (side, bottom), (side, tick_top), colour, thickness)
    else:
        y = baseline + int(height * rng.uniform(-0.02, 0.1))
        start, end = margin // 2, image.shape[1] - margin // 2
        dash, step = (max(5, height // 5), max(8, height // 3)) if dashed else (end - start, end - start)
        for left in range(start, end, step):
            cv2.line(image, (left, y), (min(left + dash, end), y), colour, thickness)


def _photograph(image: np.ndarray, spec: TierSpec, rng: np.random.Generator, without: Collection[str] = ()) -> np.ndarray:
    h, w = image.shape[:2]
    if spec.lighting:
        # Uneven light: a plane tilted at a random angle, from full light down to 1 - lighting.
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        direction = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(direction) * xx / w + np.sin(direction) * yy / h)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
        light = 1.0 - rng.uniform(0, spec.lighting) * ramp
        if "lighting" not in without:
            image = image * light[:, :, None]
    if spec.noise:
        grain = rng.normal(0, rng.uniform(0.3, 1.0) * spec.noise, (h, w, 1)).astype(np.float32)
        blotches = cv2.GaussianBlur(rng.normal(0, spec.noise, (h, w)).astype(np.float32), (0, 0), 6)[:, :, None]
        if "noise" not in without:
            image = image + grain + blotches * 2
    if spec.blur:
        sigma = rng.uniform(0, spec.blur)
        if sigma > 0.3 and "blur" not in without:
            image = cv2.GaussianBlur(image, (0, 0), sigma)
    return image


def _rotate(image: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    border = tuple(float(v) for v in np.median(image.reshape(-1, 3), axis=0))
    return cv2.warpAffine(image, rotation, (w, h), flags=cv2.INTER_LINEAR, borderValue=border), rotation


def _transform_box(box: list[int], transform: np.ndarray) -> list[int]:
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float32)
    moved = corners @ np.asarray(transform, np.float32).T
    x0, y0 = moved.min(axis=0)
    x1, y1 = moved.max(axis=0)
    return [int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0))]


def directory_codes(path: str | Path) -> list[str]:
    """The codes of a directory file, in order, to draw from the same way every time."""
    from service.directory import load_directory

    return sorted(load_directory(path).codes)


def load_test_digits(path: str | Path) -> dict[int, np.ndarray]:
    """The test split of a Keras-layout mnist.npz: the only digits the generator uses."""
    with np.load(path, allow_pickle=False) as mnist:
        return make_pool(mnist["x_test"], mnist["y_test"])


def write_corpus(pool, tier: str, count: int, out: Path, seed: int, **options) -> Path:
    """`count` fields of a tier into `out`, with labels.jsonl; options: generate()'s."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(out / "labels.jsonl", "w") as labels:
        for index in range(count):
            sample = generate(pool, tier, rng, **options)
            name = f"{tier}-{index:05d}{sample.extension}"
            (out / name).write_bytes(sample.encoded)
            labels.write(json.dumps({"file": name, "code": sample.code, "tier": tier, "boxes": sample.boxes}) + "\n")
    return out / "labels.jsonl"


# generate()'s options that change every field of a run alike, as add_field_options takes them (codes aside:
# a file on the command line, the codes themselves for generate()).
FIELD_OPTIONS = ("exposure", "pen", "framing", "motion", "comb", "dashed")


def add_field_options(parser: argparse.ArgumentParser) -> None:
    """The command-line options that photograph or print every field of a run alike: zipgen.py's corpus
    and accuracy.py's benchmark take the same ones."""
    parser.add_argument("--exposure", type=float, default=1.0,
                        help="camera gain on every photo: 0.25 is two stops under, 1.5 about half a stop over")
    parser.add_argument("--pen", choices=sorted(PENS), help="write every field with this pen instead of the drawn ink")
    parser.add_argument("--framing", choices=FRAMINGS,
                        help="photograph every field upside down, or cut through its first or last digit")
    parser.add_argument("--codes", metavar="FILE",
                        help="address the fields to the codes of this directory file (service/directory.py; "
                             "tools/us_zip_codes.py writes the United States') instead of any digits")
    parser.add_argument("--motion", type=float, default=0.0,
                        help="blur every photo along the writing by this share of the digit height, as an item moving past the camera")
    parser.add_argument("--comb", type=float, default=0.0,
                        help="print the boxed fields' boxes as a comb: a rule under each box and ticks up its sides this share "
                             "of the box height (1.0: boxes open at the top)")
    parser.add_argument("--dashed", action="store_true", help="print the underlined fields' lines dashed")


def field_options(args: argparse.Namespace) -> dict:
    """The FIELD_OPTIONS that add_field_options parsed, as generate()'s keywords."""
    return {name: getattr(args, name) for name in FIELD_OPTIONS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz", help="Keras-layout MNIST .npz (its test split is used)")
    parser.add_argument("--tier", choices=TIERS + ("all",), default="realistic")
    parser.add_argument("--count", type=int, default=100, help="images per tier")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    add_field_options(parser)
    args = parser.parse_args(argv)
    pool = load_test_digits(args.data)
    codes = directory_codes(args.codes) if args.codes else None
    for offset, tier in enumerate(TIERS if args.tier == "all" else (args.tier,)):
        print(write_corpus(pool, tier, args.count, Path(args.out), args.seed + offset, codes=codes, **field_options(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

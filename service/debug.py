"""The picture that explains a read: the input with each digit's box, value and confidence drawn on it,
the verdict above, and the 28x28 fields the classifier saw beside it (enlarged)."""
from __future__ import annotations

import cv2
import numpy as np

from service.recognizer import Recognition

PANEL_HEIGHT = 260
CROP_ZOOM = 3


def draw_debug(bgr: np.ndarray, recognition: Recognition) -> np.ndarray:
    scale = PANEL_HEIGHT / bgr.shape[0]
    photo = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for digit in recognition.digits:
        x, y, w, h = (int(round(v * scale)) for v in digit.box)
        colour = (0, 170, 0) if digit.confidence >= 0.9 else (0, 140, 255) if digit.confidence >= 0.5 else (0, 0, 230)
        cv2.rectangle(photo, (x, y), (x + w, y + h), colour, 2)
        cv2.putText(photo, str(digit.value), (x + 2, max(14, y - 20)), font, 0.7, colour, 2, cv2.LINE_AA)
        cv2.putText(photo, f"{digit.confidence:.2f}", (x, max(28, y - 4)), font, 0.45, colour, 1, cv2.LINE_AA)
    side = 28 * CROP_ZOOM
    crops = [cv2.resize(d.crop, (side, side), interpolation=cv2.INTER_NEAREST) for d in recognition.digits]
    strip = np.full((side + 22, max(1, len(crops)) * (side + 4), 3), 255, np.uint8)
    for index, (crop, digit) in enumerate(zip(crops, recognition.digits)):
        x0 = index * (side + 4)
        strip[:side, x0: x0 + side] = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
        cv2.putText(strip, f"{digit.value} {digit.confidence:.2f}", (x0 + 2, side + 16), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    verdict = "accepted" if recognition.accepted else f"rejected: {recognition.reject_reason}"
    if recognition.suggested_zip_code:  # what the directory makes of it, for the person checking
        verdict += f" (suggests {recognition.suggested_zip_code})"
    title = f"{recognition.zip_code or '(none)'}   confidence {recognition.confidence:.3f}   {verdict}"
    # As wide as the title too: a narrow photo cut off the end of the verdict (the suggestion).
    (title_width, _), _ = cv2.getTextSize(title, font, 0.65, 2)
    header = np.full((34, max(photo.shape[1], strip.shape[1], title_width + 12), 3), 255, np.uint8)
    cv2.putText(header, title, (6, 23), font, 0.65, (0, 120, 0) if recognition.accepted else (0, 0, 200), 2, cv2.LINE_AA)
    width = header.shape[1]
    pad = lambda image: cv2.copyMakeBorder(image, 0, 6, 0, width - image.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
    return np.vstack([header, pad(photo), pad(strip)])

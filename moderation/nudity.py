"""Sexual content in listing images: NudeNet's pretrained 320 px detector (YOLO-style, one class per body part,
exposed or covered), run by onnxruntime.

Which classes count as sexual content, from which detector score and how strong a hit each is lives in
`data/image_policy.yaml` (`nudity`): exposed genitalia, anus and female breasts; not faces, feet, bellies,
covered parts (lingerie and swimwear listings) or a bare male chest.

Licence and install: the `nudenet` wheel (3.4.2) ships the model file, but its LICENSE file is AGPL-3.0 (its
metadata says MIT), so it is an optional extra and not a dependency of this Apache-2.0 package. It requires
`opencv-python-headless`, which writes the same `cv2` module as mediapipe's `opencv-contrib-python`, so it is
installed with `--no-deps` (`make install-nsfw`; `make test` installs it to test this path). Only the model file
is used: pre- and post-processing are reimplemented here to choose onnxruntime's threads and to accept RGB arrays;
a test checks they give NudeNet's own detections.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from moderation.image_policy import ImagePolicy, NudityPolicy
from moderation.image_registry import ImageError, decode_image
from moderation.image_text import Box, as_rgb
from moderation.types import Evidence, Hit

__all__ = ["NUDENET_INSTALL", "Detection", "NudityDetector", "NuditySignals", "nudenet_model_path", "nudity_hits"]

#: How to install the detector without replacing mediapipe's cv2.
NUDENET_INSTALL = "pip install --no-deps nudenet==3.4.2  (or: make install-nsfw; the package is AGPL-3.0)"


@dataclass(frozen=True)
class Detection:
    """One detected body part: a NudeNet class name, the detector's score and a box in image pixels."""

    label: str
    score: float
    box: Box


def nudenet_model_path() -> Path:
    """The `320n.onnx` file inside the installed `nudenet` package.

    Raises:
        ImportError: nudenet is not installed; the message says how to install it.
    """
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"nudity detection needs the optional nudenet package: {NUDENET_INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"
    if not path.is_file():
        raise ImportError(f"nudenet is installed but {path} is missing; reinstall it: {NUDENET_INSTALL}")
    return path


_SESSIONS: dict[tuple[str, int | None], Any] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(path: Path, threads: int | None) -> Any:
    """One onnxruntime session per model file and thread count per process (sessions are thread-safe)."""
    key = (str(path), threads)
    session = _SESSIONS.get(key)
    if session is not None:
        return session
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            if threads is not None:
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            _SESSIONS[key] = session
    return session


class NudityDetector:
    """NudeNet's detector on RGB arrays.

    Args:
        policy: the `nudity` section of the image policy; default the shipped one.
        threads: onnxruntime intra-op threads; None lets onnxruntime use every core.
        model_path: the ONNX file; default the one inside the installed nudenet package.
    """

    def __init__(
        self, policy: NudityPolicy | None = None, threads: int | None = None, model_path: Path | None = None
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        self.policy = policy or ImagePolicy.load().nudity
        self.threads = threads
        self.model_path = model_path or nudenet_model_path()
        self._checked = False

    def _model(self) -> Any:
        session = _session(self.model_path, self.threads)
        if not self._checked:  # the class list of the policy must be the model's
            classes = session.get_outputs()[0].shape[1]
            if isinstance(classes, int) and classes != 4 + len(self.policy.model_labels):
                raise ValueError(
                    f"{self.model_path} predicts {classes - 4} classes but nudity.model_labels lists "
                    f"{len(self.policy.model_labels)}"
                )
            self._checked = True
        return session

    def detect(self, image: np.ndarray) -> list[Detection]:
        """Every body part found in one image (uint8 grey, RGB or RGBA), strongest first."""
        # 1. check and prepare: NudeNet pads the image to a square (bottom/right, black) and resizes it to the
        #    model side; its reference path feeds the channels in B, G, R order, and so does this one
        rgb = as_rgb(image)
        height, width = rgb.shape[:2]
        if min(height, width) < 2:
            return []
        side = max(height, width)
        square = np.zeros((side, side, 3), np.uint8)
        square[:height, :width] = rgb[:, :, ::-1]
        size = self.policy.input_size
        blob = cv2.dnn.blobFromImage(square, 1 / 255.0, (size, size), (0, 0, 0), swapRB=False, crop=False)
        # 2. run
        session = self._model()
        output = session.run(None, {session.get_inputs()[0].name: blob})[0]
        # 3. postprocess: best class per candidate, boxes to image pixels, non-maximum suppression
        rows = np.asarray(output[0], np.float32).T  # (candidates, 4 + classes)
        class_scores = rows[:, 4:]
        best = class_scores.argmax(axis=1)
        scores = class_scores[np.arange(len(rows)), best]
        keep = scores >= self.policy.candidate_score
        rows, best, scores = rows[keep], best[keep], scores[keep]
        if not len(rows):
            return []
        factor = side / size
        x0 = np.clip((rows[:, 0] - rows[:, 2] / 2) * factor, 0, width)
        y0 = np.clip((rows[:, 1] - rows[:, 3] / 2) * factor, 0, height)
        w = np.minimum(rows[:, 2] * factor, width - x0)
        h = np.minimum(rows[:, 3] * factor, height - y0)
        boxes = np.stack([x0, y0, w, h], axis=1)
        chosen = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), self.policy.nms_score, self.policy.nms_iou)
        labels = self.policy.model_labels
        detections = [
            Detection(
                labels[int(best[i])],
                round(float(scores[i]), 4),
                (int(x0[i]), int(y0[i]), int(x0[i] + w[i]), int(y0[i] + h[i])),
            )
            for i in np.asarray(chosen, dtype=np.int64).reshape(-1)
        ]
        return sorted(detections, key=lambda d: -d.score)


def nudity_hits(field: str, detections: Sequence[Detection], policy: NudityPolicy) -> tuple[list[Hit], list[str]]:
    """Detections of one image -> at most one `sexual.image` hit (the strongest sexual class) and its reasons.

    A detection counts when its class is one of `policy.classes` and its score reaches `policy.min_score`;
    the hit's score is that class's score from the policy (how severe the content is), not the detector's
    confidence, which goes into the reasons.
    """
    counted = [d for d in detections if d.label in policy.classes and d.score >= policy.min_score]
    if not counted:
        return [], []
    counted.sort(key=lambda d: (-policy.classes[d.label], -d.score))
    evidence = tuple(Evidence(field, 0, 0, d.label) for d in counted)
    reasons = [f"{field} box {list(d.box)} shows {d.label} (detector score {d.score:.2f})" for d in counted]
    return [Hit("sexual.image", policy.classes[counted[0].label], evidence, "image")], reasons


class NuditySignals:
    """Listing images -> `sexual.image` hits, evidence `Evidence("images[i]", 0, 0, class_name)`.

    Args:
        detector: default a `NudityDetector` on the shipped policy (raises ImportError, saying how to install
            nudenet, when it is missing: build this only where the extra is installed).
    """

    def __init__(self, detector: NudityDetector | None = None) -> None:
        self.detector = detector or NudityDetector()

    def __call__(self, images: Sequence[bytes | np.ndarray]) -> tuple[list[Hit], list[str]]:
        """Hits and reasons for a listing's images (bytes, or arrays already decoded).

        An image that cannot be decoded gives no hit and a reason saying so (see `ImageTextSignals`).
        """
        hits: list[Hit] = []
        reasons: list[str] = []
        for index, image in enumerate(images):
            field = f"images[{index}]"
            try:
                pixels = decode_image(bytes(image)) if isinstance(image, bytes | bytearray) else image
            except ImageError as exc:
                reasons.append(f"{field} not checked for nudity: {exc}")
                continue
            found, why = nudity_hits(field, self.detector.detect(pixels), self.detector.policy)
            hits += found
            reasons += why
        return hits, reasons

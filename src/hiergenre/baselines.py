"""Image-free and cheap image baselines that every benchmark table shows beside the CNNs.

Each baseline is a small sklearn-style class:

    model = ColorHistogramBaseline().fit(images, targets, label_space, task="singlelabel")
    probs = model.predict_scores(images)  # (N, label_space.size)

`images` is a uint8 array (N, S, S, 3) (what `ImageStore.images` holds) or None for the image-free
ones; `targets` is (N, K) multi-hot for `task="multilabel"` and (N,) class indices into the label
space for `task="singlelabel"`. Scores are probabilities over the label space.
"""

from __future__ import annotations

import logging
import warnings
from typing import Literal

import numpy as np
from PIL import Image
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from hiergenre.errors import ConfigError, DataError
from hiergenre.taxonomy import LabelSpace

logger = logging.getLogger(__name__)

Task = Literal["multilabel", "singlelabel"]


# --- features ----------------------------------------------------------------------------------
def check_images(images: np.ndarray | None) -> np.ndarray:
    """Return `images` if it is a uint8 (N, S, S, 3) array, else raise DataError."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        got = getattr(images, "shape", type(images).__name__)
        raise DataError(
            f"images must be a uint8 array (N, S, S, 3), got {got}; pass ImageStore.images"
        )
    if images.shape[3] != 3:
        raise DataError(f"images must have 3 colour channels last, got shape {images.shape}")
    return images


def thumbnails(images: np.ndarray, size: int) -> np.ndarray:
    """Box-filtered `size` x `size` thumbnails in [0, 1], flattened: (N, size * size * 3)."""
    images = check_images(images)
    n, h, w, _ = images.shape
    if h % size == 0 and w % size == 0:  # exact box filter by block means, no per-image loop
        blocks = images.reshape(n, size, h // size, size, w // size, 3)
        small = blocks.mean(axis=(2, 4), dtype=np.float32)
    else:
        small = np.stack(
            [np.asarray(Image.fromarray(im).resize((size, size), Image.BOX)) for im in images]
        ).astype(np.float32)
    return small.reshape(n, -1) / 255.0


def colour_histograms(images: np.ndarray, bins: int = 8, chunk: int = 512) -> np.ndarray:
    """Joint RGB histograms with `bins` levels per channel, each summing to 1: (N, bins**3)."""
    images = check_images(images)
    if bins < 1 or 256 % bins:
        raise ConfigError(f"bins must divide 256 (2, 4, 8, 16, ...), got {bins}")
    out = np.empty((images.shape[0], bins**3), dtype=np.float32)
    width = 256 // bins
    for start in range(0, images.shape[0], chunk):  # chunks keep the index array small
        part = images[start : start + chunk].reshape(-1, images.shape[1] * images.shape[2], 3)
        q = (part // width).astype(np.int64)
        cell = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
        cell += np.arange(part.shape[0])[:, None] * bins**3
        counts = np.bincount(cell.ravel(), minlength=part.shape[0] * bins**3)
        out[start : start + part.shape[0]] = counts.reshape(part.shape[0], -1) / cell.shape[1]
    return out


# --- shared plumbing ---------------------------------------------------------------------------
class _Baseline(BaseEstimator):
    """sklearn estimator plumbing (get_params, repr, clone, check_is_fitted) plus the label-space
    checks; fitted attributes end in `_`."""

    name = "baseline"
    uses_images = True
    tasks: tuple[str, ...] = ("multilabel", "singlelabel")

    def _start_fit(self, targets: np.ndarray, label_space: LabelSpace, task: str) -> np.ndarray:
        if task not in self.tasks:
            raise ConfigError(f"{self.name} supports task {' or '.join(self.tasks)}, not {task!r}")
        y = np.asarray(targets)
        k = label_space.size
        if task == "multilabel" and (y.ndim != 2 or y.shape[1] != k):
            raise DataError(f"multilabel targets must be (N, {k}) multi-hot, got {y.shape}")
        if task == "singlelabel" and (y.ndim != 1 or y.min(initial=0) < 0 or y.max(initial=0) >= k):
            raise DataError(
                f"singlelabel targets must be (N,) class indices in [0, {k}); drop -1 rows"
            )
        if y.shape[0] == 0:
            raise DataError("cannot fit a baseline on zero albums")
        self.label_space_, self.task_ = label_space, task
        return y

    def _fitted(self) -> None:
        try:
            check_is_fitted(self)
        except NotFittedError as err:
            raise ConfigError(f"{self.name}: call fit(...) before predict_scores(...)") from err

    def _scatter(self, probs: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Place (N, len(classes)) probabilities into (N, K) label-space columns."""
        out = np.zeros((probs.shape[0], self.label_space_.size), dtype=np.float32)
        out[:, classes] = probs
        return out


class PriorBaseline(_Baseline):
    """Image-free: every album gets each label's training frequency as its score.

    Constant per label, so its macro AUROC is exactly 0.5; its micro AUROC is high on a long-tailed
    label set (about 0.90 on MuMu), which is why micro numbers alone say little.
    """

    name = "prior"
    uses_images = False

    def fit(
        self,
        images: np.ndarray | None,
        targets: np.ndarray,
        label_space: LabelSpace,
        task: Task = "multilabel",
    ) -> PriorBaseline:
        """Store training label frequencies (multilabel) or class frequencies (singlelabel)."""
        y = self._start_fit(targets, label_space, task)
        if task == "multilabel":
            self.frequencies_ = y.astype(np.float64).mean(axis=0)
        else:
            self.frequencies_ = np.bincount(y, minlength=label_space.size) / y.shape[0]
        return self

    def predict_scores(self, images: np.ndarray | None, n: int | None = None) -> np.ndarray:
        """(N, K) float32: the training frequencies repeated; N from `images` or `n`."""
        self._fitted()
        rows = n if images is None else len(images)
        if rows is None:
            raise ConfigError("prior: pass images or n= to say how many albums to score")
        return np.tile(self.frequencies_.astype(np.float32), (rows, 1))


class MajorityBaseline(PriorBaseline):
    """Image-free, single-label: always the most frequent training class (a one-hot score)."""

    name = "majority"
    tasks = ("singlelabel",)

    def fit(
        self,
        images: np.ndarray | None,
        targets: np.ndarray,
        label_space: LabelSpace,
        task: Task = "singlelabel",
    ) -> MajorityBaseline:
        """Find the most frequent class (ties: the lowest index)."""
        super().fit(images, targets, label_space, task)
        self.majority_ = int(np.argmax(self.frequencies_))
        self.frequencies_ = np.eye(label_space.size)[self.majority_]
        return self


class ColorHistogramBaseline(_Baseline):
    """Joint RGB colour histogram + small thumbnail, standardised, then logistic regression.

    Multinomial for single-label; one binary regression per label for multi-label
    (`OneVsRestClassifier`; a label that is constant in training keeps its training frequency).
    """

    name = "colour-hist-lr"

    def __init__(self, *, bins: int = 8, thumb: int = 16, C: float = 0.001, max_iter: int = 500):
        self.bins, self.thumb, self.C, self.max_iter = bins, thumb, C, max_iter

    def features(self, images: np.ndarray) -> np.ndarray:
        """(N, bins**3 + thumb * thumb * 3) float32 unscaled features."""
        return np.hstack([colour_histograms(images, self.bins), thumbnails(images, self.thumb)])

    def fit(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        label_space: LabelSpace,
        task: Task = "multilabel",
    ) -> ColorHistogramBaseline:
        """Fit the scaler and the regression(s) on (N, S, S, 3) uint8 images."""
        y = self._start_fit(targets, label_space, task)
        self.scaler_ = StandardScaler()
        x = self.scaler_.fit_transform(self.features(images))
        regression = LogisticRegression(C=self.C, max_iter=self.max_iter)
        if task == "singlelabel":
            self.model_ = regression.fit(x, y)
            return self
        with warnings.catch_warnings():  # a label constant in training: a constant predictor
            warnings.filterwarnings("ignore", "Label .* is present in all training examples")
            self.model_ = OneVsRestClassifier(regression).fit(x, y.astype(np.int64))
        return self

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        """(N, K) float32 probabilities."""
        self._fitted()
        x = self.scaler_.transform(self.features(images))
        if self.task_ == "singlelabel":
            return self._scatter(self.model_.predict_proba(x), self.model_.classes_)
        return self.model_.predict_proba(x).astype(np.float32)


class PcaLdaKnnBaseline(_Baseline):
    """Downsized pixels -> PCA -> LDA -> k nearest neighbours (the poster's reference [1]).

    Single-label only: LDA needs one class per album. For multi-label data, fit it on the
    single-label subset (`single_label_subset`) instead.
    """

    name = "pca-lda-knn"
    tasks = ("singlelabel",)

    def __init__(self, *, size: int = 32, n_components: int = 100, k: int = 20, seed: int = 0):
        self.size, self.n_components, self.k, self.seed = size, n_components, k, seed

    def fit(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        label_space: LabelSpace,
        task: Task = "singlelabel",
    ) -> PcaLdaKnnBaseline:
        """Fit PCA, LDA and the neighbour index on (N, S, S, 3) uint8 images."""
        y = self._start_fit(targets, label_space, task)
        x = thumbnails(images, self.size)
        components = min(self.n_components, x.shape[0] - 1, x.shape[1])
        self.pca_ = PCA(n_components=components, random_state=self.seed).fit(x)
        self.lda_ = LinearDiscriminantAnalysis().fit(self.pca_.transform(x), y)
        z = self.lda_.transform(self.pca_.transform(x))
        self.knn_ = KNeighborsClassifier(n_neighbors=min(self.k, x.shape[0])).fit(z, y)
        return self

    def predict_scores(self, images: np.ndarray) -> np.ndarray:
        """(N, K) float32: the share of the k neighbours in each class."""
        self._fitted()
        z = self.lda_.transform(self.pca_.transform(thumbnails(images, self.size)))
        return self._scatter(self.knn_.predict_proba(z), self.knn_.classes_)


BASELINES: dict[str, type[_Baseline]] = {
    cls.name: cls
    for cls in (PriorBaseline, MajorityBaseline, ColorHistogramBaseline, PcaLdaKnnBaseline)
}


def get_baseline(name: str, **options) -> _Baseline:
    """A new, unfitted baseline by name: `prior`, `majority`, `colour-hist-lr`, `pca-lda-knn`."""
    if name not in BASELINES:
        raise ConfigError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")
    return BASELINES[name](**options)

"""Calibration: expected calibration error and Brier score, multi-label or single-label (top-1)."""

from __future__ import annotations

from typing import Literal

import numpy as np

Mode = Literal["multilabel", "top1"]


def _confidence_and_outcome(
    y_true: np.ndarray, probs: np.ndarray, mode: Mode
) -> tuple[np.ndarray, np.ndarray]:
    """Flat (confidence, outcome in {0,1}) pairs that calibration compares."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if mode == "multilabel":
        if y.shape != p.shape:
            raise ValueError(f"y_true {y.shape} and probs {p.shape} must both be (N, K)")
        return p.ravel(), y.astype(np.float64).ravel()
    if mode == "top1":
        if p.ndim != 2 or y.shape != (p.shape[0],):
            raise ValueError(
                f"top1 wants class indices (N,) and probs (N, K), not {y.shape}, {p.shape}"
            )
        return p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    raise ValueError(f"mode must be 'multilabel' or 'top1', not {mode!r}")


def expected_calibration_error(
    y_true: np.ndarray, probs: np.ndarray, n_bins: int = 15, mode: Mode = "multilabel"
) -> float:
    """ECE with `n_bins` equal-width bins (i/n, (i+1)/n] (0 joins the first bin).

    `multilabel`: every album x label pair is one prediction, confidence = P(label), outcome =
    label present. `top1`: y_true holds class indices (N,), confidence = the highest probability,
    outcome = argmax is right (Guo et al.). ECE = sum_b |B_b|/n * |mean outcome - mean confidence|.

    >>> round(expected_calibration_error(np.array([[1], [0]]), np.array([[.8], [.2]]), n_bins=2), 6)
    0.2
    """
    conf, outcome = _confidence_and_outcome(y_true, probs, mode)
    if conf.size == 0:
        return float("nan")
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=outcome, minlength=n_bins) - np.bincount(
        bins, weights=conf, minlength=n_bins
    )
    return float(np.abs(gap).sum() / count.sum())


def brier_score(y_true: np.ndarray, probs: np.ndarray, mode: Mode = "multilabel") -> float:
    """Mean squared error of probabilities.

    `multilabel`: mean over all album x label pairs of (p - y)^2 (sklearn's `brier_score_loss` of
    the flattened arrays). `top1`: y_true holds class indices (N,) and the score is the mean over
    albums of sum_k (p_k - [k = y])^2 (Brier's original multi-class form, between 0 and 2).

    >>> brier_score(np.array([0, 1]), np.array([[.8, .2], [.5, .5]]), mode="top1")
    0.29
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true)
    if mode == "multilabel":
        if y.shape != p.shape:
            raise ValueError(f"y_true {y.shape} and probs {p.shape} must both be (N, K)")
        return float(np.mean((p - y) ** 2))
    if mode == "top1":
        onehot = np.zeros_like(p)
        onehot[np.arange(p.shape[0]), y] = 1.0
        return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    raise ValueError(f"mode must be 'multilabel' or 'top1', not {mode!r}")

"""Evaluation metrics: pure, vectorised numpy functions (see each function's worked example)."""

from hiergenre.metrics.calibration import brier_score, expected_calibration_error
from hiergenre.metrics.classification import (
    accuracy,
    balanced_accuracy,
    confusion_matrix,
    macro_f1,
    precision_recall_f1,
)
from hiergenre.metrics.hierarchical import (
    close_under_ancestors,
    depth_curve,
    full_path_accuracy,
    hierarchical_prf,
    hierarchy_violation_rate,
    level_scores,
    mistake_severity,
    nodes_at_levels,
    per_level_auroc,
)
from hiergenre.metrics.ranking import (
    auprc,
    auroc,
    macro_label_mask,
    per_label_auprc,
    per_label_auroc,
    pr_curve,
    ranking_report,
)

__all__ = [
    "accuracy",
    "auprc",
    "auroc",
    "balanced_accuracy",
    "brier_score",
    "close_under_ancestors",
    "confusion_matrix",
    "depth_curve",
    "expected_calibration_error",
    "full_path_accuracy",
    "hierarchical_prf",
    "hierarchy_violation_rate",
    "level_scores",
    "macro_f1",
    "macro_label_mask",
    "mistake_severity",
    "nodes_at_levels",
    "per_label_auprc",
    "per_label_auroc",
    "per_level_auroc",
    "pr_curve",
    "precision_recall_f1",
    "ranking_report",
]

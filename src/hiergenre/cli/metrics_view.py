"""Metrics dicts as short tables: one rendering for `train` summaries and `evaluate`.

Every command shows the same three things from the same dict (`evaluate.score_node_probs`): the
headline numbers, the per-level table (level-1 and level-2 accuracy, balanced accuracy and macro
AUPRC over the albums labelled to that depth), and, with `--details`, the per-label table and the
remaining numbers. Nested values stay in the JSON files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from rich.table import Table

from hiergenre.cli.common import console


def _cell(value) -> str:
    if value is None or isinstance(value, bool):
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "-"
    return str(value)


def headline_table(parts: Mapping[str, Mapping], title: str, details: bool = False) -> Table:
    """metric | one column per part (dev, test, ...): the headline numbers (every scalar with
    `details`)."""
    from hiergenre.evaluate import HEADLINE

    table = Table(title=title)
    table.add_column("metric")
    for part in parts:
        table.add_column(part, justify="right")
    shown = [(k, label) for k, label in HEADLINE if any(k in m for m in parts.values())]
    if details:
        known = {k for k, _ in shown}
        extra = sorted({k for m in parts.values() for k, v in m.items()
                        if _scalar(v) and k not in known
                        and not k.startswith("level")})  # fmt: skip
        shown += [(k, k) for k in extra]
    for key, label in shown:
        table.add_row(label, *(_cell(m.get(key)) for m in parts.values()))
    return table


def _scalar(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def level_table(parts: Mapping[str, Mapping]) -> Table | None:
    """part | level | albums | acc | bal.acc | mAUPRC, from `level<L>_*` keys; None if none."""
    from hiergenre.evaluate import LEVEL_COLUMNS, level_value, scored_levels

    rows = [(part, lv) for part, m in parts.items() for lv in scored_levels(m)]
    if not rows:
        return None
    table = Table(title="per level (albums labelled to that depth; greedy top-down path)")
    table.add_column("part")
    table.add_column("level", justify="right")
    for _, header in LEVEL_COLUMNS:
        table.add_column(header, justify="right")
    for part, lv in rows:
        cells = [_cell(level_value(parts[part], lv, key)) for key, _ in LEVEL_COLUMNS]
        table.add_row(part, str(lv), *cells)
    return table


def label_table(metrics: Mapping, title: str, taxonomy=None, top: int = 30) -> Table | None:
    """label | level | positives | AUROC | AUPRC of the `top` labels with the most positives."""
    from hiergenre.evaluate import per_label_rows

    rows = per_label_rows(dict(metrics), taxonomy, top)
    if not rows:
        return None
    table = Table(title=title)
    for name, justify in (("label", "left"), ("level", "right"), ("positives", "right"),
                          ("AUROC", "right"), ("AUPRC", "right")):  # fmt: skip
        table.add_column(name, justify=justify)
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def print_metrics(parts: Mapping[str, Mapping], title: str, details: bool = False,
                  taxonomy=None) -> None:  # fmt: skip
    """Print the headline table, the per-level table and (with `details`) per-label tables."""
    console.print(headline_table(parts, title, details))
    levels = level_table(parts)
    if levels is not None:
        console.print(levels)
    if not details:
        return
    for part, m in parts.items():
        table = label_table(m, f"per label ({part}; the 30 with the most albums)", taxonomy)
        if table is not None:
            console.print(table)

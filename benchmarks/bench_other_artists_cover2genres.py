"""Issue 19: does a model trained on some artists keep its numbers on other artists?

    python benchmarks/bench_other_artists_cover2genres.py RUN OTHER [--out FILE.md]

RUN is a run trained on some blocks of cover2genres (`hiergenre train hierarchical --encoder
lite0 --data A --group-aware`), OTHER the import of the other blocks. Both are scored exactly as
`hiergenre evaluate RUN` and `hiergenre evaluate RUN --data OTHER` score them
(`train.rescore.evaluate_run`), and beside each the image-free prior of the run's training
albums (their genre frequencies, the same for every album) is scored on the same albums with the
same metrics function, classes, scored genres and decode thresholds, so the part of a change
that comes from the other albums' label mix shows in the prior's row too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hiergenre.baselines import PriorBaseline
from hiergenre.data import load_dataset
from hiergenre.data.splits import Split
from hiergenre.evaluate import score_node_probs, scoring_classes
from hiergenre.train.record import closed_nodes
from hiergenre.train.rescore import evaluate_run, run_dataset
from hiergenre.train.runs import load_run

COLUMNS = (("hF", "hF"), ("level1_accuracy", "L1 acc"), ("level1_balanced_accuracy", "L1 bal.acc"),
           ("level2_accuracy", "L2 acc"), ("level2_balanced_accuracy", "L2 bal.acc"),
           ("auroc_macro", "mAUROC"), ("auprc_micro", "µAUPRC"))  # fmt: skip


def prior_metrics(run, train_labels, labels, classes=None, present=None) -> dict:
    """The training albums' genre frequencies, scored on `labels` like the run's predictions."""
    prior = PriorBaseline().fit(None, run.label_space.encode(train_labels), run.label_space)
    probs = np.zeros((len(labels), run.taxonomy.num_nodes))
    probs[:, run.label_space.indices] = prior.predict_scores(None, n=len(labels))
    return score_node_probs(probs, run.label_space, labels, run.taxonomy, "hierarchical",
                            classes=classes or run.classes, present=present or run.scored_nodes,
                            thresholds=run.model.decode_thresholds)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run")
    ap.add_argument("other")
    ap.add_argument("--out")
    args = ap.parse_args()
    run = load_run(args.run)
    own = run_dataset(run)
    split = Split.load(Path(args.run) / "split.json")
    own_labels = own.label_sets
    train = [own_labels[i] for i in split.rows(own, "train")]
    test = [own_labels[i] for i in split.rows(own, "test")]
    other = load_dataset(args.other, run.taxonomy)
    other_labels = other.label_sets
    rows = {
        f"model, its own test part ({len(test)} albums)": evaluate_run(args.run),
        "prior, the same albums": prior_metrics(run, train, test),
    }
    scored = evaluate_run(args.run, args.other)
    kept = [other_labels[i] for i in range(len(other))]
    if scored.get("n_albums") != len(kept):
        raise SystemExit(f"{args.other} shares covers with the run's training part: use others")
    rows[f"model, other artists ({len(kept)} albums)"] = scored
    rows["prior, the same albums "] = prior_metrics(
        run, train, kept, scoring_classes(kept, run.taxonomy), closed_nodes(kept, run.taxonomy)
    )
    lines = ["| scored | " + " | ".join(name for _, name in COLUMNS) + " |",
             "|---" * (len(COLUMNS) + 1) + "|"]  # fmt: skip
    for name, m in rows.items():
        cells = [f"{m[k]:.3f}" if m.get(k) is not None else "-" for k, _ in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()

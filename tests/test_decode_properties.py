"""Property tests of every decoder: random trees of random depth, random coherent probabilities,
label spaces that stop at level 1, 2 or 3 (every deeper node 0). Each decoder returns a valid
path and never crashes; `decode.top_paths` ranks coherent, allowed paths. On real tiny runs (one
over every node, one over the level-1 genres only) the CLI, the Python API and `serve` answer the
same for every decoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergenre.decode import (
    DECODERS,
    beam_paths,
    greedy_paths,
    min_expected_distance,
    threshold_paths,
    top_paths,
)
from hiergenre.decode import paths_from_nodes as nodes_to_paths
from hiergenre.taxonomy import Taxonomy

FAST = settings(max_examples=40, deadline=None)


@st.composite
def trees(draw) -> Taxonomy:
    """A random tree: 1-4 levels, 1-4 level-1 genres, 0-3 children per node."""
    depth = draw(st.integers(1, 4))
    parents: dict[str, str] = {}
    frontier = [f"g{i}" for i in range(draw(st.integers(1, 4)))]
    parents.update(dict.fromkeys(frontier, "Music"))
    for _ in range(depth - 1):
        nxt = []
        for node in frontier:
            for c in range(draw(st.integers(0, 3))):
                parents[f"{node}.{c}"] = node
                nxt.append(f"{node}.{c}")
        frontier = nxt
    return Taxonomy.from_parents(parents)


@st.composite
def coherent(draw, tax: Taxonomy, batch: int = 2) -> np.ndarray:
    """Probabilities (batch, N) that never increase down the tree (siblings share their parent's
    mass, as a hierarchical model's do), some exactly 0."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    probs = np.zeros((batch, tax.num_nodes), np.float32)
    parent = tax.parent_index
    for i in range(tax.num_nodes):  # BFS order: a parent comes before its children
        share = rng.dirichlet(np.ones(max(1, int((parent == parent[i]).sum()))))[0]
        above = 1.0 if parent[i] < 0 else probs[:, parent[i]]
        probs[:, i] = above * share * rng.choice([0.0, 0.5, 1.0], p=[0.1, 0.3, 0.6], size=batch)
    return probs


def stop_at(probs: np.ndarray, tax: Taxonomy, level: int | None) -> np.ndarray:
    """The label space ends at `level`: every deeper node has probability 0."""
    return probs if level is None else np.where(tax.levels[None, :] > level, 0.0, probs)


def assert_valid(paths: torch.Tensor, tax: Taxonomy) -> None:
    """Each row: a level-1 node, then a child of the previous node at each step, -1 after."""
    assert paths.shape[-1] == tax.depth
    for row in paths.reshape(-1, tax.depth).tolist():
        nodes = [j for j in row if j >= 0]
        assert row == nodes + [-1] * (len(row) - len(nodes)), row  # padding only at the end
        if not nodes:
            continue
        assert tax.parent_index[nodes[0]] == -1
        for a, b in zip(nodes, nodes[1:], strict=False):
            assert tax.parent_index[b] == a, row


@FAST
@given(st.data(), st.sampled_from([None, 1, 2, 3]))
def test_every_decoder_gives_valid_paths(data, level):
    tax = data.draw(trees())
    probs = torch.as_tensor(stop_at(data.draw(coherent(tax)), tax, level))
    assert_valid(greedy_paths(probs, tax), tax)
    assert_valid(threshold_paths(probs, tax, data.draw(st.floats(0, 1))), tax)
    paths, scores = beam_paths(probs, tax, beam=data.draw(st.integers(1, 6)), k=3)
    assert_valid(paths, tax)
    assert (scores >= 0).all() and (scores[:, :-1] >= scores[:, 1:] - 1e-6).all()
    node, expected = min_expected_distance(probs, tax)
    assert_valid(nodes_to_paths(node, tax), tax)
    assert torch.isfinite(expected).all() and (expected >= 0).all()
    # beam and min-distance never end on, or pass through, a node of probability 0 when a
    # positive one was there to take (a run whose labels stop at a level stops there too)
    for b in range(probs.shape[0]):
        if probs[b][tax.levels == 1].sum() > 0:
            assert probs[b, node[b]] > 0
            best = [j for j in paths[b, 0].tolist() if j >= 0]
            assert all(probs[b, j] > 0 for j in best), (best, probs[b])
        if level is not None:
            assert tax.levels[node[b]] <= level


@FAST
@given(st.data(), st.sampled_from(DECODERS), st.sampled_from([None, 1, 2, 3]))
def test_top_paths_are_ranked_coherent_and_allowed(data, decode, level):
    tax = data.draw(trees())
    probs = stop_at(data.draw(coherent(tax)), tax, level)
    allowed = [n for n in tax.names if level is None or tax.level(n) <= level]
    top_k = data.draw(st.integers(1, 4))
    threshold = data.draw(st.none() | st.floats(0.05, 0.95))
    rows = top_paths(probs, tax, top_k, decode=decode, threshold=threshold, allowed=allowed)
    for b, paths in enumerate(rows):
        assert 1 <= len(paths) <= min(top_k, sum(tax.level(n) == 1 for n in allowed))
        firsts = [p["path"][0] for p in paths]
        assert len(set(firsts)) == len(firsts)  # path i starts with the i-th genre
        genre_p = [float(probs[b, tax.index(g)]) for g in firsts]
        assert genre_p == sorted(genre_p, reverse=True)
        for p in paths:
            assert set(p["path"]) <= set(allowed) and p["score"] == p["probs"][-1]
            assert all(tax.parent(c) == a for a, c in zip(p["path"], p["path"][1:], strict=False))
            assert p["probs"] == [float(probs[b, tax.index(n)]) for n in p["path"]]
            assert all(x >= y for x, y in zip(p["probs"], p["probs"][1:], strict=False))
            assert all(x > 0 for x in p["probs"][1:])  # no sub-genre the model gives 0


# --- one answer whichever way a run is asked: CLI, Python API, serve ------------------------


@pytest.fixture(scope="module")
def runs(tiny_run, tmp_path_factory):
    """The session's tiny hierarchical run (every node) and a tiny flat run trained on the same
    covers over the level-1 genres only (its label space stops at level 1)."""
    from hiergenre.train import DataSpec, ModelSpec, TrainConfig, train_from_config

    out = tmp_path_factory.mktemp("level1") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HIERGENRE_CACHE", str(tiny_run / "cache"))
        config = TrainConfig(
            model=ModelSpec("tiny", "level1"),
            data=DataSpec(path=str(tiny_run / "data"), image_size=32, num_workers=0),
            epochs=1, batch_size=16, device="cpu",
        )  # fmt: skip
        train_from_config(config, out)
    return {"all": tiny_run / "run", "level1": out}


@pytest.mark.parametrize("decode", DECODERS)
@pytest.mark.parametrize("space", ["all", "level1"])
def test_cli_python_api_and_serve_agree(runs, tiny_run, capsys, space, decode):
    from fastapi.testclient import TestClient

    from hiergenre.cli.main import main
    from hiergenre.predictor import load_predictor
    from hiergenre.serve import create_app

    run = runs[space]
    covers = sorted((tiny_run / "data" / "images").glob("*.jpg"))[:4]
    predictor = load_predictor(run, device="cpu")
    api = [[p.to_dict() for p in item.paths] for item in predictor.predict(covers, 3, decode)]
    assert all(api), api  # every cover gets paths, whatever the decoder
    if space == "level1":
        assert {len(p["path"]) for rows in api for p in rows} == {1}

    assert main(["predict", *map(str, covers), "--run", str(run), "--decode", decode,
                 "--json", "--quiet"]) == 0  # fmt: skip
    cli = [item["paths"] for item in json.loads(capsys.readouterr().out)]

    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in covers]
    res = TestClient(create_app(predictor)).post("/predict", files=files,
                                                 params={"decode": decode})  # fmt: skip
    assert res.status_code == 200, res.text
    served = [item["paths"] for item in res.json()["results"]]
    assert cli == api == served

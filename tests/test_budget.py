"""Budgeted D²SD: tree selection on synthetic confidences/costs, the calibration cache, losslessness."""

import json

import mlx.core as mx
import numpy as np
import pytest

from d2sd_mlx import Bundle
from d2sd_mlx import costmodel as cm
from d2sd_mlx.budget import WARMUP, Budget, Learned
from d2sd_mlx.calibration import Reliability
from d2sd_mlx.decode import DecodeOptions, decode
from d2sd_mlx.drafter import ROLE_VP
from d2sd_mlx.policy import Candidates, Outcome
from d2sd_mlx.selection import node_values, plan_branches, select_nodes, trim_rows
from d2sd_mlx.tiny import make_drafter, make_target, target_config
from d2sd_mlx.tree import build_tree
from oracle import OracleDrafter, greedy_reference

G = 16  # γ
DIFFUSE = np.array([0.95, 0.9, 0.85, 0.6, 0.7, 0.5, 0.8, 0.6, 0.5, 0.7, 0.6, 0.5, 0.4, 0.6, 0.5])  # c_1..c_15
REACH = 0.6 ** np.arange(1, G)  # branch value per unit of r(i) at offsets 1..15


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("D2SD_HOME", str(tmp_path / "home"))


def select(budget, conf, rows, names, vp_conf=None):
    """Stage 2 through the policy interface: (rows, names) kept, or None for a plain step."""
    sources = [["dflash"] * (len(r) - 1) for r in rows]
    kept = budget.keep(Candidates(rows, names, sources, np.asarray(conf), list(vp_conf or [])))
    return None if kept is None else (kept.rows, kept.names)


def costs(step=0.060, a=0.059, b=0.0032, dflash=0.008, vp0=0.004, vp1=0.0003, gamma=G):
    """A CostModel with given numbers: step, verify a + b·n, dflash, vp v0 + v1·(k·γ)."""
    ns = [2, gamma, 3 * gamma]
    ks = [1, 4]
    cal = {"step_s": step, "verify": {"n": ns, "s": [a + b * n for n in ns]}, "dflash_s": dflash,
           "vp": {"k": ks, "s": [vp0 + vp1 * k * gamma for k in ks]}}
    return cm.CostModel(cal, gamma)


def warm():
    """Learnt state past the warm-up (which verifies whole rows to explore)."""
    return Learned(drafted=WARMUP)


def over_plain(cost, n_max=G * 8):
    return np.concatenate(([0.0], cost.verify(np.arange(2, n_max + 2)) - cost.step))


def plan(cost, conf=DIFFUSE, lam=None, k_cap=4, max_nodes=None, reach=REACH):
    lam = lam if lam is not None else 1.0 / cost.step
    return plan_branches(conf, reach, lam, over_plain(cost), cost.vp(np.arange(k_cap + 1)), k_cap, max_nodes)


# -- selection on synthetic confidences and cost curves ------------------------------------------

def test_chain_when_verify_is_expensive():
    expensive = costs(b=0.02, vp0=0.05, vp1=0.002)  # 20 ms per node, 50+ ms per VP pass
    p = plan(expensive)
    assert p.anchors == []
    # and the chain itself is trimmed to the nodes worth more than λ·b
    budget = Budget(expensive, G, 4, learned=warm())
    assert budget.plan(DIFFUSE) == []
    rows, names = select(budget, DIFFUSE, [[7] + list(range(100, 100 + G - 1))], ["dflash"])
    spine = np.cumprod(DIFFUSE)
    d = len(rows[0]) - 1
    assert len(rows) == 1 and 0 < d < G - 1
    assert spine[d - 1] > budget.lam * 0.02 > spine[d]  # the cut: the last kept node pays for its 20 ms


def test_more_branches_when_verify_is_cheap():
    cheap = costs(b=0.00005, vp0=0.0005, vp1=0.00001)
    mid = costs()
    k_cheap, k_mid = len(plan(cheap).anchors), len(plan(mid).anchors)
    assert k_cheap == 4
    assert k_cheap > k_mid >= 0
    assert plan(cheap, k_cap=8).anchors.__len__() == 8  # up to the cap


def test_anchors_are_the_likely_rejection_points():
    conf = np.full(G - 1, 0.97)
    conf[[2, 6]] = 0.2  # rejection most likely at position 3 or 7
    p = plan(costs(b=0.0005, vp0=0.001, vp1=0.00002), conf=conf, k_cap=2)
    assert p.anchors == [2, 6]


def test_no_branches_when_confidences_are_flat():
    for flat in (np.full(G - 1, 0.97), np.full(G - 1, 0.995)):
        assert plan(costs(), conf=flat).anchors == []
        assert plan(costs(b=0.0005), conf=flat).anchors == []
    # diffuse r(i) (every prefix length about as likely): no single branch pays on CPU-like costs
    c = np.array([1 - 1 / (G - k) for k in range(G - 1)])  # r(i) = 1/15 for every i
    r = np.concatenate(([1.0], np.cumprod(c)[:-1])) * (1 - c)
    assert np.allclose(r, r[0])
    assert plan(costs(), conf=c).anchors == []


def test_plain_step_when_nothing_pays():
    cost = costs()
    budget = Budget(cost, G, 4, learned=warm())
    low = np.full(G - 1, 0.05)

    assert select(budget, low, [[7] + list(range(100, 100 + G - 1))], ["dflash"]) is None


def test_warm_up_and_probes_verify_the_whole_row():
    """Confidences that undersell the drafter must not stop it from ever being tried."""
    budget = Budget(costs(), G, 4, learned=Learned())
    row = [[7] + list(range(100, 100 + G - 1))]
    low = np.full(G - 1, 0.05)
    rows, _ = select(budget, low, row, ["dflash"])
    assert rows == row
    budget.learned.drafted, budget._probing = WARMUP, True
    rows, _ = select(budget, low, row, ["dflash"])
    assert rows == row
    capped = Budget(costs(), G, 4, max_nodes=5, learned=Learned())
    assert select(capped, low, row, ["dflash"])[0] == [row[0][:5]]


@pytest.mark.parametrize("cap", [1, 2, 5, 9, 20])
def test_never_exceeds_the_node_cap(cap):
    rng = np.random.default_rng(cap)
    cheap = costs(b=0.00001, vp0=0.0001, vp1=0.000001)
    for _ in range(20):
        conf = rng.uniform(0.2, 1.0, G - 1)
        budget = Budget(cheap, G, 4, max_nodes=cap, learned=Learned())
        anchors = budget.plan(conf)
        rows = [[1] + rng.integers(0, 30, G - 1).tolist()]
        vpc = []
        for a in anchors:
            rows.append(rows[0][: a + 1] + rng.integers(0, 30, G - 1 - a).tolist())
            vpc.append(rng.uniform(0.2, 1.0, G - 1 - a))
        names = ["dflash"] + [f"vp{a}" for a in anchors]
        got = select(budget, conf, rows, names, vpc)
        if got is None:
            continue
        tree = build_tree(*got)
        assert tree.size <= cap
        p = plan(cheap, conf=conf, max_nodes=cap)
        assert p.anchors == sorted(set(p.anchors)) and len(p.anchors) <= 4 and all(0 <= a < G - 1 for a in p.anchors)


def test_selection_is_prefix_closed():
    rng = np.random.default_rng(3)
    for _ in range(30):
        spine = [5] + rng.integers(0, 6, G - 1).tolist()
        anchors = sorted(rng.choice(G - 1, size=3, replace=False).tolist())
        rows = [spine] + [spine[: a + 1] + rng.integers(0, 6, G - 1 - a).tolist() for a in anchors]
        names = ["dflash"] + [f"vp{a}" for a in anchors]
        trie = build_tree(rows, names)
        confs = [np.concatenate(([1.0], rng.uniform(0.1, 1, G - 1)))] + [rng.uniform(0.1, 1, G) for _ in anchors]
        value, _ = node_values(trie, confs)
        assert all(value[i] <= value[trie.parents[i]] + 1e-12 for i in range(1, trie.size))
        for cap in (None, 4, 11):
            keep, _ = select_nodes(value, trie.depths, 20.0, over_plain(costs(b=0.0025)), cap)
            assert all(keep[trie.parents[i]] for i in range(1, trie.size) if keep[i])
            if cap is not None:
                assert keep.sum() <= cap
            idx, lengths = trim_rows(trie, keep)
            tree = build_tree([rows[r][: n + 1] for r, n in zip(idx, lengths)], [names[r] for r in idx])
            assert tree.size == keep.sum()


def test_node_values_follow_the_stated_approximation():
    c1, c2, v1, v2 = 0.8, 0.5, 0.7, 0.4
    rows = [[9, 1, 2], [9, 3, 4]]  # spine 9→1→2; branch anchored at 0: 9→3→4
    trie = build_tree(rows, ["dflash", "vp0"])
    value, _ = node_values(trie, [np.array([1.0, c1, c2]), np.array([1.0, v1, v2])])
    assert np.allclose(value, [1.0, c1, c1 * c2, (1 - c1) * v1, (1 - c1) * v1 * v2])
    # a branch whose first token equals the spine's merges into it and hangs its tail off the spine
    trie = build_tree([[9, 1, 2], [9, 1, 4]], ["dflash", "vp1"])
    value, _ = node_values(trie, [np.array([1.0, c1, c2]), np.array([1.0, v1, v2])])
    assert np.allclose(value, [1.0, c1, c1 * c2, c1 * (1 - c2) * v2])


def test_reliability_table_and_calibration_map():
    rel = Reliability()
    rng = np.random.default_rng(1)
    for _ in range(10):
        pred = rng.uniform(0, 1, 2000)
        hit = rng.uniform(0, 1, 2000) < 0.5  # confidences that say nothing: acceptance is 0.5 throughout
        rel.add(pred, hit)
    table = rel.table()
    assert len(table) == 10 and sum(r["n"] for r in table) == 20000
    assert rel.ece() > 0.2
    assert np.allclose(rel(np.array([0.05, 0.95])), 0.5, atol=0.04)  # learnt: maps every bin to ~0.5
    assert abs(rel.platt[1]) < 0.2  # and the fallback fit found the confidences uninformative
    assert Reliability()(0.3) == pytest.approx(0.3)  # no data: the identity
    assert "ECE" in rel.to_markdown("t")


def test_plain_runs_when_drafting_loses_and_back_when_it_wins():
    cost = costs()  # plain step 60 ms
    budget = Budget(cost, G, 4, learned=Learned())
    chain = [[7] + list(range(100, 100 + G - 1))]

    def drafted_cycle(emitted):
        assert budget.plain_steps() == 0
        conf = np.full(G - 1, 0.9)
        budget.branch_starts(conf)
        kept = budget.keep(Candidates(chain, ["dflash"], [["dflash"] * (G - 1)], conf))
        tree = build_tree(kept.rows, kept.names) if kept else None
        size = tree.size if kept else 1
        path = list(range(1 + min(emitted, size - 1)))  # the root and `emitted` accepted drafts
        budget.observe(Outcome(kept, tree, path if kept else None, len(path), 0, 0.01, 0.0, 0.15))

    for _ in range(3):
        drafted_cycle(0)  # 160 ms for one token: plain steps would have made 2.7
    runs = []
    for _ in range(3):
        n = budget.plain_steps()
        runs.append(n)
        budget.observe_plain(n * 0.06, n)
        drafted_cycle(0)  # the probe loses
    assert runs == [4, 8, 16]
    budget.plain_steps()
    for _ in range(3):  # the text got easy: probes and cycles accept whole chains
        drafted_cycle(G - 1)
    assert budget.plain_steps() == 0 and budget.learned.plain_next == 4


def test_confidence_map_follows_a_change():
    budget = Budget(costs(), G, 4, learned=Learned())
    for accepted in (True, False):  # the drafter is first always right, then always wrong at c = 0.95
        for _ in range(150):
            budget.spine_cal.add(np.full(8, 0.95), np.full(8, accepted))
        mapped = float(budget.spine_cal(0.95))
        assert (mapped > 0.9) if accepted else (mapped < 0.1)


# -- the calibration cache -------------------------------------------------------------------------

def tiny_models(dtype=None):
    cfg = target_config("llama", vocab=97, layers=2)
    target = make_target(cfg, seed=0)
    if dtype is not None:
        target.model.set_dtype(dtype)
    return target, make_drafter(cfg, block_size=6, seed=1), make_drafter(cfg, block_size=6, role=ROLE_VP, seed=2)


class Counting:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kw):
        self.calls += 1
        return {"step_s": 0.01, "verify": {"n": [2, 6], "s": [0.011, 0.013]}, "dflash_s": 0.002,
                "vp": {"k": [1, 4], "s": [0.002, 0.004]}}


def test_calibration_is_cached_per_machine_and_model(tmp_path):
    target, d, v = tiny_models()
    fake = Counting()
    first = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake)
    assert first.source == "calibrated" and fake.calls == 1
    assert first.path.is_file() and str(first.path).startswith(str(tmp_path / "home" / "calibration"))
    again = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake)
    assert again.source == "file" and fake.calls == 1
    assert again.model.step == pytest.approx(0.01)


@pytest.mark.parametrize("field,value", [("mlx", "0.0.1"), ("machine", "Darwin arm64 Apple M9 ×8"),
                                         ("device", "Device(gpu, 0) Apple M9"), ("dtype", "mlx.core.float16")])
def test_a_calibration_from_elsewhere_is_redone(field, value):
    target, d, v = tiny_models()
    fake = Counting()
    path = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake).path
    data = json.loads(path.read_text())
    data["key"][field] = value
    data["calibration"]["step_s"] = 123.0
    path.write_text(json.dumps(data))
    got = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake)
    assert got.source == "calibrated" and fake.calls == 2 and got.model.step != 123.0
    assert json.loads(path.read_text())["key"][field] != value  # overwritten with this machine's


def test_another_model_or_dtype_never_reuses_a_calibration():
    target, d, v = tiny_models()
    half, _, _ = tiny_models(mx.float16)
    fake = Counting()
    path = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake).path
    key_half = cm.calibration_key(half, d, v, 6)
    other = cm.cache_path(key_half, "llama")
    other.write_text(path.read_text())  # someone copied the float32 file to the float16 name
    assert cm.load_or_calibrate(half, d, v, 6, calibrate_fn=fake).source == "calibrated"
    assert fake.calls == 2
    assert cm.load_or_calibrate(target, d, v, 8, calibrate_fn=fake).source == "calibrated"  # another γ


def _valid_file_with(key, **changes):
    cal = Counting()()
    for k, v in changes.items():
        cal[k] = v
    return json.dumps({"key": key, "calibration": cal})


@pytest.mark.parametrize("junk", [
    "{not json", "", "[1, 2]", '{"key": {}}', "null",
    lambda key: _valid_file_with(key, step_s="x"),
    lambda key: _valid_file_with(key, verify={"n": [2], "s": [0.1, 0.2]}),
    lambda key: _valid_file_with(key, vp="garbage"),
    lambda key: _valid_file_with(key, dflash_s=-1.0),
    lambda key: _valid_file_with(key, step_s=float("nan")),
])
def test_a_corrupt_cache_file_is_replaced_with_a_warning(junk):
    target, d, v = tiny_models()
    fake = Counting()
    key = cm.calibration_key(target, d, v, 6)
    path = cm.cache_path(key, "llama")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junk(key) if callable(junk) else junk)
    with pytest.warns(RuntimeWarning, match="corrupt"):
        got = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake)
    assert got.source == "calibrated" and fake.calls == 1
    assert json.loads(path.read_text())["calibration"]["step_s"] == 0.01
    assert not [p.name for p in path.parent.iterdir() if ".tmp" in p.name]  # no temporary file left


def test_an_unwritable_cache_dir_warns_and_the_bundle_keeps_the_model(tmp_path, monkeypatch):
    target, d, v = tiny_models()
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("D2SD_HOME", str(tmp_path / "file"))  # calibration/ cannot be created under a file
    fake = Counting()
    with pytest.warns(RuntimeWarning) as caught:
        got = cm.load_or_calibrate(target, d, v, 6, calibrate_fn=fake)
    assert any("cannot write" in str(w.message) for w in caught)
    assert got.source == "calibrated"
    # the cost model (and what the budget learns) stays with the bundle for the process: no recalibration
    import d2sd_mlx.budget as bm

    monkeypatch.setattr(bm, "load_or_calibrate", lambda *a: cm.load_or_calibrate(*a, calibrate_fn=fake))
    bundle = Bundle(target, d, v)
    with pytest.warns(RuntimeWarning):
        first = bm.for_bundle(bundle, "d2sd", 6, 4, None, greedy=True)
    again = bm.for_bundle(bundle, "d2sd", 6, 4, None, greedy=True)
    assert again.cost is first.cost and again.learned is first.learned and fake.calls == 2
    assert bm.for_bundle(Bundle(target, d, v), "d2sd", 6, 4, None, greedy=True).learned is not first.learned


def test_real_calibration_is_sane():
    target, d, v = tiny_models()
    cal = cm.calibrate(target, d, v, 6)
    assert cal["step_s"] > 0 and cal["dflash_s"] > 0 and all(s > 0 for s in cal["verify"]["s"] + cal["vp"]["s"])
    model = cm.CostModel(cal, 6)
    assert model.verify(30) >= model.verify(2) and model.vp(4) >= model.vp(0) == 0.0


def test_online_refinement_follows_real_timings():
    cost = costs()
    before = {"v10": cost.verify(10), "v40": cost.verify(40), "step": cost.step, "d": cost.dflash, "vp": cost.vp(4)}
    for _ in range(100):  # the machine got 2.5x slower: every part is observed slower
        cost.observe_verify(10, 2.5 * before["v10"])
        cost.observe_verify(40, 2.5 * before["v40"])
        cost.observe_dflash(2.5 * before["d"])
        cost.observe_vp(4, 2.5 * before["vp"])
    assert cost.verify(10) == pytest.approx(2.5 * before["v10"], rel=0.1)
    assert cost.verify(40) == pytest.approx(2.5 * before["v40"], rel=0.1)
    assert cost.step == pytest.approx(2.5 * before["step"], rel=0.1)  # unobserved parts follow the load
    v = cost.verify(20)
    cost.observe_verify(20, 100.0)  # one stalled cycle
    assert v < cost.verify(20) < 1.25 * v
    # a part the calibration underestimates (host work around the pass) is corrected by its own factor
    cost = costs()
    v16, step, d = cost.verify(16), cost.step, cost.dflash
    for _ in range(300):
        cost.observe_verify(16, 1.6 * v16)
        cost.observe_dflash(d)
        cost.observe_step(step)
    assert cost.verify(16) == pytest.approx(1.6 * v16, rel=0.15)
    assert cost.step == pytest.approx(step, rel=0.15)


def test_verify_cost_is_a_table_with_steps():
    """On CPU a 12-node verify costs what a 16-node one does: the selection must not trim for nothing."""
    cal = {"step_s": 0.07, "verify": {"n": [2, 8, 16, 24, 48], "s": [0.08, 0.10, 0.10, 0.20, 0.40]},
           "dflash_s": 0.01, "vp": {"k": [1, 4], "s": [0.05, 0.12]}}
    cost = cm.CostModel(cal, G)
    assert cost.verify(12) == pytest.approx(0.10) and cost.verify(20) == pytest.approx(0.15)
    assert cost.verify(64) == pytest.approx(0.40 + 16 * 0.2 / 24)  # beyond the table: the last slope
    budget = Budget(cost, G, 0, learned=warm())
    rows, _ = select(budget, np.full(G - 1, 0.6), [[7] + list(range(100, 100 + G - 1))], ["dflash"])
    assert len(rows[0]) == G  # nodes 8..16 are free, so the whole row is kept
    # a line through the same points would have cut the row after about 4 nodes
    slope = np.polyfit(cal["verify"]["n"], cal["verify"]["s"], 1)[0]
    assert np.sum(0.6 ** np.arange(1, G) > budget.lam * slope) <= 5


# -- lossless under every regime the budget can choose ----------------------------------------

REGIMES = {
    "expensive verify": dict(b=0.05, vp0=0.2),  # short chains and plain one-token steps
    "cheap verify": dict(a=0.001, b=1e-6, vp0=1e-5, vp1=1e-7, step=0.01),  # full trees, K at the cap
    "cpu-like": dict(),
}


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("mode", ["dflash", "dflash2", "d2sd"])
def test_lossless_under_each_regime(regime, mode):
    cfg = target_config("qwen3", vocab=97, layers=3)
    target = make_target(cfg, seed=5, scale=3.0)
    prompt = [4, 8, 15, 16]
    n = 40
    ref = greedy_reference(target, prompt, n)
    seq = prompt + ref
    gamma = 8
    bundle = Bundle(target, OracleDrafter(target, seq, gamma, 0.7, 3), OracleDrafter(target, seq, gamma, 0.7, 4))
    opts = DecodeOptions(gamma, 4, None)
    learned = Learned()
    k_cap = 0 if mode == "dflash" else 4
    budget = Budget(costs(gamma=gamma, **REGIMES[regime]), gamma, k_cap, learned=learned)
    if regime == "expensive verify":  # drafted cycles have been losing: plain runs come first
        learned.drafted, learned.gain = 5, -1.0
    got, kinds = [], set()
    second = {"dflash": None, "dflash2": bundle.drafter, "d2sd": bundle.vp_drafter}[mode]
    for step in decode(target, bundle.drafter, second, mx.array(prompt, dtype=mx.int32), opts, budget):
        got += step.tokens
        if step.cycle is not None:
            kinds.add("plain" if not step.cycle.drafted else "tree" if step.cycle.nodes > 1 else "single")
            if step.cycle.drafted and step.cycle.nodes > 1 and regime == "cheap verify" and mode != "dflash":
                kinds.add(f"K{step.cycle.branches}")
        if len(got) >= n:
            break
    assert got[:n] == ref
    if regime == "expensive verify":
        assert "plain" in kinds
    if regime == "cheap verify" and mode != "dflash":
        assert "K4" in kinds


def test_auto_at_temperature_runs_and_reports_k():
    from d2sd_mlx import stream_generate

    cfg = target_config("llama", vocab=97, layers=2)
    target = make_target(cfg, seed=2, scale=3.0)
    bundle = Bundle(target, make_drafter(cfg, block_size=6, seed=3), make_drafter(cfg, block_size=6, role=ROLE_VP, seed=4))
    for r in stream_generate(bundle, [1, 2, 3], mode="d2sd", max_tokens=30, temp=1.0, seed=0):
        pass
    d = r.stats.to_dict()
    assert d["budget"] == "auto" and d["generation_tokens"] == 30
    assert sum(d["k_counts"].values()) + d["plain_steps"] == d["cycles"]
    json.dumps(d)


def test_the_api_hands_the_budget_to_the_decode_loop(monkeypatch):
    """budget="auto" must hand the decode loop a Budget policy, "fixed" the paper's FixedPolicy."""
    import d2sd_mlx.api as api
    from d2sd_mlx.policy import FixedPolicy

    seen = {}
    real = api.decode

    def spy(target, drafter, second, prompt, opts, policy=None, state=None):
        seen["policy"] = policy
        return real(target, drafter, second, prompt, opts, policy, state)

    monkeypatch.setattr(api, "decode", spy)
    cfg = target_config("llama", vocab=97, layers=2)
    target = make_target(cfg, seed=2, scale=3.0)
    bundle = Bundle(target, make_drafter(cfg, block_size=6, seed=3), make_drafter(cfg, block_size=6, role=ROLE_VP, seed=4))
    for budget, mode in (("auto", "d2sd"), ("fixed", "d2sd"), (None, "d2sd"), (None, "dflash"), ("auto", "dflash2")):
        for r in api.stream_generate(bundle, [1, 2, 3], mode=mode, max_tokens=4, budget=budget):
            pass
        want = budget or ("auto" if mode == "d2sd" else "fixed")
        assert r.stats.budget == want
        assert isinstance(seen["policy"], Budget if want == "auto" else FixedPolicy)

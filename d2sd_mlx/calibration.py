"""Reliability of drafter confidences: recorded (predicted, accepted) pairs, and the calibration map
built from them (binned, with a Platt-scaling fallback). Used by the budget (budget.py) to turn raw
confidences into probabilities of acceptance, and by the reliability report (scripts/reliability.py).
"""

from __future__ import annotations

import numpy as np

BINS = 10


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


class Reliability:
    """Counts of (predicted probability, accepted?) in equal-width bins; also a calibration map.

    The map is binned, with Platt scaling as the fallback for sparse bins: each bin's observed rate is
    shrunk by `pseudo` counts towards σ(a + b·logit(p)), where (a, b) is fitted to the bins by a few
    Newton steps (ridge towards the identity a = 0, b = 1). So a drafter that is under- or
    over-confident everywhere is corrected in every bin, and with no data the map is the identity.
    """

    def __init__(self, bins: int = BINS, pseudo: float = 10.0, decay: float = 1.0, fit: bool = True):
        self.bins = bins
        self.pseudo = pseudo
        self.decay = decay  # counts are multiplied by this at each add (1: keep everything)
        self.fit = fit  # refit the Platt fallback at each add (off for pure records)
        self.n = np.zeros(bins)
        self.hits = np.zeros(bins)
        self.pred = np.zeros(bins)
        self.logits = np.zeros(bins)  # Σ logit(p) per bin
        self.platt = (0.0, 1.0)

    def _bin(self, p: np.ndarray) -> np.ndarray:
        return np.minimum((np.asarray(p, dtype=np.float64) * self.bins).astype(np.int64), self.bins - 1).clip(0)

    def add(self, pred, accepted) -> None:
        pred = np.asarray(pred, dtype=np.float64).reshape(-1)
        if self.decay != 1.0:
            for a in (self.n, self.hits, self.pred, self.logits):
                a *= self.decay
        if pred.size == 0:
            return
        idx = self._bin(pred)
        np.add.at(self.n, idx, 1.0)
        np.add.at(self.hits, idx, np.asarray(accepted, dtype=np.float64).reshape(-1))
        np.add.at(self.pred, idx, pred)
        np.add.at(self.logits, idx, _logit(pred))
        if self.fit:
            self._fit_platt()

    def _fit_platt(self, ridge: float = 2.0, steps: int = 2) -> None:
        """A few damped Newton steps on the weighted log loss of σ(a + b·x) over the bins (x: mean logit)."""
        m = self.n > 1e-6
        w, x, y = self.n[m], self.logits[m] / self.n[m], self.hits[m] / self.n[m]

        def loss(a, b):
            z = a + b * x
            return float(np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * ridge * (a * a + (b - 1.0) ** 2))

        a, b = self.platt
        f = loss(a, b)
        for _ in range(steps):
            p = 1.0 / (1.0 + np.exp(-np.clip(a + b * x, -30, 30)))
            r, s = w * (p - y), w * p * (1.0 - p)
            g = np.array([r.sum() + ridge * a, (r * x).sum() + ridge * (b - 1.0)])
            h = np.array([[s.sum() + ridge, (s * x).sum()], [(s * x).sum(), (s * x * x).sum() + ridge]])
            da, db = np.linalg.solve(h, g)
            t = 1.0
            while t > 1e-3:  # backtrack until the loss does not grow
                na, nb = a - t * da, b - t * db
                nf = loss(na, nb)
                if nf <= f:
                    break
                t *= 0.5
            else:
                break
            a, b, f = na, nb, nf
        self.platt = (a, b)

    def __call__(self, p):
        """Calibrated probability of acceptance for raw confidence(s) p."""
        p = np.asarray(p, dtype=np.float64)
        idx = self._bin(p)
        a, b = self.platt
        prior = 1.0 / (1.0 + np.exp(-(a + b * _logit(p))))
        return (self.hits[idx] + self.pseudo * prior) / (self.n[idx] + self.pseudo)

    @property
    def count(self) -> int:
        return int(round(self.n.sum()))

    def table(self) -> list[dict]:
        rows = []
        for b in range(self.bins):
            if self.n[b] >= 0.5:
                rows.append({"bin": f"{b / self.bins:.1f}-{(b + 1) / self.bins:.1f}", "n": int(round(self.n[b])),
                             "predicted": round(self.pred[b] / self.n[b], 4), "accepted": round(self.hits[b] / self.n[b], 4)})
        return rows

    def ece(self) -> float:
        """Expected calibration error: Σ_bins n/N · |mean predicted − accepted rate|."""
        tot = self.n.sum()
        if not tot:
            return 0.0
        m = self.n > 0
        return float(np.sum(np.abs(self.pred[m] - self.hits[m])) / tot)

    def to_markdown(self, title: str) -> str:
        lines = [f"{title}: {self.count} nodes, ECE {self.ece():.3f}", "",
                 "| predicted bin | nodes | mean predicted | accepted |", "| --- | --- | --- | --- |"]
        lines += [f"| {r['bin']} | {r['n']} | {r['predicted']:.3f} | {r['accepted']:.3f} |" for r in self.table()]
        return "\n".join(lines) + "\n"

"""`ShardedTarget`: the `Target` of one rank when the target is split over an `mx.distributed` group.

Rank 0 (the leader) runs the whole decode loop, drafters and sampling included, exactly as in one
process; its target's `forward` first broadcasts a command frame (the tokens, the tree's parents,
the taps, the commits since the last frame, its cache offset), then runs its share of the pass.
The other ranks (followers) sit in `serve`, running each command on their share of the weights.
See the package docstring for why the ranks agree this way.

A pass, pipeline: rank 0 embeds, runs its layers and sends [hidden ‖ tap features so far] to rank 1;
each rank runs its layers, appends its taps and sends on; the last rank sends back to rank 0, which
applies the final norm and the head. Tensor parallel: every rank runs every layer on its shard of
the heads and the MLP (the all-sums are inside the sharded projections); only rank 0 applies the head.
"""

from __future__ import annotations

import time

import numpy as np

import mlx.core as mx
from mlx_lm.models.cache import KVCache
from metal_kernels import pack_mask

from ..errors import D2SDError
from ..target import Forward, Target, causal_block, tree_block
from .layout import PIPELINE, Layout
from .link import DistributedError, LeaderError, Link

CAUSAL, TREE, END = 1, 2, 3  # commands
FIRST_PATIENCE = 10.0  # the wait for a generation's first command may last this many watchdog timeouts


class _Cache(list):
    """Rank 0's cache for one sequence; the followers key theirs by `cid`."""

    def __init__(self, layers: int, cid: int):
        super().__init__(KVCache() for _ in range(layers))
        self.cid = cid


class _TreeShape:
    """What a tree pass needs of a tree, rebuilt by the followers from the parents rank 0 sends."""

    def __init__(self, parents: np.ndarray):
        n = parents.size
        self.depths = np.zeros(n, dtype=np.int32)
        vis = np.eye(n, dtype=bool)
        for i in range(1, n):
            p = int(parents[i])
            if not 0 <= p < i:
                raise DistributedError(f"a tree from rank 0 has node {i} with parent {p}; the ranks are out of step")
            self.depths[i] = self.depths[p] + 1
            vis[i] |= vis[p]
        self._vis = vis

    def packed_visible(self):
        return pack_mask(self._vis)


class ShardedTarget(Target):
    """This rank's share of the target; sizes and config stay those of the whole target (drafter checks)."""

    def __init__(self, target: Target, layout: Layout, link: Link):
        self.__dict__.update(target.__dict__)  # config, tokenizer, sizes of the whole target
        self.layout, self.link = layout, link
        self.rank, self.size = layout.rank, layout.size
        self.is_leader = self.rank == 0
        self.layout_name = layout.name  # part of the cost-model calibration key
        self.hidden_dtype = self.inner.norm.weight.dtype
        if layout.kind == PIPELINE:
            self.layers = self.inner.layers  # already cut to [start, end) by `split`
        self._seq = 0  # frames sent (leader) / received (followers)
        self._cids = 0
        self._pending: list[int] = []  # leader: commits not yet told (cid, len, path…), sent with the next frame
        self._caches: dict[int, list] = {}  # followers: cid -> [cache, K/V of its last tree pass]
        self.in_session = False

    @property
    def pipeline(self) -> bool:
        return self.layout.kind == PIPELINE

    def make_cache(self):
        self._cids += 1
        return _Cache(len(self.layers), self._cids)

    # -- rank 0 ---------------------------------------------------------------------------------
    def forward(self, tokens: mx.array, cache, *, tree=None, taps=(), chunk: int = 2048) -> Forward:
        if not self.is_leader:
            raise D2SDError(f"rank {self.rank}: only rank 0 drives a split target (the others run `serve`)")
        if not self.in_session:
            raise D2SDError("a split target runs passes only inside `stream_generate`/`generate` (the other "
                            "ranks follow rank 0 there)")
        toks = np.asarray(tokens, dtype=np.int32).reshape(-1)
        parents = tree.parents.astype(np.int32) if tree is not None else np.zeros(0, dtype=np.int32)
        taps = [int(t) for t in taps]
        head = [0, self._seq, TREE if tree is not None else CAUSAL, cache.cid, cache[0].offset, toks.size,
                len(taps), len(self._pending), chunk]
        payload = np.concatenate([np.array(taps, dtype=np.int32), toks, parents, np.array(self._pending, dtype=np.int32)])
        self.link.broadcast(head, payload, "sending a command to the other ranks")
        self._seq += 1
        self._pending = []
        out, _ = self._pass(mx.array(toks), cache, tree, taps, chunk)
        return out

    def commit(self, cache, kv, path: list[int]) -> None:
        super().commit(cache, kv, path)
        if self.is_leader:  # the followers commit the same path when the next frame arrives
            self._pending += [cache.cid, len(path), *path]

    def session(self, steps):
        """Rank 0: run the generation `steps` (a generator), then tell the followers it is over (with
        rank 0's error, if it failed). Other ranks: serve rank 0's commands until then; yields nothing."""
        if not self.is_leader:
            steps.close()
            self.serve()
            return
        self.in_session = True
        self.link.reset_times()
        report = self.report({})
        error = None
        try:
            for r in steps:
                r.stats.dist = self.report(report)
                yield r
        except BaseException as e:
            error = e
            raise
        finally:
            self.in_session = False
            self._pending = []  # the followers drop their caches at END
            steps.close()
            if not self.link.broken:
                msg = np.frombuffer(f"{type(error).__name__}: {error}".encode(), dtype=np.uint8).astype(np.int32) \
                    if error is not None and not isinstance(error, GeneratorExit) else np.zeros(0, dtype=np.int32)
                self.link.broadcast([0, self._seq, END, 0, 0, 0, 0, 0, 0, int(msg.size > 0)], msg,
                                    "telling the other ranks the generation ended")
                self._seq += 1
                # the last response's stats (still held by the caller) get every rank's times
                report["per_rank"] = self.link.gather_times("collecting the ranks' timings")

    def report(self, into: dict) -> dict:
        """Rank 0's timings so far, written into `into` (which the responses' stats share)."""
        t = self.link.times
        into.update(layout=self.layout.kind, ranks=self.size, passes=t["passes"],
                    **{k: round(t[k], 4) for k in ("sync_s", "compute_s", "wait_s")})
        return into

    # -- the other ranks ------------------------------------------------------------------------
    def serve(self) -> None:
        """Run rank 0's commands until it ends the generation; raise LeaderError if it failed there."""
        self._caches.clear()
        self.link.reset_times()
        first = True
        try:
            while True:  # before a generation's first command rank 0 may still be loading or busy elsewhere
                head, body = self.link.broadcast(None, None, "waiting for rank 0's next command",
                                                 FIRST_PATIENCE if first else 1.0)
                first = False
                seq, cmd, cid, offset, n, n_taps, n_commit, chunk = (int(x) for x in head[1:9])
                if seq != self._seq:
                    raise DistributedError(f"rank {self.rank}: expected command {self._seq} from rank 0, got "
                                           f"{seq}; the ranks are out of step")
                self._seq += 1
                if cmd == END:
                    self.link.gather_times("sending this rank's timings")
                    if head[9]:
                        raise LeaderError(bytes(body.astype(np.uint8)).decode(errors="replace"))
                    return
                taps, toks = body[:n_taps].tolist(), body[n_taps : n_taps + n]
                rest = body[n_taps + n :]
                parents = rest[:n] if cmd == TREE else None
                self._apply_commits(rest[-n_commit:] if n_commit else rest[:0])
                cache = self._cache_at(cid, offset)
                tree = _TreeShape(parents) if parents is not None else None
                _, kv = self._pass(mx.array(toks), cache, tree, taps, chunk)
                self._caches[cid][1] = kv
        finally:
            self._caches.clear()

    def _apply_commits(self, words: np.ndarray) -> None:
        i = 0
        while i < words.size:
            cid, n = int(words[i]), int(words[i + 1])
            path = words[i + 2 : i + 2 + n].tolist()
            cache, kv = self._caches.get(cid, (None, None))
            if kv is None:
                raise DistributedError(f"rank {self.rank}: rank 0 committed a tree this rank never verified; "
                                       "the ranks are out of step")
            Target.commit(self, cache, kv, path)
            self._caches[cid][1] = None
            i += 2 + n

    def _cache_at(self, cid: int, offset: int) -> list:
        """This rank's cache for `cid`, brought to rank 0's offset (rank 0 may have trimmed its own)."""
        if cid not in self._caches:
            self._caches[cid] = [[KVCache() for _ in self.layers], None]
        cache = self._caches[cid][0]
        mine = cache[0].offset
        if mine > offset:
            for c in cache:
                c.trim(mine - offset)
        elif mine < offset:
            raise DistributedError(f"rank {self.rank} holds {mine} committed tokens but rank 0 holds {offset}: "
                                   "the ranks disagree on the committed path")
        return cache

    # -- one pass, every rank -------------------------------------------------------------------
    def _pass(self, tokens: mx.array, cache, tree, taps: list[int], chunk: int):
        """This rank's share of one forward; rank 0 gets the Forward, the others (None, tree K/V)."""
        self.link.times["passes"] += 1
        tap_layers = sorted(set(taps))
        kv = [] if tree is not None else None
        if tree is not None:
            spans = [(0, tokens.shape[0])]
            positions = mx.array(tree.depths + cache[0].offset, dtype=mx.int32)
            visible = tree.packed_visible()
        else:
            spans = [(s, min(s + chunk, tokens.shape[0])) for s in range(0, tokens.shape[0], chunk)]
        feats, logits = [], None
        for s, e in spans:
            h, got = self._receive(tokens[s:e], tap_layers)
            mask = "causal" if tree is None and e - s > 1 else None
            for i, (layer, c) in enumerate(zip(self.layers, cache)):
                if tree is None:
                    h = causal_block(layer, h, mask, c)
                else:
                    h, layer_kv = tree_block(layer, h, positions, visible, c)
                    kv.append(layer_kv)
                if self.layout.start + i in tap_layers:
                    got.append(h)
            h, got = self._hand_on(h, got, cache, kv, len(tap_layers))
            if not self.is_leader:
                continue
            by_layer = dict(zip(tap_layers, got))
            if taps:
                feats.append(mx.concatenate([by_layer[t] for t in taps], axis=-1)[0])
            logits = self.head(self.inner.norm(h if tree is not None else h[:, -1:]))[0]
            if len(spans) > 1:
                mx.eval(logits, *feats)
        if not self.is_leader:
            return None, kv
        f = (mx.concatenate(feats, axis=0) if len(feats) > 1 else feats[0]) if taps else None
        return Forward(logits, f, kv), kv

    def _receive(self, part: mx.array, tap_layers: list[int]):
        """The input hidden states of this rank's layers, and the tap features computed before them."""
        if not self.pipeline or self.is_leader:
            return self.embed(part[None]), []
        before = sum(1 for t in tap_layers if t < self.layout.start)
        msg = self.link.recv((1, part.shape[0], self.hidden_size * (1 + before)), self.hidden_dtype,
                             self.rank - 1, f"waiting for rank {self.rank - 1}'s hidden states")
        return _split(msg, self.hidden_size)

    def _hand_on(self, h, got, cache, kv, n_taps: int):
        """Pipeline: send [h ‖ taps] to the next rank (rank 0 then waits for the last one's).
        Tensor parallel: evaluate the pass here (its all-sums run now). Returns rank 0's (h, taps)."""
        state = [c.state for c in cache] + ([x for pair in kv for x in pair] if kv else [])
        if not self.pipeline:
            with self.link.waiting("in a tensor-parallel pass"):
                mx.eval(h, *got, state)
            return h, got
        msg = mx.concatenate([h, *got], axis=-1) if got else h
        if msg.dtype != self.hidden_dtype:
            raise D2SDError(f"pipeline hidden states are {msg.dtype}, expected {self.hidden_dtype}")
        t = time.perf_counter()
        mx.eval(msg, state)
        self.link.times["compute_s"] += time.perf_counter() - t
        nxt = (self.rank + 1) % self.size
        self.link.send(msg, nxt, f"sending hidden states to rank {nxt}")
        if not self.is_leader:
            return None, None
        last = self.size - 1
        back = self.link.recv((1, h.shape[1], self.hidden_size * (1 + n_taps)),
                              self.hidden_dtype, last, f"waiting for rank {last}'s hidden states")
        return _split(back, self.hidden_size)


def _split(msg: mx.array, hidden: int):
    n = msg.shape[-1] // hidden
    return msg[..., :hidden], [msg[..., k * hidden : (k + 1) * hidden] for k in range(1, n)]

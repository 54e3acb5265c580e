"""The Nano online loop: predict, then learn, one update transaction per chunk.

For S sessions at once (a session is S = 1; a sweep is S = 256), every step:

1. the environment advances; four predictors see the same observation and action:
   the frozen base (*baseline*), the session's own starting weights without updates
   (*frozen*: the base for a new session, the fork point for a fork, in every run of the
   session), the session's live fast weights (*adaptive*), and the true simulator given μ
   (*oracle*);
2. at the end of every chunk of ``plasticity.chunk`` steps (aligned to the global step
   counter, so stopping and resuming anywhere gives the same chunks) the engine runs one
   transaction on the chunk: gradient on the training steps, a held-out post-check on the
   steps it did not train on (every ``holdout_every``-th step), commit or bit-exact rollback.

Predictions for a step are always made *before* the update that uses that step, so the
adaptive error is an honest online (prequential) error.

The whole resume point is ``NanoRunner.state()``: env (incl. RNG), hidden states, the
partial chunk, fast weights, optimiser and engine state.

With ``plasticity.canary`` the runner also builds ``NanoCanary`` (fixed reference
trajectories, rebuilt identically from the config on resume): its loss under the current fast
weights is probed around every update (``canary_loss``, ``canary_loss.0`` ...), its gradients
feed the engine's directional signal and SPFW (``plasticity.spfw``), and the per-step rows get
``canary_loss`` / ``canary_delta`` columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from ttt.engine import BatchedMuonBackend, UpdateEngine, canary_probe_dict
from ttt.engine.backends import PlasticBackend
from ttt.nano.config import NanoCanaryConfig, PlasticityConfig
from ttt.nano.env import EnvConfig, NanoEnv, oracle_step, simulate
from ttt.nano.model import (
    NanoSSMConfig,
    features,
    forward,
    mean_over_time,
    mse_per_step,
    plastic_names,
)
from ttt.safety.spfw import SpfwProjection, canary_grads

CANARY_STEP_COLUMNS = ("canary_loss", "canary_delta")


class NanoCanary:
    """Fixed reference trajectories of S sessions and their loss under given fast weights.

    Session i gets ``cfg.n`` trajectories made from its own env config with μ = ``cfg.mu``
    (constant schedule, ``cfg.env_mode`` if set) and seeds ``cfg.seed + j``; so session i of
    a batch has exactly the canary it has alone.
    """

    def __init__(
        self,
        cfg: NanoCanaryConfig,
        env_cfgs: list[EnvConfig],
        mcfg: NanoSSMConfig,
        a_raw: Tensor,
    ) -> None:
        self.cfg = cfg
        self.mcfg = mcfg
        self.a_raw = a_raw
        self.S = len(env_cfgs)
        cfgs = [
            replace(
                c,
                mu=cfg.mu,
                mode=cfg.env_mode or c.mode,
                schedule="constant",
                drift_rate=0.0,
                jump_step=0,
                jump_to=None,
            )
            for c in env_cfgs
            for _ in range(cfg.n)
        ]
        seeds = [cfg.seed + j for _ in env_cfgs for j in range(cfg.n)]
        obs, act, _ = simulate(cfgs, seeds, cfg.steps)  # (T+1, S*n, 4), (T, S*n, 2)
        self.obs, self.act = obs, act

    def losses(self, plastic: dict[str, Tensor]) -> Tensor:
        """Canary MSE per session and trajectory, (S, n); differentiable w.r.t. ``plastic``.

        plastic: shared (rows, cols) for one session, or per session (S, rows, cols).
        """
        n = self.cfg.n
        p = {k: (w.repeat_interleave(n, dim=0) if w.dim() == 3 else w) for k, w in plastic.items()}
        out = forward({**p, "a_raw": self.a_raw}, self.mcfg, self.obs[:-1], self.act, exact=False)
        per = mean_over_time(mse_per_step(out, self.obs))  # (S*n,)
        return per.view(self.S, n).double()


@dataclass
class RunnerState:
    """Everything needed to continue a session exactly (tensors are safetensors-ready)."""

    t: int
    commits: int
    plastic: dict[str, Tensor]
    optim: dict[str, Tensor]
    engine: dict[str, Tensor]
    tensors: dict[str, Tensor]
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChunkOutput:
    """What one call of ``run_chunk`` produced (session 0 of the batch when S = 1)."""

    t: list[int]
    rows: list[list[Any]]
    events: list[dict[str, Any]]
    committed_weights: dict[str, Tensor]
    obs: Tensor  # (n, 4)
    actions: Tensor  # (n, 2)
    mu: Tensor  # (n,)
    pred_baseline: Tensor  # (n, 4)
    pred_adaptive: Tensor  # (n, 4)
    mse: dict[str, Tensor] = field(default_factory=dict)  # name -> (n, S)
    # Per session, when the chunk ended with a transaction (else empty): its status and the
    # check that decided a rollback (None for a commit).
    statuses: list[str] = field(default_factory=list)
    fired: list[str | None] = field(default_factory=list)


class NanoRunner:
    """Online adaptation of S sessions that share one base and one plasticity config."""

    def __init__(
        self,
        mcfg: NanoSSMConfig,
        base_params: dict[str, Tensor],
        env: NanoEnv,
        pcfg: PlasticityConfig,
        plastic: dict[str, Tensor],
        *,
        seeds: list[int],
        batched: bool,
        frozen_plastic: dict[str, Tensor] | None = None,
    ) -> None:
        self.mcfg = mcfg
        self.pcfg = pcfg
        self.env = env
        self.seeds = seeds
        self.S = env.n_sessions
        self.base = {k: v.detach().clone() for k, v in base_params.items()}
        self.a_raw = self.base["a_raw"]
        if not batched:
            if self.S != 1:
                raise ValueError("a session runner holds exactly one session")
            # A session is a batch of one: the same code (and bits) as a sweep member.
            plastic = {n: plastic[n].unsqueeze(0) for n in plastic_names}
            if frozen_plastic is not None:
                frozen_plastic = {n: frozen_plastic[n].unsqueeze(0) for n in plastic_names}
        # Frozen weights of the *frozen* predictor: the session's own start ("the session
        # without updates"); default the weights this runner starts from.
        frozen = plastic if frozen_plastic is None else frozen_plastic
        self.frozen_is_start = frozen_plastic is None
        self.start_plastic = {n: frozen[n].detach().clone() for n in plastic_names}
        fast = {n: plastic[n].detach().clone().requires_grad_(True) for n in plastic_names}
        self.backend: PlasticBackend = BatchedMuonBackend(fast, pcfg.muon())
        self.batched = batched
        ccfg = pcfg.canary_config()
        self.canary = (
            NanoCanary(ccfg, list(env.cfgs), mcfg, self.a_raw) if ccfg is not None else None
        )
        spfw_cfg = pcfg.spfw_config()
        projection = (
            SpfwProjection(spfw_cfg, self._canary_grads, canary_losses_fn=self._canary_losses_now)
            if spfw_cfg is not None
            else None
        )
        want_grads = ccfg is not None and (ccfg.grad_alignment or spfw_cfg is not None)
        self.engine: UpdateEngine = pcfg.engine(
            self.backend,
            projection=projection,
            canary_grads_fn=self._canary_grads if want_grads else None,
        )
        n = mcfg.n_state
        self.h_base = torch.zeros(self.S, n)
        self.h_adapt = torch.zeros(self.S, n)
        self.h_frozen = torch.zeros(self.S, n)
        # The training window: the last ``buffer_chunks`` complete chunks plus the current
        # partial chunk, and the adaptive hidden state at the start of each of its chunks.
        self.pend_obs = env.obs.unsqueeze(0).clone()  # (L+1, S, 4)
        self.pend_act = torch.zeros(0, self.S, 2, dtype=env.obs.dtype)  # (L, S, 2)
        self.pend_h0 = torch.zeros(1, self.S, n)  # (chunks in window, S, n)
        # Global step at which each pend_h0 entry applies (the window's chunk starts). Kept
        # explicitly so that a run with another chunk size slides the window correctly.
        self.pend_t0 = torch.tensor([int(env.t)], dtype=torch.int64)  # (chunks in window,)
        self.commits = 0
        self.nonlinear = env.nonlinear
        # Update judge (benchmarks; off by default and never changes a session's numbers):
        # after every write that stepped, the alternative the checks did not choose (the
        # candidate of a rolled-back write, the weights before a committed one) is kept
        # aside with the hidden state it would have carried, and both are scored on the
        # steps up to the next update. ``rollbacks_justified``: rolled-back writes whose
        # candidate predicted those steps worse (the rest of ``rollbacks_judged`` were false
        # alarms); ``commits_harmful``: committed writes that predicted them worse than the
        # weights before (of ``commits_judged``).
        self.judge_updates = False
        self._alternative: tuple[dict[str, Tensor], Tensor, Tensor, Tensor] | None = None
        self.rollbacks_judged = torch.zeros(self.S, dtype=torch.int64)
        self.rollbacks_justified = torch.zeros(self.S, dtype=torch.int64)
        self.commits_judged = torch.zeros(self.S, dtype=torch.int64)
        self.commits_harmful = torch.zeros(self.S, dtype=torch.int64)

    # -- construction ------------------------------------------------------------------
    @classmethod
    def fresh(
        cls,
        mcfg: NanoSSMConfig,
        base_params: dict[str, Tensor],
        env_cfg: EnvConfig,
        pcfg: PlasticityConfig,
        *,
        seed: int,
    ) -> NanoRunner:
        env = NanoEnv(env_cfg, seed)
        plastic = {n: base_params[n] for n in plastic_names}
        return cls(mcfg, base_params, env, pcfg, plastic, seeds=[seed], batched=False)

    @classmethod
    def resume(
        cls,
        mcfg: NanoSSMConfig,
        base_params: dict[str, Tensor],
        env_cfg: EnvConfig,
        pcfg: PlasticityConfig,
        st: RunnerState,
        *,
        frozen_plastic: dict[str, Tensor] | None = None,
    ) -> NanoRunner:
        """Continue from ``st``; ``frozen_plastic``: the *frozen* predictor's weights (the
        session's own start), default the weights in ``st``."""
        seed = int(st.info["seeds"][0])
        env = NanoEnv(env_cfg, seed)
        env.load_state_dict({k[4:]: v for k, v in st.tensors.items() if k.startswith("env.")})
        r = cls(
            mcfg,
            base_params,
            env,
            pcfg,
            st.plastic,
            seeds=[seed],
            batched=False,
            frozen_plastic=frozen_plastic,
        )
        r._load(st)
        return r

    @classmethod
    def batch(
        cls,
        mcfg: NanoSSMConfig,
        base_params: dict[str, Tensor],
        env_cfgs: list[EnvConfig],
        pcfg: PlasticityConfig,
        seeds: list[int],
    ) -> NanoRunner:
        env = NanoEnv(env_cfgs, seeds)
        s = len(seeds)
        plastic = {n: base_params[n].unsqueeze(0).repeat(s, 1, 1) for n in plastic_names}
        return cls(mcfg, base_params, env, pcfg, plastic, seeds=list(seeds), batched=True)

    def _load(self, st: RunnerState) -> None:
        tz = st.tensors
        self.h_base = tz["h.baseline"].clone()
        self.h_adapt = tz["h.adaptive"].clone()
        if self.frozen_is_start:  # frozen = the weights in st: same hidden state as adaptive
            self.h_frozen = self.h_adapt.clone()
        elif "h.frozen" in tz:
            self.h_frozen = tz["h.frozen"].clone()
        else:  # a state saved before h.frozen was kept: the closest known hidden state
            base_w = all(bool((self.start_plastic[n] == self.base[n]).all()) for n in plastic_names)
            self.h_frozen = (self.h_base if base_w else self.h_adapt).clone()
        self.pend_obs = tz["pending.obs"].clone()
        self.pend_act = tz["pending.act"].clone()
        self.pend_h0 = tz["pending.h0"].clone()
        if "pending.t0" in tz:
            self.pend_t0 = tz["pending.t0"].clone().to(torch.int64)
        else:  # states written before pending.t0 existed: chunks of the current size
            start = st.t - self.pend_act.shape[0]
            k = self.pend_h0.shape[0]
            self.pend_t0 = start + self.pcfg.chunk * torch.arange(k, dtype=torch.int64)
        self.commits = st.commits
        self.backend.load_optimizer_state(
            {k: v.unsqueeze(0) if v.dim() == 2 else v for k, v in st.optim.items()}
        )
        if st.engine:
            self.engine.load_state_dict({k[7:]: v for k, v in st.engine.items()})
        if int(self.env.t) != st.t:
            raise ValueError(f"resume state is inconsistent: env t={self.env.t}, state t={st.t}")

    @property
    def t(self) -> int:
        return int(self.env.t)

    @property
    def per_step_extra_columns(self) -> tuple[str, ...]:
        """Columns the per-step rows carry after the standard ones."""
        return CANARY_STEP_COLUMNS if self.canary is not None else ()

    # -- canary ------------------------------------------------------------------------
    def _canary_losses_now(self) -> Tensor:
        """(S, n) canary losses of the fast weights in force (no grad)."""
        if self.canary is None:
            raise RuntimeError("no canary configured")
        with torch.no_grad():
            return self.canary.losses({k: v.detach() for k, v in self.backend.params.items()})

    def _canary_grads(self) -> dict[str, Tensor]:
        """Per-canary gradients at the current weights: {name: (S, n, rows, cols)}."""
        if self.canary is None:
            raise RuntimeError("no canary configured")
        params = self.backend.params
        with torch.enable_grad():
            losses = self.canary.losses(dict(params))  # (S, n)
            return canary_grads(losses, params, batched=True)

    def _unbatch(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """A session's (1, r, c) tensors as (r, c) (the files' shape); a sweep's unchanged."""
        return tensors if self.batched else {k: v[0] for k, v in tensors.items()}

    def state(self) -> RunnerState:
        plastic = self._unbatch({n: p.detach().clone() for n, p in self.backend.params.items()})
        tensors = {f"env.{k}": v for k, v in self.env.state_dict().items()}
        tensors.update(
            {
                "h.baseline": self.h_base.clone(),
                "h.adaptive": self.h_adapt.clone(),
                "h.frozen": self.h_frozen.clone(),
                "pending.obs": self.pend_obs.clone(),
                "pending.act": self.pend_act.clone(),
                "pending.h0": self.pend_h0.clone(),
                "pending.t0": self.pend_t0.clone(),
            }
        )
        return RunnerState(
            t=self.t,
            commits=self.commits,
            plastic=plastic,
            optim=self._unbatch(self.backend.optimizer_state()),
            engine={f"engine.{k}": v for k, v in self.engine.state_dict().items()},
            tensors=tensors,
            info={"seeds": list(self.seeds)},
        )

    # -- the loop ----------------------------------------------------------------------
    def _params(self, plastic: dict[str, Tensor]) -> dict[str, Tensor]:
        return {**plastic, "a_raw": self.a_raw}

    def steps_to_boundary(self) -> int:
        return self.pcfg.chunk - (self.t % self.pcfg.chunk)

    @torch.no_grad()
    def _predict(self, obs: Tensor, act: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Predictions of all four models for obs (n+1, S, 4), act (n, S, 2)."""
        inp = obs[:-1]
        fast = {n: p.detach() for n, p in self.backend.params.items()}
        ob = forward(self.base, self.mcfg, inp, act, self.h_base)
        of = forward(self._params(self.start_plastic), self.mcfg, inp, act, self.h_frozen)
        oa = forward(self._params(fast), self.mcfg, inp, act, self.h_adapt)
        self.h_base, self.h_frozen, self.h_adapt = ob.h_last, of.h_last, oa.h_last
        mse = {
            "baseline": mse_per_step(ob, obs),
            "frozen": mse_per_step(of, obs),
            "adaptive": mse_per_step(oa, obs),
        }
        return mse, {"baseline": ob.pred, "adaptive": oa.pred}

    def run_chunk(self, n: int | None = None, *, record: bool = True) -> ChunkOutput:
        """Advance ``n`` steps (at most to the next chunk boundary; default: to it)."""
        limit = self.steps_to_boundary()
        n = limit if n is None else n
        if not 1 <= n <= limit:
            raise ValueError(f"run_chunk: n must be in [1, {limit}] at t={self.t}, got {n}")
        t0 = self.t
        obs, act, mus = self.env.rollout(n)  # (n+1, S, 4), (n, S, 2), (n, S)
        mse, preds = self._predict(obs, act)
        if self._alternative is not None:
            self._judge(obs, act, mse["adaptive"])
        oracle = oracle_step(obs[:-1], act, mus, self.nonlinear.expand(n, self.S))
        mse["oracle"] = (oracle - obs[1:]).pow(2).mean(-1).to(torch.float32)  # (n, S)
        self.pend_obs = torch.cat([self.pend_obs, obs[1:]])
        self.pend_act = torch.cat([self.pend_act, act])
        events: list[dict[str, Any]] = []
        did = torch.zeros(n, self.S, dtype=torch.bool)
        ok = torch.zeros(n, self.S, dtype=torch.bool)
        status: list[list[str]] = [[""] * self.S for _ in range(n)]
        statuses: list[str] = []
        fired: list[str | None] = []
        if self.t % self.pcfg.chunk == 0:
            events, statuses, fired = self._transact(
                self.t - 1, events=record or self.canary is not None
            )
            did[-1] = True
            ok[-1] = torch.tensor([st == "commit" for st in statuses])
            status[-1] = list(statuses)
        out = ChunkOutput(
            t=list(range(t0, t0 + n)),
            rows=[],
            events=events,
            statuses=statuses,
            fired=fired,
            committed_weights=(
                self._unbatch({k: p.detach().clone() for k, p in self.backend.params.items()})
                if record and self.S == 1
                else {}
            ),
            obs=obs[:-1, 0],
            actions=act[:, 0],
            mu=mus[:, 0],
            pred_baseline=preds["baseline"][:, 0],
            pred_adaptive=preds["adaptive"][:, 0],
            mse=mse,
        )
        if record and self.S == 1:
            b, a, f, o = (
                mse[k][:, 0].tolist() for k in ("baseline", "adaptive", "frozen", "oracle")
            )
            m = mus[:, 0].tolist()
            out.rows = [
                [t0 + i, b[i], a[i], f[i], o[i], int(did[i, 0]), int(ok[i, 0]), status[i][0], m[i]]
                for i in range(n)
            ]
            if self.canary is not None:
                for row in out.rows:
                    row.extend([None, None])
                if events:  # the update is recorded on the chunk's last row
                    out.rows[-1][-2:] = _canary_cells(events[0])
        return out

    @torch.no_grad()
    def _judge(self, obs: Tensor, act: Tensor, kept_mse: Tensor) -> None:
        """Score the alternatives of the last writes on the steps just observed (see
        __init__)."""
        assert self._alternative is not None
        alt, h_alt, rolled, committed = self._alternative
        self._alternative = None
        out = forward(self._params(alt), self.mcfg, obs[:-1], act, h_alt)
        alt_mse, in_force = mean_over_time(mse_per_step(out, obs)), mean_over_time(kept_mse)
        self.rollbacks_judged += rolled.to(torch.int64)
        self.rollbacks_justified += (rolled & (alt_mse > in_force)).to(torch.int64)
        self.commits_judged += committed.to(torch.int64)
        self.commits_harmful += (committed & (alt_mse < in_force)).to(torch.int64)

    def _transact(
        self, t_last: int, *, events: bool = True
    ) -> tuple[list[dict[str, Any]], list[str], list[str | None]]:
        """One engine transaction on the training window (last ``buffer_chunks`` chunks).

        Held-out steps are chosen by the global step index (every ``holdout_every``-th step),
        so a step is either always trained on or never, whichever window it falls in.
        """
        obs, act, h0 = self.pend_obs, self.pend_act, self.pend_h0[0]  # (L+1,S,4), (L,S,2), (S,n)
        length = act.shape[0]
        idx = torch.arange(self.t - length, self.t)  # global t of each window step
        hold = (idx % self.pcfg.holdout_every) == (self.pcfg.holdout_every - 1)  # (L,)
        train = ~hold
        params = self.backend.params
        inp = obs[:-1]
        # (L, S, in), fixed for the whole transaction; stored session-major so that each
        # session's window is one contiguous matrix for the batched matmuls.
        x = features(self.mcfg, inp, act).transpose(0, 1).contiguous().transpose(0, 1)

        def loss_fn() -> Tensor:
            out = forward(self._params(params), self.mcfg, inp, act, h0, exact=False, x=x)
            return mean_over_time(mse_per_step(out, obs), train)  # (S,)

        h_probed: list[Tensor] = []  # window-end hidden states: before, after the step

        candidate: dict[str, Tensor] = {}
        before: dict[str, Tensor] = {}

        def probe_fn() -> dict[str, Tensor]:
            fast = {k: v.detach() for k, v in params.items()}
            if self.judge_updates:  # pre-step probe: the weights before; post: the candidate
                (candidate if h_probed else before).update({k: v.clone() for k, v in fast.items()})
            out = forward(self._params(fast), self.mcfg, inp, act, h0, exact=False, x=x)
            h_probed.append(out.h_last)
            per = mse_per_step(out, obs)  # (C, S)
            probes = {
                "holdout_loss": mean_over_time(per, hold),
                "train_loss_probe": mean_over_time(per, train),
                "max_h": out.max_abs_h.amax(0),
            }
            if self.canary is not None:
                probes.update(canary_probe_dict(self._canary_losses_now()))
            return probes

        res = self.engine.transact(t=t_last, loss_fn=loss_fn, probe_fn=probe_fn, events=events)
        # Carry the hidden state computed with the weights now in force: the post-probe's
        # where the write committed, the pre-probe's where it did not (a rollback restores
        # the weights bit for bit, so that is exactly the state of the weights in force).
        h_pre = h_probed[0]
        h_post = h_probed[1] if len(h_probed) > 1 else h_pre
        self.h_adapt = torch.where(res.committed.view(-1, 1), h_post, h_pre)
        if candidate:
            # Sessions that stepped: their candidate differs from the weights before (a
            # session blocked before stepping has nothing to judge).
            moved = torch.zeros(self.S, dtype=torch.bool)
            for k, v in candidate.items():
                moved |= (v != before[k]).flatten(1).any(1)
            rolled, kept_new = moved & ~res.committed, moved & res.committed
            if bool(moved.any()):
                pick = rolled.view(-1, 1, 1)
                alt = {k: torch.where(pick, candidate[k], before[k]) for k in candidate}
                h_alt = torch.where(rolled.view(-1, 1), h_post, h_pre)
                self._alternative = (alt, h_alt, rolled, kept_new)
        if self.S == 1:
            self.commits += int(res.statuses[0] == "commit")
        records = []
        for i, ev in enumerate(res.events):
            d = ev.to_dict()
            committed = ev.status == "commit"
            d["commit_index"] = self.commits if committed and self.S == 1 else None
            d["session_index"] = i
            records.append(d)
        self.committed_mask = res.committed
        # Slide the window: keep at most buffer_chunks - 1 complete chunks, then start a new one.
        keep = self.pcfg.buffer_chunks - 1
        chunks = self.pend_h0.shape[0]
        drop = max(0, chunks - keep)
        cut = int(self.pend_t0[drop] - self.pend_t0[0]) if drop < chunks else length
        self.pend_obs = obs[cut:].clone()
        self.pend_act = act[cut:].clone()
        self.pend_h0 = torch.cat([self.pend_h0[drop:], self.h_adapt.unsqueeze(0)])
        self.pend_t0 = torch.cat([self.pend_t0[drop:], torch.tensor([self.t])])
        return records, res.statuses, res.fired


def canary_in_force(ev: Mapping[str, Any]) -> float | None:
    """The canary loss of the weights in force after an update event's transaction: after
    the write if it committed, else before it (rolled back or blocked)."""
    return ev.get("canary_after") if ev["status"] == "commit" else ev.get("canary_before")


def _canary_cells(ev: dict[str, Any]) -> list[float | None]:
    """[canary_loss, canary_delta] of an update row: ``canary_in_force`` and the delta the
    transaction judged."""
    return [canary_in_force(ev), ev.get("canary_delta")]

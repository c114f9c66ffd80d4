"""Random intercepts for several grouping factors: the q x q algebra every mixed fit shares.

A listening study's random effects are intercepts for listeners, clips and (for ratings)
listener-by-system cells. Every mixed fit here factors A = Lambda' Z'WZ Lambda + I many
times over (once per variance-parameter value, several times per value for the logit
models), always with the same pattern of non-zeros. lme4 gets its speed from a sparse
Cholesky factor whose symbolic analysis is done once; scipy has no sparse Cholesky, and
scikit-sparse would need SuiteSparse built from source here, so this module does the same
thing for the structure a study has:

- For intercept factors every diagonal block of Z'WZ is itself diagonal (a level meets only
  itself). A factor whose block is diagonal is eliminated by one division per level and a
  Schur update of the rest. A listener-by-system factor nested in listeners leaves the
  listener block diagonal, so several factors can go in turn; whatever is left (typically
  the clips) gets a dense Cholesky factor. For 1,000 listeners crossed with 200 clips that
  is a 200 x 200 factor, not 1,200 x 1,200.
- The order of elimination, the pattern with its fill-in, and for every Schur update the
  positions it reads and writes are worked out once per data set (``EliminationPlan``).
  Each factorisation is then a handful of numpy gathers, one ``bincount`` per stage and a
  BLAS product for the last stage: no sparse-matrix construction and no re-slicing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.linalg import blas
from threadpoolctl import threadpool_limits

# Below this many random-effect levels a dense factor of the whole matrix is quicker than
# any bookkeeping (a study of 30 listeners and 20 clips has q = 50).
DENSE_LEVELS = 200
# The last elimination stage may update the dense block with one BLAS product when its
# dense coupling has at most this many entries (40 MB); see EliminationPlan._stage.
DENSE_COUPLING_ENTRIES = 5_000_000
DENSE_PAIR_COST = 100


def single_threaded_blas(fit):
    """Run ``fit`` with one BLAS thread.

    A mixed fit is thousands of small products and triangular solves (200 x 200, a few
    right-hand sides). OpenBLAS spreads even those over its threads, and on 2 cores that
    made them 30 times slower (a solve with 6 right-hand sides: 0.28 ms on one thread,
    9 ms on two) and the 40,000-answer binary fit 12.3 s instead of 3.3 s."""

    @functools.wraps(fit)
    def limited(*args, **kwargs):
        with threadpool_limits(limits=1, user_api="blas"):
            return fit(*args, **kwargs)

    return limited


class InterceptFactors:
    """The indicator matrix Z = [Z_1 | Z_2 | ...] of some grouping factors."""

    def __init__(self, groups: dict[str, np.ndarray]):
        self.names = list(groups)
        self.codes = [np.asarray(groups[name], int) for name in self.names]
        self.sizes = [int(c.max()) + 1 if len(c) else 0 for c in self.codes]
        self.offsets = np.cumsum([0, *self.sizes])
        self.q = int(self.offsets[-1])
        self.n = len(self.codes[0]) if self.names else 0
        # Each observation's column in Z, per factor: (n, k)
        self.columns = (
            np.stack([c + o for c, o in zip(self.codes, self.offsets, strict=False)], axis=1)
            if self.names
            else np.zeros((0, 0), int)
        )
        self._z = None
        self._plan = None

    @property
    def z(self) -> sparse.csr_matrix:
        """Z itself, (n, q), built on first use."""
        if self._z is None:
            k = len(self.names)
            self._z = sparse.csr_matrix(
                (np.ones(self.n * k), self.columns.ravel(), np.arange(0, self.n * k + 1, k)),
                shape=(self.n, self.q),
            )
        return self._z

    @property
    def plan(self) -> EliminationPlan:
        if self._plan is None:
            self._plan = EliminationPlan(self)
        return self._plan

    def level_scale(self, theta: np.ndarray) -> np.ndarray:
        """The diagonal of Lambda: theta_k repeated for each level of factor k. (q,)"""
        return np.repeat(np.asarray(theta, float), self.sizes)

    def transpose_times(self, values: np.ndarray) -> np.ndarray:
        """Z' values for values (n,) or (n, p)."""
        if not self.names:
            return np.zeros((0, *np.shape(values)[1:]))
        return np.asarray(self.z.T @ np.asarray(values, float))

    def times(self, u: np.ndarray) -> np.ndarray:
        """Z u, (n,)."""
        return u[self.columns].sum(axis=1) if self.names else np.zeros(self.n)

    def dense_crossproduct(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Z'WZ as a dense (q, q) array."""
        w = np.ones(self.n) if weights is None else np.asarray(weights, float)
        k = len(self.names)
        index = (self.columns[:, :, None] * self.q + self.columns[:, None, :]).ravel()
        flat = np.bincount(index, weights=np.repeat(w, k * k), minlength=self.q * self.q)
        return flat.reshape(self.q, self.q)


@dataclass(frozen=True)
class _Stage:
    """One elimination: a run of levels whose block is diagonal when their turn comes.

    Positions are into the plan's value vector; rows and columns are local (the stage's
    own levels 0..size-1, and the levels after it 0..rest-1)."""

    start: int  # first level of the stage, in elimination order
    size: int
    dense: bool  # the last stage, whose update of the dense block is one BLAS product
    diagonal: np.ndarray  # (size,) positions of the diagonal entries
    coupling: np.ndarray  # (c,) positions of the entries below the block, row-major by level
    coupling_level: np.ndarray  # (c,) which of the stage's levels each entry couples
    coupling_rest: np.ndarray  # (c,) which later level
    indptr: np.ndarray  # CSR row pointers of the coupling, (size + 1,)
    # Pairwise Schur update: value[target] -= value[left] * value[right] / d[level]
    pair_left: np.ndarray | None
    pair_right: np.ndarray | None
    pair_level: np.ndarray | None
    pair_target: np.ndarray | None


class EliminationPlan:
    """The symbolic analysis of A = Lambda' Z'WZ Lambda + I, done once per data set.

    Levels are renumbered in elimination order: the stages' levels first, stage by stage,
    then the levels left for the dense factor. The lower triangle of A (with all fill-in)
    is held as one value vector; ``numeric`` turns weights and theta into a factor."""

    def __init__(self, factors: InterceptFactors):
        self.q = q = factors.q
        self.sizes = factors.sizes
        k = len(factors.names)
        blocks = [np.arange(factors.offsets[i], factors.offsets[i + 1]) for i in range(k)]
        # The identity's diagonal too: a level no observation reaches still has A's 1 there.
        pattern = (factors.z.T @ factors.z + sparse.identity(q)).astype(bool).tocsr()
        pattern.sort_indices()
        stages_levels, remaining = [], [b for b in blocks if len(b)]
        while remaining:
            choice = self._diagonal_block(pattern, remaining)
            if choice is None:
                break
            eliminated = remaining.pop(choice)
            stages_levels.append(eliminated)
            rest = np.concatenate(remaining) if remaining else np.zeros(0, int)
            if len(rest):
                coupling = pattern[eliminated][:, rest]
                fill = (coupling.T @ coupling).astype(bool).tocoo()
                added = sparse.csr_matrix(
                    (np.ones(fill.nnz), (rest[fill.row], rest[fill.col])), shape=(q, q)
                )
                pattern = (pattern.astype(float) + added).astype(bool).tocsr()
        final = np.concatenate(remaining) if remaining else np.zeros(0, int)
        self.order = np.concatenate([*stages_levels, final]) if q else np.zeros(0, int)
        self.position = np.empty(q, int)  # original level -> elimination order
        self.position[self.order] = np.arange(q)

        # The lower triangle of the final pattern, in elimination order, as sorted keys.
        coo = pattern.tocoo()
        rows, cols = self.position[coo.row], self.position[coo.col]
        lower = rows >= cols
        self.keys = np.unique(rows[lower] * q + cols[lower])
        self.rows, self.cols = self.keys // q, self.keys % q
        self.diagonal = self._find(np.arange(q), np.arange(q))

        # Where each observation's weight lands: its (i, j) factor pairs, i <= j.
        ordered = self.position[factors.columns]  # (n, k)
        pairs = [(i, j) for i in range(k) for j in range(i, k)]
        self.pairs_per_observation = len(pairs)
        self.weight_positions = (
            np.stack(
                [
                    self._find(
                        np.maximum(ordered[:, i], ordered[:, j]),
                        np.minimum(ordered[:, i], ordered[:, j]),
                    )
                    for i, j in pairs
                ],
                axis=1,
            ).ravel()
            if k
            else np.zeros(0, int)
        )
        self._unit_weights = None

        self.final_start = q - len(final)
        self.final_size = len(final)
        self.stages: list[_Stage] = []
        start = 0
        for i, levels in enumerate(stages_levels):
            last = i == len(stages_levels) - 1
            self.stages.append(self._stage(start, len(levels), may_be_dense=last))
            start += len(levels)
        inside = self.rows >= start
        self.final_positions = np.flatnonzero(inside & (self.cols >= start))
        self.final_rows = self.rows[self.final_positions] - start
        self.final_cols = self.cols[self.final_positions] - start

    def _find(self, rows, cols) -> np.ndarray:
        keys = np.asarray(rows) * self.q + np.asarray(cols)
        found = np.searchsorted(self.keys, keys)
        assert np.all(self.keys[np.minimum(found, len(self.keys) - 1)] == keys)
        return found

    @staticmethod
    def _diagonal_block(pattern, remaining) -> int | None:
        """The largest remaining factor whose block has no off-diagonal entries."""
        best, best_size = None, 0
        for i, levels in enumerate(remaining):
            block = pattern[levels][:, levels]
            if block.nnz <= len(levels) and len(levels) > best_size:
                best, best_size = i, len(levels)
        return best

    def _stage(self, start: int, size: int, *, may_be_dense: bool) -> _Stage:
        end = start + size
        rest_size = self.q - end
        below = np.flatnonzero((self.cols >= start) & (self.cols < end) & (self.rows >= end))
        level = self.cols[below] - start
        rest = self.rows[below] - end
        by_level = np.lexsort((rest, level))
        below, level, rest = below[by_level], level[by_level], rest[by_level]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(level, minlength=size))])
        # Every pair (a, b) of one level's couplings with rest[a] >= rest[b]: the Schur update
        # of the lower triangle.
        counts = np.diff(indptr)
        # The last stage feeds the dense block through one BLAS product when that is
        # cheaper than its pairs: about size * rest^2 / 2 multiply-adds at BLAS speed
        # against a gather, a product and a bincount per pair (measured here, a pair costs
        # about as much as 100 multiply-adds: 7 ns against 0.06 ns).
        pair_count = int((counts * (counts + 1) // 2).sum())
        dense = bool(
            may_be_dense
            and rest_size
            and size * rest_size <= DENSE_COUPLING_ENTRIES
            and size * rest_size**2 / 2 < DENSE_PAIR_COST * pair_count
        )
        pairwise = not dense
        left_parts, right_parts = [], []
        for count in np.unique(counts[counts > 0]) if pairwise else []:
            owners = np.flatnonzero(counts == count)
            a, b = np.tril_indices(count)
            base = indptr[owners][:, None]
            left_parts.append((base + a).ravel())
            right_parts.append((base + b).ravel())
        if left_parts and pairwise:
            left, right = np.concatenate(left_parts), np.concatenate(right_parts)
        else:
            left = right = np.zeros(0, int)
        target = self._find(rest[left] + end, rest[right] + end)
        return _Stage(
            start=start,
            size=size,
            dense=dense,
            diagonal=self.diagonal[start:end],
            coupling=below,
            coupling_level=level,
            coupling_rest=rest,
            indptr=indptr,
            pair_left=below[left] if pairwise else None,
            pair_right=below[right] if pairwise else None,
            pair_level=level[left] if pairwise else None,
            pair_target=target if pairwise else None,
        )

    def values(self, theta, weights=None) -> np.ndarray:
        """The lower triangle of Lambda' Z'WZ Lambda + I, in elimination order."""
        if weights is None:
            if self._unit_weights is None:
                self._unit_weights = np.bincount(
                    self.weight_positions, minlength=len(self.keys)
                ).astype(float)
            crossproduct = self._unit_weights
        else:
            crossproduct = np.bincount(
                self.weight_positions,
                weights=np.repeat(np.asarray(weights, float), self.pairs_per_observation),
                minlength=len(self.keys),
            )
        scale = self.scale(theta)
        values = crossproduct * scale[self.rows] * scale[self.cols]
        values[self.diagonal] += 1
        return values

    def scale(self, theta) -> np.ndarray:
        """Lambda's diagonal in elimination order."""
        return np.repeat(np.asarray(theta, float), self.sizes)[self.order]

    def numeric(self, values: np.ndarray) -> PlannedFactor:
        values = values.copy()
        diagonals, couplings = [], []
        dense_update = None
        for stage in self.stages:
            d = values[stage.diagonal]
            diagonals.append(d)
            coupling_values = values[stage.coupling]
            rest = self.q - stage.start - stage.size
            if stage.dense:
                dense = np.zeros((stage.size, rest))
                dense[stage.coupling_level, stage.coupling_rest] = coupling_values
                couplings.append(dense)
                # C' D^-1 C as one symmetric rank-k product (half the flops of a matmul);
                # only its lower triangle is filled, which is all cho_factor reads.
                # (Passing the transpose, a Fortran-ordered view, spares BLAS a copy.)
                dense_update = blas.dsyrk(1.0, (dense / np.sqrt(d)[:, None]).T, lower=1)
                continue
            couplings.append(
                sparse.csr_matrix(
                    (coupling_values, stage.coupling_rest, stage.indptr), shape=(stage.size, rest)
                )
            )
            if len(stage.pair_target):
                update = values[stage.pair_left] * values[stage.pair_right] / d[stage.pair_level]
                values -= np.bincount(stage.pair_target, weights=update, minlength=len(values))
        logdet = float(sum(np.log(d).sum() for d in diagonals))
        final = None
        if self.final_size:
            block = np.zeros((self.final_size, self.final_size))
            block[self.final_rows, self.final_cols] = values[self.final_positions]
            if dense_update is not None:
                block -= dense_update
            final = linalg.cho_factor(block, lower=True, check_finite=False)
            logdet += 2 * float(np.log(np.diag(final[0])).sum())
        return PlannedFactor(self, diagonals, couplings, final, logdet)


class PlannedFactor:
    """A factor of A from an elimination plan: its log-determinant and solves."""

    def __init__(self, plan: EliminationPlan, diagonals, couplings, final, logdet: float):
        self.plan, self.q = plan, plan.q
        self.diagonals, self.couplings, self.final = diagonals, couplings, final
        self.logdet = logdet

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """A^-1 rhs for rhs (q,) or (q, m) in the original level order."""
        b = np.array(rhs, float)[self.plan.order]
        for stage, d, coupling in zip(
            self.plan.stages, self.diagonals, self.couplings, strict=True
        ):
            end = stage.start + stage.size
            b[end:] -= coupling.T @ (b[stage.start : end] / _column(d, b))
        start = self.plan.final_start
        if self.final is not None:
            b[start:] = linalg.cho_solve(self.final, b[start:], check_finite=False)
        for stage, d, coupling in reversed(
            list(zip(self.plan.stages, self.diagonals, self.couplings, strict=True))
        ):
            end = stage.start + stage.size
            b[stage.start : end] = (b[stage.start : end] - coupling @ b[end:]) / _column(d, b)
        out = np.empty_like(b)
        out[self.plan.order] = b
        return out


def _column(diagonal: np.ndarray, like: np.ndarray) -> np.ndarray:
    return diagonal.reshape(-1, *([1] * (like.ndim - 1)))


class DenseFactor:
    """The same interface for small problems, where a dense Cholesky factor is quicker."""

    def __init__(self, matrix: np.ndarray):
        self.q = matrix.shape[0]
        self.factor = linalg.cho_factor(matrix, lower=True, check_finite=False) if self.q else None
        self.logdet = 2 * float(np.log(np.diag(self.factor[0])).sum()) if self.q else 0.0

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        if not self.q:
            return np.array(rhs, float)
        return linalg.cho_solve(self.factor, rhs, check_finite=False)


def factor(factors: InterceptFactors, theta, weights=None):
    """Factor Lambda' Z'WZ Lambda + I; returns the factor and the diagonal of Lambda."""
    scale = factors.level_scale(theta)
    if factors.q <= DENSE_LEVELS:
        a = scale[:, None] * factors.dense_crossproduct(weights) * scale[None, :]
        a[np.diag_indices_from(a)] += 1
        return DenseFactor(a), scale
    plan = factors.plan
    return plan.numeric(plan.values(theta, weights)), scale


def gauss_hermite_logistic_mean(eta: float, variance: float, *, points: int = 40) -> float:
    """E[logistic(eta + e)] for e ~ N(0, variance): a share averaged over listeners and clips."""
    if variance <= 0:
        return 1 / (1 + math.exp(-eta))
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    values = 1 / (1 + np.exp(-(eta + math.sqrt(variance) * nodes)))
    return float(weights @ values / weights.sum())

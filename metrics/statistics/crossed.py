"""Random intercepts for several grouping factors: the q x q algebra every mixed fit shares.

A listening study's random effects are intercepts for listeners, clips and (for ratings)
listener-by-system cells. For intercept-only factors every diagonal block of Z'WZ is
itself diagonal (a level meets only itself), which is what lets lme4's sparse Cholesky
factor stay cheap. scipy has no sparse Cholesky (scikit-sparse would need SuiteSparse built
here), so this module exploits the structure directly: it eliminates, one factor at a
time, a factor whose block is diagonal (a division per level, a sparse Schur update of the
rest) and finishes with a dense Cholesky factor of whatever is left, typically the clips.
For 1,000 listeners crossed with 200 clips that is a 200 x 200 factor, not 1,200 x 1,200;
a listener-by-system factor nested in listeners is eliminated first and leaves the
listener block diagonal, so it costs almost nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse


class InterceptFactors:
    """The indicator matrix Z = [Z_1 | Z_2 | ...] of some grouping factors, never formed."""

    def __init__(self, groups: dict[str, np.ndarray]):
        self.names = list(groups)
        self.codes = [np.asarray(groups[name], int) for name in self.names]
        self.sizes = [int(c.max()) + 1 if len(c) else 0 for c in self.codes]
        self.offsets = np.cumsum([0, *self.sizes])
        self.q = int(self.offsets[-1])
        # Each observation's column in Z, per factor: (n, k)
        self.columns = (
            np.stack([c + o for c, o in zip(self.codes, self.offsets, strict=False)], axis=1)
            if self.names
            else np.zeros((0, 0), int)
        )
        self.n = len(self.codes[0]) if self.names else 0
        self._pair_index = None
        self._pattern = None
        self.plan = None  # the elimination order BlockFactor found, reused for every theta

    def level_scale(self, theta: np.ndarray) -> np.ndarray:
        """The diagonal of Lambda: theta_k repeated for each level of factor k. (q,)"""
        return np.repeat(np.asarray(theta, float), self.sizes)

    def transpose_times(self, values: np.ndarray) -> np.ndarray:
        """Z' values for values (n,) or (n, p)."""
        values = np.asarray(values, float)
        out = np.zeros((self.q, *values.shape[1:]))
        for k in range(len(self.names)):
            np.add.at(out, self.columns[:, k], values)
        return out

    def times(self, u: np.ndarray) -> np.ndarray:
        """Z u, (n,)."""
        return u[self.columns].sum(axis=1) if self.names else np.zeros(self.n)

    def dense_crossproduct(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Z'WZ as a dense (q, q) array."""
        w = np.ones(self.n) if weights is None else np.asarray(weights, float)
        k = len(self.names)
        if self._pair_index is None:
            self._pair_index = [
                (self.columns[:, i] * self.q + self.columns[:, j])
                for i in range(k)
                for j in range(k)
            ]
        out = np.zeros(self.q * self.q)
        for index in self._pair_index:
            out += np.bincount(index, weights=w, minlength=self.q * self.q)
        return out.reshape(self.q, self.q)

    def crossproduct(self, weights: np.ndarray | None = None) -> sparse.csr_matrix:
        """Z'WZ as a sparse (q, q) matrix, W = diag(weights).

        The pattern is built once; each call only sums the weights into its entries."""
        k = len(self.names)
        if self._pattern is None:
            rows = np.repeat(self.columns, k, axis=1).ravel()
            cols = np.tile(self.columns, (1, k)).ravel()
            keys = rows * self.q + cols
            unique, entry = np.unique(keys, return_inverse=True)
            self._pattern = (unique // self.q, unique % self.q, entry, len(unique))
        rows, cols, entry, size = self._pattern
        w = np.ones(self.n) if weights is None else np.asarray(weights, float)
        data = np.bincount(entry, weights=np.repeat(w, k * k), minlength=size)
        return sparse.csr_matrix((data, (rows, cols)), shape=(self.q, self.q))


@dataclass(frozen=True)
class _Stage:
    eliminated: np.ndarray  # indices (into the matrix at this stage) of a diagonal block
    rest: np.ndarray  # the other indices
    diagonal: np.ndarray  # that block's diagonal
    coupling: sparse.csr_matrix  # (eliminated, rest) block


class BlockFactor:
    """A factorisation of a symmetric positive definite matrix built from intercept factors,
    with its log-determinant and solves."""

    def __init__(self, matrix: sparse.spmatrix, slices: list[tuple[int, int]], plan=None):
        """plan: the order of factors to eliminate, as found by an earlier factorisation of
        a matrix with the same pattern (None: find it, and keep it in self.plan)."""
        self.q = matrix.shape[0]
        self.stages: list[_Stage] = []
        logdet = 0.0
        current = sparse.csr_matrix(matrix)
        # Positions (in the current matrix) of each remaining factor's levels.
        remaining = [np.arange(a, b) for a, b in slices if b > a]
        self.plan = [] if plan is None else list(plan)
        steps = iter(plan) if plan is not None else None
        while remaining:
            if steps is not None:
                choice = next(steps, None)
            else:
                choice = self._diagonal_block(current, remaining)
                if choice is not None:
                    self.plan.append(choice)
            if choice is None:
                break
            eliminated = remaining.pop(choice)
            rest = np.setdiff1d(np.arange(current.shape[0]), eliminated, assume_unique=True)
            diagonal = current.diagonal()[eliminated]
            coupling = current[eliminated][:, rest]
            logdet += float(np.log(diagonal).sum())
            self.stages.append(_Stage(eliminated, rest, diagonal, coupling.tocsr()))
            schur = current[rest][:, rest] - coupling.T @ sparse.diags(1 / diagonal) @ coupling
            current = sparse.csr_matrix(schur)
            # Renumber the remaining factors' positions into the smaller matrix.
            position = np.full(len(rest) + len(eliminated), -1)
            position[rest] = np.arange(len(rest))
            remaining = [position[r] for r in remaining]
        self.final = None
        if current.shape[0]:
            self.final = linalg.cho_factor(current.toarray(), lower=True)
            logdet += 2 * float(np.log(np.diag(self.final[0])).sum())
        self.logdet = logdet

    @staticmethod
    def _diagonal_block(current, remaining) -> int | None:
        """The largest remaining factor whose block has no off-diagonal entries."""
        best, best_size = None, 0
        for i, positions in enumerate(remaining):
            block = current[positions][:, positions]
            off = block - sparse.diags(block.diagonal())
            if abs(off).sum() == 0 and len(positions) > best_size:
                best, best_size = i, len(positions)
        return best

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        b = np.array(rhs, float)
        saved = []
        for stage in self.stages:
            scaled = b[stage.eliminated] / _column(stage.diagonal, b)
            saved.append((b[stage.eliminated], stage))
            b = b[stage.rest] - stage.coupling.T @ scaled
        x = linalg.cho_solve(self.final, b) if self.final is not None else b
        for b_eliminated, stage in reversed(saved):
            full = np.zeros((len(stage.eliminated) + len(stage.rest), *b.shape[1:]))
            full[stage.rest] = x
            full[stage.eliminated] = (b_eliminated - stage.coupling @ x) / _column(
                stage.diagonal, b_eliminated
            )
            x = full
        return x


def _column(diagonal: np.ndarray, like: np.ndarray) -> np.ndarray:
    return diagonal.reshape(-1, *([1] * (like.ndim - 1)))


class DenseFactor:
    """The same interface for small problems, where a dense Cholesky factor is quicker than
    any bookkeeping (a study of 30 listeners and 20 clips has q = 50)."""

    def __init__(self, matrix: np.ndarray):
        self.q = matrix.shape[0]
        self.factor = linalg.cho_factor(matrix, lower=True) if self.q else None
        self.logdet = 2 * float(np.log(np.diag(self.factor[0])).sum()) if self.q else 0.0

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return linalg.cho_solve(self.factor, rhs) if self.q else np.array(rhs, float)


# Below this many random-effect levels the dense factor wins (measured here: q = 405
# dense, 12 ms per factorisation and solve; block elimination, about 4 ms).
DENSE_LEVELS = 200


def factor(factors: InterceptFactors, theta, weights=None):
    """Factor Lambda' Z'WZ Lambda + I; returns the factor and the diagonal of Lambda."""
    scale = factors.level_scale(theta)
    if factors.q <= DENSE_LEVELS:
        a = scale[:, None] * factors.dense_crossproduct(weights) * scale[None, :]
        a[np.diag_indices_from(a)] += 1
        return DenseFactor(a), scale
    ztwz = factors.crossproduct(weights)
    a = sparse.diags(scale) @ ztwz @ sparse.diags(scale) + sparse.identity(factors.q)
    slices = [
        (int(factors.offsets[k]), int(factors.offsets[k + 1])) for k in range(len(factors.names))
    ]
    chol = BlockFactor(a, slices, plan=factors.plan)
    factors.plan = chol.plan
    return chol, scale


def gauss_hermite_logistic_mean(eta: float, variance: float, *, points: int = 40) -> float:
    """E[logistic(eta + e)] for e ~ N(0, variance): a share averaged over listeners and clips."""
    if variance <= 0:
        return 1 / (1 + math.exp(-eta))
    nodes, weights = np.polynomial.hermite_e.hermegauss(points)
    values = 1 / (1 + np.exp(-(eta + math.sqrt(variance) * nodes)))
    return float(weights @ values / weights.sum())

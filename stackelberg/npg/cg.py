"""Conjugate gradient for F x = g with F given only as a matrix-vector product."""
from __future__ import annotations

from typing import Callable, Optional

import torch


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
                       iters: int = 10, x0: Optional[torch.Tensor] = None,
                       residual_tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for symmetric positive-definite A. [mjrl] starts from x0 = b."""
    x = torch.zeros_like(b) if x0 is None else x0.clone()
    r = b - matvec(x) if x0 is not None else b.clone()
    p = r.clone()
    rr = r @ r
    for _ in range(iters):
        if rr < residual_tol:
            break
        ap = matvec(p)
        alpha = rr / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x

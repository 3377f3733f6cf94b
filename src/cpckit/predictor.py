"""Prediction heads: one per future step k = 1..K, c_t -> prediction of z_{t+k}."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["PREDICTORS", "LinearPredictor", "MLPPredictor", "build_predictor"]


class LinearPredictor(nn.Module):
    """K linear heads W_k c_t (the CPC paper), computed as one matmul.

    Shape:
        c: ``(B, T, C)`` -> pred: ``(B, T, K, D)``
    """

    def __init__(self, *, c_dim: int, z_dim: int, steps: int) -> None:
        super().__init__()
        self.steps, self.z_dim = steps, z_dim
        self.heads = nn.Linear(c_dim, steps * z_dim)

    def forward(self, c: Tensor) -> Tensor:
        b, t, _ = c.shape
        return self.heads(c).view(b, t, self.steps, self.z_dim)


class MLPPredictor(nn.Module):
    """K heads sharing one hidden layer: ``W2_k relu(W1 c_t)``.

    Shape:
        c: ``(B, T, C)`` -> pred: ``(B, T, K, D)``
    """

    def __init__(self, *, c_dim: int, z_dim: int, steps: int, hidden: int = 512) -> None:
        super().__init__()
        self.steps, self.z_dim = steps, z_dim
        self.net = nn.Sequential(
            nn.Linear(c_dim, hidden), nn.ReLU(), nn.Linear(hidden, steps * z_dim)
        )

    def forward(self, c: Tensor) -> Tensor:
        b, t, _ = c.shape
        return self.net(c).view(b, t, self.steps, self.z_dim)


PREDICTORS: dict[str, type[nn.Module]] = {"linear": LinearPredictor, "mlp": MLPPredictor}


def build_predictor(
    kind: str, *, c_dim: int, z_dim: int, steps: int, hidden: int = 512
) -> nn.Module:
    """Predictor by name (``linear``, ``mlp``)."""
    if kind == "linear":
        return LinearPredictor(c_dim=c_dim, z_dim=z_dim, steps=steps)
    if kind == "mlp":
        return MLPPredictor(c_dim=c_dim, z_dim=z_dim, steps=steps, hidden=hidden)
    raise ValueError(f"predictor {kind!r} is unknown: expected one of {sorted(PREDICTORS)}")

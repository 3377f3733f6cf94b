"""Encoders: map raw inputs to latent sequences z (B, L, D)."""

"""Numerics: many models trained on one batch order, per-item gradients, Hessian-vector products, forward passes."""

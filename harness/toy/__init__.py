"""The toy 5-D DDPM: CPU regression baseline for the inpainting strategies.

``ddpm``: data, noise schedule, noise-predictor MLP, deterministic training with an on-disk cache.
``inpaint``: sampling strategies (unconditional, naive replacement, RePaint) as pure functions over a
model callable ``eps_model(x_t, t) -> eps``.
"""

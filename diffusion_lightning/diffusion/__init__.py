"""The diffusion math, pure torch (no Lightning, no Hydra): β schedules, the learned schedule, the forward processes
with their posteriors and exact bounds (``processes``), the losses in bits, the training objectives and the
samplers of t."""

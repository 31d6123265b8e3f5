"""The training glue: the LightningModule, the Hydra task (``run``), several optimizer steps per call
(``stepping``), EMA, optimizers' LR schedules, callbacks and figures, checkpoints, loggers, output files, DDP
inside a sweep and the process environment. Importing this package loads nothing: ``environment`` must be
configurable before torch is imported."""

"""Entry point: ``python train.py [overrides]``; see README.md and conf/train.yaml."""

import gc

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from diffusion_lightning.training import environment

    environment.configure()  # before torch loads: OpenMP reads its wait policy then
    from diffusion_lightning.sweeps.resume import resumable
    from diffusion_lightning.training.run import task

    return resumable(task)(cfg)


if __name__ == "__main__":
    try:
        main()
    finally:  # skip a last garbage collection over all that torch and Lightning loaded (seconds at exit)
        gc.freeze()

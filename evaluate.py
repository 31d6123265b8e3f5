"""Entry point: ``python evaluate.py run=<run dir> [overrides]``; see docs/using-a-run.md and conf/evaluate.yaml."""

import gc

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from diffusion_lightning.training import environment

    environment.configure()  # before torch loads: OpenMP reads its wait policy then
    from diffusion_lightning.inference.commands import evaluate

    evaluate(cfg)


if __name__ == "__main__":
    try:
        main()
    finally:  # skip a last garbage collection over all that torch and Lightning loaded (seconds at exit)
        gc.freeze()

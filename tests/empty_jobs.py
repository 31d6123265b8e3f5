"""``python tests/empty_jobs.py -m OVERRIDES``: the project's configs (conf/train.yaml, its Hydra settings and
callbacks included) launched by Hydra itself, with jobs that train nothing (each only says it finished). Each job's
``.hydra/overrides.yaml`` is then Hydra's own job list, in seconds (tests/test_grid.py)."""

import json
from pathlib import Path

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> None:
    (Path(cfg.paths.output_dir) / "summary.json").write_text(json.dumps({"status": "finished"}))


if __name__ == "__main__":
    main()

"""A run directory read back: its task, options, data and best model; its test metrics.

load_run(run_dir, need_data=True) -> (task, options, data, model with the best weights)
load_best(model, run_dir)         the run's model.safetensors into ``model``, eval mode
test_metrics(task, model, data)   the test split's loss and accuracy, and the task's report
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bptt.bounded import JSON_LIMIT, read_bounded
from bptt.data import Vocabulary
from bptt.io import load_weights, read_json
from bptt.nn import Model
from bptt.tasks import text
from bptt.tasks.data_files import check_fingerprints
from bptt.tasks.options import default_options
from bptt.tasks.registry import TASKS, get_task
from bptt.tasks.task import TaskData, build_model
from bptt.train import evaluate


def load_best(model: Model, run_dir: Path) -> Model:
    """Load the run's best weights (model.safetensors) into the model, in eval mode."""
    model.load_state_dict(load_weights(Path(run_dir) / "model.safetensors"))
    return model.eval()


def read_run_config(run_dir: Path) -> dict:
    """config.json of a run directory: {"train": ..., "task": ..., "options": ...}."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"RUN: expected a run directory with config.json, got {run_dir}")
    saved = read_json(path)
    if not isinstance(saved, dict) or not isinstance(saved.get("options"), dict):
        got = sorted(saved) if isinstance(saved, dict) else type(saved).__name__
        raise ValueError(f"{path}: expected an object with 'task' and 'options', got {got}")
    if saved.get("task") not in TASKS:
        raise ValueError(
            f"{path}: expected 'task' to be one of {', '.join(TASKS)}, got {saved.get('task')!r}"
        )
    # options added since the run was saved take their defaults
    options = {**default_options(get_task(saved["task"]).defaults), **saved["options"]}
    return {**saved, "options": options}


def load_run(run_dir: Path, *, need_data: bool = True):
    """Rebuild a run's model from config.json and its best weights.

    Returns (task, options, data, model). With ``need_data=False`` a text run is rebuilt from
    its saved vocabulary.json alone, without reading the text it was trained on."""
    run_dir = Path(run_dir)
    saved = read_run_config(run_dir)
    task, options = saved["task"], saved["options"]
    vocab_path = run_dir / "vocabulary.json"
    if task == "text" and not need_data and vocab_path.is_file():
        data = text.task_data(
            Vocabulary.from_json(
                read_bounded(vocab_path, JSON_LIMIT, "vocabulary").decode("utf-8", "replace")
            ),
            options,
        )
    else:
        check_fingerprints(saved.get("data"), str(run_dir / "config.json"))
        data = get_task(task).load(options, options["seed"])
    model = build_model(data, options, np.random.default_rng(0))
    return task, options, data, load_best(model, run_dir)


def test_metrics(task: str, model: Model, data: TaskData, split: str = "test") -> dict:
    """Loss (and accuracy) on a split, and on the test split the task's own report."""
    result = {"split": split, **evaluate(model, data.test if split == "test" else data.validation)}
    report = get_task(task).report
    if report is not None and split == "test":
        result.update(report(model, data))
    return result

"""The classic tasks, each as data + the model that fits it + its own report; run directories.

task.py       ``Task`` (name, defaults, load, report), ``TaskData``, ``build_model``
registry.py   ``TASKS``: name -> Task; ``get_task``
options.py    every option with its default and help (model, training, task)
addition.py   the explainer's binary addition (tagger; report: exact sums)
adding.py     the adding problem of length T (regressor on the last step)
copy.py       the copy / memory task across a delay (tagger with an embedding)
mnist.py      MNIST by rows, pixels or permuted pixels (classifier)
text.py       a character language model on any UTF-8 file (stateful streams)
runs.py       a run directory read back: ``load_run``, ``load_best``, ``test_metrics``
data_files.py the data files of a run pinned by absolute path, size and SHA-256
"""

from bptt.tasks.addition import predict_sum as predict_sum
from bptt.tasks.data_files import absolute_data_paths as absolute_data_paths
from bptt.tasks.data_files import check_fingerprints as check_fingerprints
from bptt.tasks.data_files import fingerprints as fingerprints
from bptt.tasks.options import MODEL_OPTIONS as MODEL_OPTIONS
from bptt.tasks.options import TASK_OPTIONS as TASK_OPTIONS
from bptt.tasks.options import all_options as all_options
from bptt.tasks.options import default_options as default_options
from bptt.tasks.options import used_options as used_options
from bptt.tasks.registry import TASKS as TASKS
from bptt.tasks.registry import get_task as get_task
from bptt.tasks.runs import load_best as load_best
from bptt.tasks.runs import load_run as load_run
from bptt.tasks.runs import read_run_config as read_run_config
from bptt.tasks.runs import test_metrics as test_metrics
from bptt.tasks.task import Task as Task
from bptt.tasks.task import TaskData as TaskData
from bptt.tasks.task import build_model as build_model
from bptt.tasks.text import sample_text as sample_text

"""Training: the explainer's last step, gradient descent, made practical.

config.py      ``TrainConfig``: every training option with its default and help
batches.py     ``ArrayBatches`` (shuffled by (seed, epoch)) and ``StreamBatches``
tbptt.py       ``TruncatedBPTT(k1, k2)``: Williams & Peng's BPTT(k2; k1)
flow.py        ``FlowMonitor``: the gradient flow every N steps, in metrics.jsonl
checkpoint.py  the checkpoint format: save, verify, load, resume exactly
resume.py      ``Resumable``: the trainer's state into a checkpoint and back, across ranks
distributed.py data-parallel training over MPI: ``Communicator``, the step's all-reduce
progress.py    the progress bar (tqdm, when installed and wanted)
divergence.py  ``NonFiniteError``: non-finite or exploding losses, with an honest message
resume.py      what a checkpoint must hold to continue a run (its run id, its counters)
run_dir.py     run directories: made exclusively, locked (one writer), tidied on resume
trainer.py     ``Trainer`` (the loop), ``evaluate``
"""

from bptt.train.batches import ArrayBatches as ArrayBatches
from bptt.train.batches import StreamBatches as StreamBatches
from bptt.train.batches import epoch_order as epoch_order
from bptt.train.checkpoint import Checkpoint as Checkpoint
from bptt.train.checkpoint import CheckpointError as CheckpointError
from bptt.train.checkpoint import complete_checkpoints as complete_checkpoints
from bptt.train.checkpoint import find_checkpoint as find_checkpoint
from bptt.train.checkpoint import list_checkpoints as list_checkpoints
from bptt.train.checkpoint import load_checkpoint as load_checkpoint
from bptt.train.checkpoint import point_latest as point_latest
from bptt.train.checkpoint import save_checkpoint as save_checkpoint
from bptt.train.config import TrainConfig as TrainConfig
from bptt.train.config import option_table as option_table
from bptt.train.distributed import Communicator as Communicator
from bptt.train.distributed import GradientAllreduce as GradientAllreduce
from bptt.train.distributed import agreed as agreed
from bptt.train.distributed import launched_world_size as launched_world_size
from bptt.train.distributed import share as share
from bptt.train.divergence import NonFiniteError as NonFiniteError
from bptt.train.evaluate import evaluate as evaluate
from bptt.train.flow import FlowMonitor as FlowMonitor
from bptt.train.flow import gradient_flow_profile as gradient_flow_profile
from bptt.train.flow import mean_row_norms as mean_row_norms
from bptt.train.flow import update_ratios as update_ratios
from bptt.train.rng_state import generator_from_state as generator_from_state
from bptt.train.rng_state import generator_state as generator_state
from bptt.train.run_dir import RunDirError as RunDirError
from bptt.train.run_dir import RunLock as RunLock
from bptt.train.run_dir import check_new_run_dir as check_new_run_dir
from bptt.train.run_dir import cut_metrics as cut_metrics
from bptt.train.run_dir import new_run_dir as new_run_dir
from bptt.train.run_dir import remove_stray_temps as remove_stray_temps
from bptt.train.run_dir import set_aside_newer as set_aside_newer
from bptt.train.tbptt import TruncatedBPTT as TruncatedBPTT
from bptt.train.trainer import Trainer as Trainer

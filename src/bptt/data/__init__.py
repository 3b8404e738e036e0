"""Tasks as numpy arrays (MNIST, character text, synthetic). Nothing here knows models.

idx.py         the IDX file format of MNIST, gzipped or raw, every read bounded
mnist.py       MNIST: find, verify, download once, sequence views, validation split
synthetic.py   binary addition, the adding problem, the copy task: pure functions of a
               numpy Generator
text.py        ``Vocabulary``, the shipped Shakespeare sample, contiguous token streams
sample.txt     that sample
"""

from bptt.data.idx import parse_idx as parse_idx
from bptt.data.idx import read_idx as read_idx
from bptt.data.idx import read_idx_bytes as read_idx_bytes
from bptt.data.mnist import MNIST as MNIST
from bptt.data.mnist import DatasetNotFoundError as DatasetNotFoundError
from bptt.data.mnist import default_cache_dir as default_cache_dir
from bptt.data.mnist import load_mnist as load_mnist
from bptt.data.mnist import mnist_sequences as mnist_sequences
from bptt.data.mnist import train_validation_split as train_validation_split
from bptt.data.synthetic import adding_problem as adding_problem
from bptt.data.synthetic import binary_addition as binary_addition
from bptt.data.synthetic import bits_to_int as bits_to_int
from bptt.data.synthetic import copy_task as copy_task
from bptt.data.synthetic import int_to_bits as int_to_bits
from bptt.data.synthetic import pair_codes as pair_codes
from bptt.data.text import SAMPLE_TEXT as SAMPLE_TEXT
from bptt.data.text import Vocabulary as Vocabulary
from bptt.data.text import count_stream_batches as count_stream_batches
from bptt.data.text import load_text as load_text
from bptt.data.text import split_text as split_text
from bptt.data.text import split_text_three_ways as split_text_three_ways
from bptt.data.text import stream_batches as stream_batches

"""``bptt explain``: the five steps of BPTT worked with real numbers on a tiny network.

numbers.py   ``explain``: every number of the worked example (``Explanation``), each
             gradient checked by finite differences
layout.py    ``render``: those numbers laid out for pencil and paper
strings.py   the prose, in English and Chinese (``LANGUAGES``)
"""

from bptt.insight.explain.layout import render as render
from bptt.insight.explain.numbers import CELLS as CELLS
from bptt.insight.explain.numbers import DEFAULTS as DEFAULTS
from bptt.insight.explain.numbers import LIMITS as LIMITS
from bptt.insight.explain.numbers import Explanation as Explanation
from bptt.insight.explain.numbers import explain as explain
from bptt.insight.explain.strings import LANGUAGES as LANGUAGES

"""Making BPTT visible and checking it: gradient checks, per-step records, Jacobians, the
worked example, pictures, HTML reports and the vanishing-gradient demonstration.

    gradcheck.py   central finite differences against analytic gradients
    records.py     every step of a forward and backward pass: states, gates, dL/dh_t, each
                   step's share of every weight gradient (``record``, ``record_model``)
    jacobians.py   ||dh_T / dh_t|| over the lag, the spectra of W_hh
    explain/       ``bptt explain``: the five steps of BPTT with real numbers
    plots.py       matplotlib figures: curves, gradient flow, states and gates
    report.py      self-contained HTML pages (images inline, no scripts)
    runs.py        the pictures and page of a run directory
    vanishing.py   tanh RNN vs LSTM vs GRU on the adding problem: how far back the error reaches

Everything here reads what the engine computes anyway (forward caches, backward tapes) or
what training wrote (a run directory). matplotlib (the ``plot`` extra) is imported only when
a picture is drawn.
"""

from bptt.insight.explain import Explanation as Explanation
from bptt.insight.explain import explain as explain
from bptt.insight.explain import render as render
from bptt.insight.gradcheck import DEFAULT_FLOOR as DEFAULT_FLOOR
from bptt.insight.gradcheck import ArrayCheck as ArrayCheck
from bptt.insight.gradcheck import Comparison as Comparison
from bptt.insight.gradcheck import GradcheckReport as GradcheckReport
from bptt.insight.gradcheck import assert_gradients_close as assert_gradients_close
from bptt.insight.gradcheck import check_gradients as check_gradients
from bptt.insight.gradcheck import directional_derivative as directional_derivative
from bptt.insight.gradcheck import numerical_gradient as numerical_gradient
from bptt.insight.gradcheck import relative_error as relative_error
from bptt.insight.jacobians import NORMS as NORMS
from bptt.insight.jacobians import jacobian_norms as jacobian_norms
from bptt.insight.jacobians import recurrent_spectra as recurrent_spectra
from bptt.insight.plots import events_of as events_of
from bptt.insight.plots import new_figure as new_figure
from bptt.insight.plots import plot_curves as plot_curves
from bptt.insight.plots import plot_dh_profiles as plot_dh_profiles
from bptt.insight.plots import plot_gradient_flow as plot_gradient_flow
from bptt.insight.plots import plot_run_profiles as plot_run_profiles
from bptt.insight.plots import plot_state_panels as plot_state_panels
from bptt.insight.plots import plot_states as plot_states
from bptt.insight.plots import png_bytes as png_bytes
from bptt.insight.plots import require_matplotlib as require_matplotlib
from bptt.insight.plots import save_png as save_png
from bptt.insight.plots import smooth as smooth
from bptt.insight.plots import state_panels as state_panels
from bptt.insight.records import Recording as Recording
from bptt.insight.records import StepRecord as StepRecord
from bptt.insight.records import layer_weights as layer_weights
from bptt.insight.records import record as record
from bptt.insight.records import record_model as record_model
from bptt.insight.records import step_records as step_records
from bptt.insight.report import config_table as config_table
from bptt.insight.report import data_uri as data_uri
from bptt.insight.report import html_page as html_page
from bptt.insight.report import image_html as image_html
from bptt.insight.report import metrics_table as metrics_table
from bptt.insight.report import note_html as note_html
from bptt.insight.report import pre_html as pre_html
from bptt.insight.report import run_report_html as run_report_html
from bptt.insight.report import table_html as table_html
from bptt.insight.runs import run_images as run_images
from bptt.insight.runs import run_report as run_report
from bptt.insight.runs import write_run_plots as write_run_plots
from bptt.insight.vanishing import CellResult as CellResult
from bptt.insight.vanishing import VanishingConfig as VanishingConfig
from bptt.insight.vanishing import adding_options as adding_options
from bptt.insight.vanishing import comparison_figure as comparison_figure
from bptt.insight.vanishing import config_dict as config_dict
from bptt.insight.vanishing import decay_orders as decay_orders
from bptt.insight.vanishing import dh_profile as dh_profile
from bptt.insight.vanishing import measure as measure
from bptt.insight.vanishing import summary_rows as summary_rows
from bptt.insight.vanishing import train_cell as train_cell
from bptt.insight.vanishing import vanishing_report as vanishing_report
from bptt.insight.vanishing import write_outputs as write_outputs

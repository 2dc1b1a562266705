"""Layer specs -> validated, costed (layer table) and built (nn.Module); and the preset zoo."""

from .cost import LayerRow, batchnorm_params, conv_macs, conv_params, fc_macs, fc_params, window_output_size
from .load import load_spec
from .network import Network, build_model
from .presets import PRESETS, Preset, UnknownModel, get_preset
from .spec import SpecError, validate, with_input
from .table import format_table, layer_table, totals
from .whiten import init_whitening

__all__ = [
    "PRESETS", "LayerRow", "Network", "Preset", "SpecError", "UnknownModel", "batchnorm_params", "build_model",
    "conv_macs", "conv_params", "fc_macs", "fc_params", "format_table", "get_preset", "init_whitening",
    "layer_table", "load_spec", "totals", "validate", "window_output_size",
]

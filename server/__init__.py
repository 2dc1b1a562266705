"""convscope: watch a CNN learn, layer by layer, live."""

"""seqgen: learn from sequences (text, music) with stacked RNNs and write new ones."""

__version__ = "0.1.0"

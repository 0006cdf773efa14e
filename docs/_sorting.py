"""Order of the examples in the gallery (sphinx-gallery ``within_subsection_order``)."""

ORDER = [
    "quickstart.py",
    "nitime_fir.py",
    "banded_vs_stacked.py",
    "variance_partitioning.py",
    "targetwise_ensemble.py",
    "neural_encoder.py",
    "layer_attention.py",
    "brain_maps.py",
]


class ExampleOrder:
    """Sort key: the files of ``ORDER`` first, in that order, then the others."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (ORDER.index(filename), filename)
        return (len(ORDER), filename)

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

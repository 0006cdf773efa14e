import subprocess
import sys
import textwrap

import brainenc


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_does_not_import_torch():
    result = _run(
        """
        import sys
        import brainenc
        from brainenc import DelayedRidge, TargetwiseEnsemble
        assert "torch" not in sys.modules, "torch imported"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_neural_encoders_without_torch_say_how_to_install():
    result = _run(
        """
        import importlib.abc
        import sys

        class NoTorch(importlib.abc.MetaPathFinder):  # as if torch were absent
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("torch", "skorch"):
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoTorch())
        import brainenc
        try:
            from brainenc import PCAMLPEncoder
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install brainenc[deep]" in result.stdout


def test_public_names_exist_and_version():
    for name in brainenc.__all__:
        assert hasattr(brainenc, name), name
    assert brainenc.__version__.count(".") >= 2
    assert "PCAMLPEncoder" in dir(brainenc)
    assert "MultimodalTransformerEncoder" in dir(brainenc)


def test_transformer_encoder_is_a_lazy_top_level_export():
    result = _run(
        """
        import sys
        import brainenc
        assert "torch" not in sys.modules
        from brainenc import MultimodalTransformerEncoder
        from brainenc.neural import MultimodalTransformerEncoder as Neural
        print(MultimodalTransformerEncoder is Neural, "torch" in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]

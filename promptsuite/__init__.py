"""promptsuite: prompt regression testing and optimization, native in pytest.

Importing the package is cheap: model clients, pandas and DSPy load only when used.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

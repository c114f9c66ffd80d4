"""earshot's own version, for reports and frozen analysis plans."""

import tomllib
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def earshot_version() -> str:
    try:
        return metadata.version("earshot")
    except metadata.PackageNotFoundError:  # a checkout that was never pip-installed
        with PYPROJECT.open("rb") as handle:
            return tomllib.load(handle)["project"]["version"]

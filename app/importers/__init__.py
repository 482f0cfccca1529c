"""Importers: real QEMU migration output (trace logs, query-migrate samples, QMP events,
HMP `info migrate`) turned into the same trace model as a simulated run.

    from app.importers import import_files, InputFile, ImportFileError, derive_scenario
"""

from .derive import derive_scenario
from .errors import ImportFileError
from .importer import ROLES, InputFile, import_files

__all__ = ["ROLES", "ImportFileError", "InputFile", "derive_scenario", "import_files"]

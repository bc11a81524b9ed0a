"""The epicentre table of a QuakeSet file: what a user of the real file gets from the release."""
from __future__ import annotations

import csv
import os
from pathlib import Path

from ...utils import atomic_output, import_optional, validate_params
from .._epicentre import _FORMATS, TABLE_COLUMNS, read_epicentres

__all__ = ["write_epicentre_table"]


def check_table_path(table, overwrite=False):
    """``(Path, "csv" | "parquet")`` of a table to write; refuses an unknown extension or an existing file."""
    table = Path(table)
    kind = _FORMATS.get(table.suffix.lower())
    if kind is None:
        raise ValueError(f"epicentre table {table}: unknown format {table.suffix or '(no extension)'!r}; "
                         "expected a CSV (.csv) or Parquet (.parquet, .pq) file")
    if table.exists() and not overwrite:
        raise FileExistsError(f"{table} already exists; pass overwrite=True to replace it")
    return table, kind


@validate_params(
    {"quakeset": [str, os.PathLike], "table": [str, os.PathLike], "overwrite": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def write_epicentre_table(quakeset, table, overwrite=False):
    """Write the epicentre of every event of ``quakeset`` as a CSV or Parquet table.

    The table has one row per event and the columns ``event_id`` (text: the event's group
    name), ``longitude`` and ``latitude`` (degrees, EPSG:4326) and ``depth_km``, the layout
    :func:`skquake.datasets.read_epicentres` reads, so a synthetic file can stand in for the
    real one with its release's table.

    Parameters
    ----------
    quakeset : str or path-like
        A QuakeSet file whose events have the epicentre attributes (``epicentre_longitude``,
        ``epicentre_latitude``, ``depth_km``), e.g. one written by :func:`make_quakeset`.
    table : str or path-like
        Output; the extension chooses the format: ``.csv``, or ``.parquet`` / ``.pq`` (needs
        pyarrow, the ``parquet`` extra). Written atomically (:func:`skquake.utils.atomic_output`).
    overwrite : bool, default=False
        Replace an existing ``table``.

    Returns
    -------
    pathlib.Path
        ``table``.

    Examples
    --------
    >>> from skquake.datasets import make_quakeset, read_epicentres
    >>> from skquake.datasets.synthetic import write_epicentre_table
    >>> path = make_quakeset(getfixture("tmp_path") / "q.h5", n_events=3, patch_size=8)
    >>> table = write_epicentre_table(path, getfixture("tmp_path") / "epicentres.csv")
    >>> read_epicentres(path, table=table) == read_epicentres(path)
    True
    """
    table, kind = check_table_path(table, overwrite)
    parquet = import_optional("pyarrow.parquet", extra="parquet") if kind == "parquet" else None
    epicentres = read_epicentres(quakeset)
    with atomic_output(table, overwrite=overwrite) as tmp:
        if parquet is not None:
            pyarrow = import_optional("pyarrow", extra="parquet")
            columns = [list(epicentres)] + [[values[k] for values in epicentres.values()] for k in range(3)]
            schema = pyarrow.schema([(TABLE_COLUMNS[0], pyarrow.string())]
                                    + [(name, pyarrow.float64()) for name in TABLE_COLUMNS[1:]])
            parquet.write_table(pyarrow.table(dict(zip(TABLE_COLUMNS, columns)), schema=schema), tmp)
        else:
            with open(tmp, "w", newline="", encoding="utf-8") as stream:
                writer = csv.writer(stream)
                writer.writerow(TABLE_COLUMNS)
                # repr: the shortest text that reads back as the same float
                writer.writerows([event, *map(repr, values)] for event, values in epicentres.items())
    return table

"""What every ``skquake`` command shares: how it parses its options, how it fails, its exit status.

Each command builds a :class:`CommandParser` (an :class:`argparse.ArgumentParser`) and hands
its body to :meth:`CommandParser.run`, which returns the exit status and never raises
``SystemExit``:

====  =====================================================================================
0     success (``--help`` too)
1     the command ran and failed: a storage or a row failed, a resource is busy, an I/O or
      memory error (``OSError``, ``RuntimeError``, ``MemoryError``, the command's ``failures``)
2     a usage error: an option argparse refuses, a value the Python API refuses
      (``ValueError``, ``KeyError``, scikit-learn's ``InvalidParameterError``), an input path
      that is missing or a folder, an output that exists
130   interrupted (Ctrl-C)
====  =====================================================================================

Every error a user can cause is one line on stderr, ``skquake COMMAND: error: MESSAGE``, never a
traceback; an exception of another type is a bug and keeps its traceback.

The Python API names its keywords in its messages (scikit-learn's ``The 'patch_size' parameter
of make_quakeset must be ...``, ``pass overwrite=True``, ``pool=3 does not divide ...``). On the
command line the same message names the flag instead (``--patch-size must be ...``, ``pass
--overwrite``), rewritten by :meth:`CommandParser.flags_for_keywords` from the parser's own
table of options (``dest`` -> option string): a command whose ``dest`` is the Python keyword
needs no message table. A message that names no option but quotes the value of one (or whose
``OSError.filename`` is one) is prefixed with ``argument --OPTION:``, as argparse does.

The ``type=`` callables here check paths and numbers while parsing, so that such errors exit 2
naming the option before any slow work: :func:`input_file`, :func:`new_file`,
:func:`output_folder` and :func:`checked` (a value against a scikit-learn constraint).
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from pathlib import Path
from typing import Callable

from ._io import check_input_file

__all__ = ["CommandParser", "checked", "input_file", "name_value", "new_file", "output_folder"]

#: Exceptions that mean "the command was given wrong input": exit status 2.
USAGE_ERRORS = (ValueError, KeyError, FileNotFoundError, FileExistsError, IsADirectoryError,
                NotADirectoryError)
#: Exceptions that mean "the command ran and failed": exit status 1.
RUNTIME_ERRORS = (OSError, RuntimeError, MemoryError)

_BOOLEAN_ACTIONS = (argparse._StoreTrueAction, argparse._StoreFalseAction)  # (no public names)
_IDENTIFIER = r"[A-Za-z_]\w*"
#: A Python call written in a message, ``make_quakeset(patch_size=9000, n_events=2)``.
_CALL = rf"(?<![\w.]){_IDENTIFIER}(?:\.{_IDENTIFIER})*\((?P<inner>[^()]*)\)"


class CommandParser(argparse.ArgumentParser):
    """The parser and runner of one ``skquake`` command.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`argparse.ArgumentParser` (``prog="skquake COMMAND"``).
    failures : tuple of exception types, default=()
        Further exceptions that mean a runtime failure (exit 1) with a one-line message, e.g.
        a database driver's errors.
    redact : callable, optional
        ``redact(text, args) -> text`` applied to every error message before it is printed
        (``args`` is None when parsing failed), e.g. to hide a password.
    interrupted : str, default="interrupted"
        What to print on Ctrl-C (exit 130).

    Examples
    --------
    >>> parser = CommandParser(prog="skquake demo")
    >>> _ = parser.add_argument("--patch-size", type=int, default=64)
    >>> parser.flags_for_keywords("The 'patch_size' parameter of make_quakeset must be an int")
    '--patch-size must be an int'
    """

    def __init__(self, *args, failures=(), redact: Callable | None = None, interrupted="interrupted",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.failures = tuple(failures)
        self.redact = redact
        self.interrupted = interrupted

    # ------------------------------------------------------------------ running
    def run(self, body: Callable[[argparse.Namespace], int | None], argv=None) -> int:
        """Parse ``argv``, call ``body(args)`` and return the exit status (see the module).

        Parameters
        ----------
        body : callable
            ``body(args) -> int or None`` (None means 0).
        argv : list of str, optional
            Default ``sys.argv[1:]``.

        Returns
        -------
        int
        """
        argv = list(sys.argv[1:] if argv is None else argv)
        args = None
        try:
            args = self.parse_args(argv)
            return int(body(args) or 0)
        except SystemExit as exc:  # argparse's own errors (2) and --help (0), or parser.error
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except KeyboardInterrupt:
            self._print_message(f"\n{self.prog}: {self.interrupted}\n", sys.stderr)
            return 130
        except USAGE_ERRORS as exc:
            self._fail(exc, args)
            return 2
        except RUNTIME_ERRORS + self.failures as exc:
            self._fail(exc, args)
            return 1

    def error(self, message):
        """argparse's usage error (exit 2), with ``redact`` applied to the message."""
        if self.redact is not None:
            message = self.redact(message, None)
        super().error(message)

    def _fail(self, exc, args):
        # str(KeyError("x")) is "'x'": the message is its argument.
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        text = self.flags_for_keywords(text, getattr(exc, "parameters", ()))
        text = self._name_option(text, exc, args)
        if self.redact is not None:
            text = self.redact(text, args)
        self._print_message(f"{self.prog}: error: {text}\n", sys.stderr)

    # ------------------------------------------------------------------ messages
    def _options(self) -> dict:
        """``dest -> (name shown to the user, action)`` for every argument of the command."""
        table = {}
        for action in self._actions:
            if action.dest in (None, argparse.SUPPRESS) or isinstance(action, argparse._HelpAction):
                continue
            if action.option_strings:
                long = [o for o in action.option_strings if o.startswith("--")]
                name = (long or action.option_strings)[0]
            else:
                name = action.metavar if isinstance(action.metavar, str) else action.dest
            table[action.dest] = (name, action)
        return table

    def flags_for_keywords(self, text: str, parameters=()) -> str:
        """Rewrite the Python keywords that ``text`` names into this command's options.

        A keyword is rewritten where the message names it as the Python API does:
        ``The 'kw' parameter of CALLER`` (scikit-learn's validation), ``CALL(kw=v, ...)``
        (a call whose keywords are all options: ``--kw v ...``), ``kw=value`` (``pass
        overwrite=True`` -> ``pass --overwrite``), ``kw == value`` (scikit-learn's
        ``check_scalar``), ``kw must``, and the keywords listed in ``parameters`` (those an
        error says it is about, e.g. ``ResourceLimitError.parameters``) wherever they stand as
        words. A keyword that is not an option of the command is left as it is.

        Parameters
        ----------
        text : str
        parameters : sequence of str, default=()

        Returns
        -------
        str
        """
        options = self._options()

        def flag(kw):
            return options[kw][0]

        def assignment(kw, value):
            """``kw=value`` as command-line words."""
            name, action = options[kw]
            if isinstance(action, _BOOLEAN_ACTIONS) and value in ("True", "False"):
                given = (value == "True") == isinstance(action, argparse._StoreTrueAction)
                return name if given else f"no {name}"
            return f"{name} {value}" if value else name

        def sklearn(m):
            return flag(m["kw"]) if m["kw"] in options else m[0]

        def call(m):
            items = [item.strip() for item in m["inner"].split(",")]
            pairs = [item.partition("=") for item in items]
            if not items or any(sep != "=" or kw.strip() not in options for kw, sep, _ in pairs):
                return m[0]
            return " ".join(assignment(kw.strip(), value.strip()) for kw, _, value in pairs)

        def keyword(m):
            if m["kw"] not in options:
                return m[0]
            return assignment(m["kw"], m["value"])

        def compared(m):
            return f"{flag(m['kw'])} " if m["kw"] in options else m[0]

        def must(m):
            return f"{flag(m['kw'])} must" if m["kw"] in options else m[0]

        def words(part):
            part = re.sub(rf"(?<![\w.'\-])(?P<kw>{_IDENTIFIER})=(?P<value>True\b|False\b|[^\s,;)]*)", keyword, part)
            part = re.sub(rf"(?<![\w.'\-])(?P<kw>{_IDENTIFIER}) == ", compared, part)
            part = re.sub(rf"(?<![\w.'\-/])(?P<kw>{_IDENTIFIER}) must\b", must, part)
            for kw in (kw for kw in parameters if kw in options):
                part = re.sub(rf"(?<![\w.'\-/]){re.escape(kw)}(?![\w-])", flag(kw), part)
            return part

        text = re.sub(rf"\bThe '(?P<kw>{_IDENTIFIER})' parameter of [\w.]+", sklearn, text)
        text = re.sub(_CALL, call, text)
        # What stays inside a call is Python to copy (``load_quakeset(path, pool=4)``): kept.
        pieces, end = [], 0
        for m in re.finditer(_CALL, text):
            pieces += [words(text[end:m.start()]), m[0]]
            end = m.end()
        return "".join(pieces + [words(text[end:])])

    def _name_option(self, text, exc, args):
        """Prefix ``argument OPTION:`` when ``text`` names no option but quotes one's value.

        The option is the one whose value (or, for an ``OSError``, whose path) the message
        names first: a message names its subject before the context (``parameter 'x' is not a
        parameter of model 'y'``).
        """
        if args is None:
            return text
        options = self._options()
        if any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)
               for name, action in options.values() if action.option_strings):
            return text
        filename = getattr(exc, "filename", None)
        first = None  # (position in text, option name)
        for dest, (name, action) in options.items():
            value = getattr(args, dest, None)
            if value is None or value == action.default or isinstance(value, bool):
                continue
            for given in filter(None, _words(value)):
                if filename is not None and os.fspath(filename) == given:
                    position = -1  # the path the error is about comes before any quoted value
                else:
                    position = text.find(repr(given))
                    if position == -1:
                        continue
                if first is None or position < first[0]:
                    first = (position, name)
        return text if first is None else f"argument {first[1]}: {text}"


def _words(value) -> list:
    """The texts in an option's value: a str or path, or those inside a list or tuple."""
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    if isinstance(value, (list, tuple)):
        return [w for item in value for w in _words(item)]
    return []


# ---------------------------------------------------------------------- option types
def checked(convert: Callable, constraint) -> Callable:
    """An argparse ``type=``: ``convert(text)``, then check it against a scikit-learn constraint.

    Parameters
    ----------
    convert : callable
        ``int``, ``float``...
    constraint : sklearn constraint
        E.g. ``StrictInterval(Integral, 1, None, closed="left")``; its description is the
        message (``argument --pool: must be an int in the range [1, inf), got 0``).

    Returns
    -------
    callable

    Examples
    --------
    >>> from numbers import Integral
    >>> from skquake.utils import Interval
    >>> positive = checked(int, Interval(Integral, 1, None, closed="left"))
    >>> positive("3")
    3
    >>> try:
    ...     positive("0")
    ... except argparse.ArgumentTypeError as exc:
    ...     print(exc)
    must be an int in the range [1, inf), got 0
    """

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {constraint}, got {text!r}") from None
        if not constraint.is_satisfied_by(value):
            raise argparse.ArgumentTypeError(f"must be {constraint}, got {text}")
        return value

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def name_value(text: str) -> tuple:
    """An argparse ``type=`` for ``--set NAME=VALUE``: ``(name, value)``, the value a Python literal.

    A value that is not a literal stays text (``--set backbone=resnet18``).

    Examples
    --------
    >>> name_value("max_epochs=3"), name_value("backbone=resnet18"), name_value("shape=(4, 8)")
    (('max_epochs', 3), ('backbone', 'resnet18'), ('shape', (4, 8)))
    """
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError):
        value = value.strip()
    return name.strip(), value


def input_file(what: str = "file") -> Callable:
    """An argparse ``type=`` for a file the command reads: it exists and is not a folder.

    ``what`` names the file in the message (``"QuakeSet file"``). Returns the path as text, a
    leading ``~`` expanded (a shell leaves ``--data=~/x`` as it is).
    """

    def parse(text):
        path = os.path.expanduser(text)
        try:
            check_input_file(path, what)
        except OSError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return path

    parse.__name__ = "input_file"
    return parse


def new_file(text: str) -> str:
    """An argparse ``type=`` for a file the command creates and never replaces.

    Refuses a folder, an existing file and a path whose folder does not exist.
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; expected a new file path")
    if path.exists():
        raise argparse.ArgumentTypeError(f"{text} already exists; refusing to overwrite it, choose a new file")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: the folder {path.parent} does not exist")
    return text


def output_folder(text: str) -> str:
    """An argparse ``type=`` for a folder the command writes into (created when missing).

    Refuses a path that exists and is not a folder.
    """
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder; pass a folder (created if missing)")
    return text

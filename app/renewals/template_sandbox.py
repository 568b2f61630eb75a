"""The Jinja sandbox that Admin-edited email templates render in, with limits.

Jinja's ``ImmutableSandboxedEnvironment`` keeps a template away from Python internals
(``__class__``, ``__globals__``, ...) and from changing lists and dicts. It does not stop a
template from producing gigabytes (``{{ "x"|center(999999999) }}``) or from looping for hours
(``{% for a in range(99999) %}{% for b in range(99999) %}...``). This one does, so that a bad
template is refused when it is saved and becomes one failed email at send time, never a
crashed or hanging run:

- **Size.** No value a template computes, and no part of an email, may exceed
  ``MAX_OUTPUT`` characters. Operations that can multiply their input are checked *before*
  they run (repetition, ``%`` and ``format``, ``str.format``, ``center``/``ljust``/``rjust``/
  ``zfill``, ``indent``, ``wordwrap``, ``replace``, ``join``, ``urlize``, ...); every filter,
  call, operator and ``~`` checks its result. Everything a rendering produces (values,
  macro and loop output, the email itself) counts towards ``MAX_WORK``, so repeating a big
  value in nested loops or macros stops early too.
- **Time.** Every loop iteration, call, filter and piece of output checks a deadline
  (``TIME_BUDGET``, 2 seconds), so nested loops stop even when they output nothing.

The counters live in a ``Budget`` made active by ``limits(...)`` for one rendering.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import math
import re
import time
from collections.abc import Iterator
from string import Formatter
from typing import Any

from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from markupsafe import EscapeFormatter, Markup

#: Characters one value, or one part of an email (subject, text, HTML), may have.
MAX_OUTPUT = 1_000_000
#: Characters one rendering may produce in all: values, buffered (macro, loop) and final output.
MAX_WORK = 10 * MAX_OUTPUT
#: Seconds one rendering (all parts of one email) may take.
TIME_BUDGET = 2.0
#: Items per batch or slice (the same as Jinja's cap on ``range``).
MAX_ITEMS = MAX_RANGE
#: Bits an integer may have: far beyond any sum or count, and still printable.
MAX_INT_BITS = 10_000
#: ``x ** y``: the largest exponent.
MAX_POWER = 100
#: ``'x' * n``, ``[...] * n``: the largest result.
MAX_REPEAT = 10_000
#: ``tojson(indent)``, ``round(precision)``: the largest sensible value.
MAX_SMALL_ARGUMENT = 100


class TemplateLimitExceeded(SecurityError):
    """The template produces too much or takes too long; the message says which."""


_LIMIT = "the limit for email templates"


def _too_large(what: str) -> TemplateLimitExceeded:
    return TemplateLimitExceeded(
        f"{what} would produce more than {MAX_OUTPUT:,} characters, {_LIMIT}"
    )


# --- the budget of one rendering ------------------------------------------------------------


#: A rendering may also not take longer than this many times its budget on the clock.
_WALL_FACTOR = 5


class Budget:
    """Time and output of one rendering; ``seconds=None``: no deadline.

    The budget counts the CPU time of the rendering thread, so a busy machine (other
    requests, a loaded CI) does not refuse a legitimate template, while a runaway loop,
    which burns CPU, still stops; the wall clock only backs it up (``_WALL_FACTOR``)."""

    __slots__ = ("deadline", "wall_deadline", "seconds", "work")

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.deadline = math.inf if seconds is None else time.thread_time() + seconds
        self.wall_deadline = (
            math.inf if seconds is None else time.monotonic() + _WALL_FACTOR * seconds
        )
        self.work = 0

    def tick(self) -> None:
        if time.thread_time() > self.deadline or time.monotonic() > self.wall_deadline:
            raise TemplateLimitExceeded(
                f"rendering takes longer than {self.seconds:g} seconds, {_LIMIT} (loops "
                "inside loops?)"
            )

    def add(self, size: int) -> None:
        self.work += size
        if self.work > MAX_WORK:
            raise TemplateLimitExceeded(
                f"the template produces more than {MAX_WORK:,} characters in all (values, "
                f"loops and output together), {_LIMIT}"
            )
        self.tick()


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "email_template_budget", default=None
)


def _budget() -> Budget:
    return _BUDGET.get() or Budget()


@contextlib.contextmanager
def limits(seconds: float | None = None) -> Iterator[Budget]:
    """Make a fresh budget (deadline ``seconds`` from now, default ``TIME_BUDGET``) the one
    the sandbox checks, for the renderings inside the ``with`` block."""
    budget = Budget(TIME_BUDGET if seconds is None else seconds)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def render_limited(template, context: dict) -> str:
    """Render ``template`` (from ``LimitedSandbox``) piece by piece, refusing it as soon as its
    output passes ``MAX_OUTPUT`` characters. Call it inside ``limits()``."""
    pieces, size = [], 0
    stream = template.generate(context)
    try:
        for piece in stream:
            size += len(piece)
            if size > MAX_OUTPUT:
                raise TemplateLimitExceeded(
                    f"the output is longer than {MAX_OUTPUT:,} characters, {_LIMIT}"
                )
            pieces.append(piece)
    finally:
        stream.close()
    return "".join(pieces)


# --- sizes ----------------------------------------------------------------------------------


def size_of(value: Any, limit: int = MAX_OUTPUT) -> int:
    """About how many characters ``value`` stands for: a string's length, an integer's digits,
    a container's elements counted deeply (every reference again, as output would repeat it).
    Counting stops once past ``limit``."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += len(item)  # at least one character each, even when empty
            stack.extend(item)
        else:
            total += 1
    return total


def sized(value: Any) -> Any:
    """``value``, once it is known not to exceed ``MAX_OUTPUT`` (counted in the budget)."""
    size = size_of(value)
    if size > MAX_OUTPUT:
        raise _too_large("an expression")
    _budget().add(size)
    return value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _limit(predicted: int, what: str) -> None:
    if predicted > MAX_OUTPUT:
        raise _too_large(what)


def _replace_size(text, old, new, count) -> int:
    if not old and new:
        raise TemplateLimitExceeded(
            "replace with an empty search text (an insertion between every character) is not "
            "allowed in email templates"
        )
    occurrences = len(text) + 1 if not old else text.count(old)
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * (len(new) - len(old))


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|[0-9]+)?(?:\.(\*|[0-9]*))?[hlL]?(.)?", re.S)


def _number(digits: str) -> int:
    """A width or precision written in a format ("" and "*" count as 0)."""
    if not digits.isdigit():
        return 0
    return int(digits) if len(digits) <= 9 else MAX_OUTPUT + 1


def percent_size(fmt: str | bytes, values: Any) -> int:
    """An upper bound of ``len(fmt % values)``, computed without formatting."""
    text = fmt if isinstance(fmt, str) else fmt.decode("latin-1")
    specs = _PERCENT_SPEC.findall(text)
    if not specs:
        return len(fmt)
    star = any("*" in (width, precision) for width, precision, _ in specs)
    if isinstance(values, dict):
        items = list(values.values())
    elif isinstance(values, tuple):
        items = list(values)
    else:
        items = [values]
    biggest = 0
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            size = item.bit_length() // 3 + 2
            if star:
                size = max(size, abs(item))
        elif isinstance(item, float):
            size = 330  # the longest %f of a float
        else:
            size = size_of(item, MAX_OUTPUT)
        biggest = max(biggest, size)
    widest = max(_number(width) for width, _, _ in specs)
    precise = max(_number(precision) for _, precision, _ in specs)
    return len(fmt) + len(specs) * (biggest + widest + precise)


# --- methods of strings and numbers ---------------------------------------------------------


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_method(owner: Any, name: str, args: tuple, kwargs: dict) -> tuple | None:
    """Refuse a call of a string (or bytes, or int) method whose result would be too large.
    Returns the arguments to call it with (``join`` materialises its iterable), else None."""
    if isinstance(owner, (str, bytes)):
        if name in ("center", "ljust", "rjust", "zfill"):
            _limit(max(len(owner), _int(_arg(args, kwargs, 0, "width"))), f"{name}()")
        elif name == "expandtabs":
            tab = "\t" if isinstance(owner, str) else b"\t"
            tabsize = _int(_arg(args, kwargs, 0, "tabsize", 8))
            _limit(len(owner) + owner.count(tab) * tabsize, "expandtabs()")
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            if isinstance(old, type(owner)) and isinstance(new, type(owner)):
                count = _arg(args, kwargs, 2, "count", -1)
                _limit(_replace_size(owner, old, new, count), "replace()")
        elif name == "join" and len(args) == 1:
            items = list(args[0])
            separators = len(owner) * max(len(items) - 1, 0)
            _limit(separators + sum(size_of(item) for item in items), "join()")
            return (items,)
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((size_of(value) for value in args[0].values()), default=1)
            _limit(len(owner) * max(longest, 1), "translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        _limit(_int(_arg(args, kwargs, 0, "length", 1)), "to_bytes()")
    return None


class _LimitedFormatter(SandboxedFormatter):
    """``str.format`` in the sandbox, refusing widths and results beyond ``MAX_OUTPUT``."""

    def vformat(self, format_string, args, kwargs):
        self._produced = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        for digits in re.findall(r"[0-9]+", format_spec):
            _limit(_number(digits), "str.format()")
        result = super().format_field(value, format_spec)
        self._produced = getattr(self, "_produced", 0) + len(result)
        _limit(self._produced, "str.format()")
        return result


class _LimitedEscapeFormatter(_LimitedFormatter, EscapeFormatter):
    pass


# --- filters --------------------------------------------------------------------------------


def _check_center(a: dict) -> None:
    _limit(max(len(str(a["value"])), _int(a["width"])), "center")


def _check_indent(a: dict) -> None:
    text, width = str(a["s"]), a["width"]
    prefix = len(width) if isinstance(width, str) else _int(width)
    _limit(len(text) + (text.count("\n") + 1) * prefix, "indent")


def _check_wordwrap(a: dict) -> None:
    text, wrap = str(a["s"]), a["wrapstring"]
    wrap_length = len(wrap) if isinstance(wrap, str) else len(a["environment"].newline_sequence)
    lines = len(text) // max(_int(a["width"]), 1) + len(text.split()) + 1
    _limit(len(text) + lines * wrap_length, "wordwrap")


def _check_replace(a: dict) -> None:
    _limit(_replace_size(str(a["s"]), str(a["old"]), str(a["new"]), a["count"]), "replace")


def _check_join(a: dict) -> None:
    items = list(a["value"])
    if a["attribute"] is not None:
        getter = make_attrgetter(a["eval_ctx"].environment, a["attribute"])
        items = [getter(item) for item in items]
        a["attribute"] = None
    a["value"] = items
    separators = len(str(a["d"])) * max(len(items) - 1, 0)
    _limit(separators + sum(size_of(item) for item in items), "join")


def _check_format(a: dict) -> None:
    _limit(percent_size(str(a["value"]), a["kwargs"] or a["args"]), "format")


def _check_urlize(a: dict) -> None:
    text = str(a["value"])
    per_link = len(str(a["target"] or "")) + len(str(a["rel"] or "")) + 64
    _limit(3 * len(text) + len(text.split()) * per_link, "urlize")


def _check_items(key: str, what: str):
    def check(a: dict) -> None:
        if _int(a[key]) > MAX_ITEMS:
            raise TemplateLimitExceeded(f"{what} is limited to {MAX_ITEMS:,}")

    return check


def _check_sum(a: dict) -> None:
    if isinstance(a["start"], (str, bytes, list, tuple, dict, set)):
        raise TemplateLimitExceeded("sum of lists or strings is not allowed in email templates")


def _check_small(key: str, what: str):
    def check(a: dict) -> None:
        value = a[key]
        size = len(value) if isinstance(value, str) else abs(_int(value))
        if size > MAX_SMALL_ARGUMENT:
            raise TemplateLimitExceeded(f"{what} is limited to {MAX_SMALL_ARGUMENT}")

    return check


#: Filters whose result can be much larger (or slower) than their input, by argument.
_FILTER_CHECKS = {
    "center": _check_center,
    "indent": _check_indent,
    "wordwrap": _check_wordwrap,
    "replace": _check_replace,
    "join": _check_join,
    "format": _check_format,
    "urlize": _check_urlize,
    "batch": _check_items("linecount", "batch(n)"),
    "slice": _check_items("slices", "slice(n)"),
    "sum": _check_sum,
    "tojson": _check_small("indent", "tojson(indent)"),
    "round": _check_small("precision", "round(precision)"),
}


def _limited_filter(name: str, func):
    check = _FILTER_CHECKS.get(name)
    signature = inspect.signature(func) if check is not None else None
    # Jinja's async-capable filters take a pass argument their signature does not show.
    hidden = int(
        getattr(func, "jinja_pass_arg", None) is not None
        and getattr(inspect.unwrap(func), "jinja_pass_arg", None) is None
    )

    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marks
    def limited(*args, **kwargs):
        _budget().tick()
        if signature is not None:
            bound = signature.bind(*args[hidden:], **kwargs)
            bound.apply_defaults()
            check(bound.arguments)
            args, kwargs = (*args[:hidden], *bound.args), bound.kwargs
        return sized(func(*args, **kwargs))

    return limited


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    if _int(n) * _int(max) > MAX_ITEMS:
        raise TemplateLimitExceeded(f"lipsum is limited to {MAX_ITEMS:,} words")
    return generate_lorem_ipsum(n, html, min, max)


# --- the environment ------------------------------------------------------------------------


class _LimitedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with the budget checks written into the template's code: each
    loop iteration, each piece of output (also into macro and block buffers) and each ``~``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()  # ids of the nodes a for loop iterates over

    def visit_For(self, node, frame):
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node, *args, **kwargs):
        if id(node) not in self._loop_iterables:
            return super().visit(node, *args, **kwargs)
        self.write("environment.guarded_iter(")
        super().visit(node, *args, **kwargs)
        self.write(")")
        return None

    def _output_const_repr(self, group):
        return f"environment.counted_output({super()._output_const_repr(group)})"

    def _output_child_pre(self, node, frame, finalize):
        self.write("environment.counted_output(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node, frame, finalize):
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_Concat(self, node, frame):
        self.write("environment.sized(")
        super().visit_Concat(node, frame)
        self.write(")")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the size and time limits of this module."""

    code_generator_class = _LimitedCodeGenerator
    intercepted_binops = frozenset(["*", "**", "%", "+"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters = {name: _limited_filter(name, func) for name, func in self.filters.items()}
        self.globals["lipsum"] = _lipsum

    # Called by the generated code (see _LimitedCodeGenerator).

    @staticmethod
    def guarded_iter(iterable) -> Iterator:
        budget = _budget()
        for item in iterable:
            budget.tick()
            yield item

    @staticmethod
    def counted_output(piece: str) -> str:
        _budget().add(len(piece))
        return piece

    sized = staticmethod(sized)

    # The sandbox's hooks.

    def call_binop(self, context, operator, left, right):
        numbers = all(isinstance(x, int) and not isinstance(x, bool) for x in (left, right))
        if operator == "**" and isinstance(right, int):
            if abs(right) > MAX_POWER:
                raise TemplateLimitExceeded(f"exponent {right} is too large")
            if numbers and right > 0 and left.bit_length() * right > MAX_INT_BITS:
                raise TemplateLimitExceeded("the number would be too large")
        elif operator == "*":
            if numbers and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateLimitExceeded("the number would be too large")
            for sequence, count in ((left, right), (right, left)):
                if (
                    isinstance(sequence, (str, bytes, list, tuple))
                    and isinstance(count, int)
                    and count * max(size_of(sequence, MAX_REPEAT), 1) > MAX_REPEAT
                ):
                    raise TemplateLimitExceeded("repetition is too large")
        elif operator == "%" and isinstance(left, (str, bytes)):
            _limit(percent_size(left, right), "%-formatting")
        return sized(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (Jinja's signature)
        _budget().tick()
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if owner is not None:
            replaced = _check_method(owner, name, args, kwargs)
            if replaced is not None:
                args = replaced
        return sized(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value):
        """Jinja's sandboxed ``str.format``/``format_map``, with the limited formatter."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        owner = value.__self__
        is_format_map = value.__name__ == "format_map"
        formatter: Formatter
        if isinstance(owner, Markup):
            formatter = _LimitedEscapeFormatter(self, escape=owner.escape)
        else:
            formatter = _LimitedFormatter(self)
        str_type = type(owner)

        @functools.wraps(value)
        def limited(*args, **kwargs):
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return str_type(formatter.vformat(owner, args, kwargs))

        return limited

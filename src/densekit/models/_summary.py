"""Keras 3's `model.summary()` table, rendered without rich.

Keras draws the table with rich (heavy-head box, lines between rows, cell
padding 1) and sizes it with rich's column arithmetic; the functions here
reproduce that arithmetic so the text matches Keras character for character
for the same `line_length` (checked against Keras in tests/test_models.py).
"""

import math
import re
import shutil

from densekit.layers.layer import weight_nbytes

__all__ = ["summary_lines", "readable_memory_size"]


def readable_memory_size(nbytes):
    """'4.72 KB' style sizes, base 1024, as Keras prints them."""
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    size = float(nbytes)
    for unit in units:
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} {units[-1]}"


def _ratio_reduce(total, ratios, maximums, values):
    # rich._ratio.ratio_reduce
    ratios = [r if m else 0 for r, m in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def _ratio_distribute(total, ratios):
    # rich._ratio.ratio_distribute without minimums
    total_ratio = sum(ratios)
    remaining = total
    result = []
    for ratio in ratios:
        distributed = math.ceil(ratio * remaining / total_ratio) if total_ratio > 0 else remaining
        result.append(distributed)
        total_ratio -= ratio
        remaining -= distributed
    return result


def _cell_widths(line_length, positions):
    widths = []
    current = 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    cells = [w + 2 for w in widths]  # one space of padding on each side
    available = line_length - (len(cells) + 1)  # minus the vertical borders
    total = sum(cells)
    if total > available:
        cells = _ratio_reduce(total - available, [1] * len(cells), cells, cells)
    elif total < available:
        cells = [c + p for c, p in zip(cells, _ratio_distribute(available - total, cells))]
    return cells


def _wrap(text, width):
    """Greedy word wrap; a word longer than `width` is cut with '…' (rich's
    default overflow='ellipsis' for table cells)."""
    lines = []
    line = ""
    for word in re.findall(r"\S+\s*", text) or [""]:
        stripped = word.rstrip()
        if line and len(line) + len(stripped) > width:
            lines.append(line.rstrip())
            line = ""
        if len(stripped) > width:
            lines.append(stripped[: width - 1] + "\u2026")
            continue
        line += word
    if line or not lines:
        lines.append(line.rstrip())
    return lines


def _render_row(cells, widths, justify, sep, bottom=False):
    wrapped = [_wrap(text, w - 2) for text, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    if bottom:  # rich aligns header cells to the bottom, body cells to the top
        wrapped = [[""] * (height - len(w)) + w for w in wrapped]
    out = []
    for i in range(height):
        parts = []
        for lines, w, j in zip(wrapped, widths, justify):
            text = lines[i] if i < len(lines) else ""
            text = text.rjust(w - 2) if j == "right" else text.ljust(w - 2)
            parts.append(" " + text + " ")
        out.append(sep + sep.join(parts) + sep)
    return out


def _format_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _layer_rows(model):
    rows = []
    shape = model._layers[0].batch_shape if model.built else None
    for layer in model.layers:
        name = f"{layer.name} ({type(layer).__name__})"
        if shape is not None:
            shape = layer.compute_output_shape(shape)
            out_shape = _format_shape(shape)
        elif layer.built and layer._build_input_shape is not None:
            out_shape = _format_shape(layer.output_shape)
        else:
            out_shape = "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        rows.append([name, out_shape, params])
    return rows


def summary_lines(model, line_length=None, positions=None):
    """The lines of Keras' summary for a Sequential `model`."""
    if line_length is None:
        line_length = min(88, shutil.get_terminal_size().columns - 4)
    if positions is None:
        positions = [0.45, 0.80, 1.0]
    positions = list(positions)
    if len(positions) != 3:
        raise ValueError(
            f"Argument `positions` must have 3 entries. Received: positions={positions}"
        )
    widths = _cell_widths(line_length, positions)
    justify = ["left", "left", "right"]

    def rule(left, mid, right, fill):
        return left + mid.join(fill * w for w in widths) + right

    lines = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━")]
    lines += _render_row(["Layer (type)", "Output Shape", "Param #"], widths, justify, "┃",
                         bottom=True)
    rows = _layer_rows(model)
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("├", "┼", "┤", "─"))
        lines += _render_row(row, widths, justify, "│")
    lines.append(rule("└", "┴", "┘", "─"))

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    n_train = sum(int(w.size) for w in trainable)
    n_non = sum(int(w.size) for w in non_trainable)
    b_train = weight_nbytes(trainable)
    b_non = weight_nbytes(non_trainable)
    lines.append(f" Total params: {n_train + n_non:,} ({readable_memory_size(b_train + b_non)})")
    lines.append(f" Trainable params: {n_train:,} ({readable_memory_size(b_train)})")
    lines.append(f" Non-trainable params: {n_non:,} ({readable_memory_size(b_non)})")
    return lines

"""Per-class zero-shot accuracy bars: where a dense readout falls behind the crop baseline."""
from __future__ import annotations

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

READOUT_COLOURS = {'crops': '#7f7f7f', 'boxes': '#1f77b4', 'masks': '#2ca02c'}


def plot_per_class_accuracy(per_class: dict[str, dict], path: str, k: str = 'top1') -> str:
    """One panel per tower: top-1 accuracy of every class for each readout (crops, boxes, masks).

    Args:
        per_class: tower name -> the JSON written by ``DenseZeroShotAccuracy(out_file=...)``.
        path: PNG to write.
    """
    towers = list(per_class)
    fig, axes = plt.subplots(len(towers), 1, figsize=(14, 3.2 * len(towers)), squeeze=False)
    for ax, tower in zip(axes[:, 0], towers):
        data = per_class[tower]
        classes, num_things = data['classes'], data['num_things']
        readouts = [r for r in READOUT_COLOURS if r in data['per_class']]
        x = np.arange(len(classes))
        width = 0.8 / max(len(readouts), 1)
        for i, readout in enumerate(readouts):
            acc = np.array([np.nan if a is None else 100 * a for a in data['per_class'][readout][k]])
            mean = np.nanmean(acc[:num_things]) if np.isfinite(acc[:num_things]).any() else float('nan')
            ax.bar(x + (i - (len(readouts) - 1) / 2) * width, np.nan_to_num(acc), width,
                   color=READOUT_COLOURS[readout], label=f'{readout} (things {mean:.0f}%)')
        ax.axvline(num_things - 0.5, color='k', lw=0.8, ls='--')
        ax.set_xticks(x, classes, rotation=60, ha='right', fontsize=7)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f'{k} accuracy (%)')
        ax.set_title(f'{tower}: things left of the dashed line, stuff right', fontsize=9)
        ax.legend(fontsize=7, ncol=len(readouts), loc='upper right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

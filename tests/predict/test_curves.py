"""``thin_curve``: a few hundred evenly spaced points of a long curve, ends kept."""

from __future__ import annotations

import numpy as np

from jingzhun.predict.curves import thin_curve


def test_thin_curve_keeps_the_ends_and_short_curves():
    x = np.arange(10_001)
    tx, ty = thin_curve(x, x ** 2, 201)
    assert len(tx) == 201 and (tx[0], tx[-1]) == (0, 10_000) and np.all(ty == tx ** 2)
    assert np.all(np.diff(tx) == 50)
    sx, sy = thin_curve([0, 1, 2], [3, 4, 5], 201)
    assert list(sx) == [0, 1, 2] and list(sy) == [3, 4, 5]

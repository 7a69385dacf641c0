"""Generators with known ground truth: a whole simulated retailer (its raw export files and the
parameters behind them) for the demo and for recovery tests of the later stages, and populations
drawn from each BTYD model (``simulate_bgnbd`` ...) for the models' recovery tests.

``jingzhun.simulate.retailer`` is the function (the module of the same name is
``jingzhun.simulate.retailer`` in ``sys.modules``; import from it with ``from ... import``).
"""

from jingzhun.simulate._btyd import BGNBDParams, GammaGammaParams, assignment_uniform
from jingzhun.simulate.populations import (
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
)
from jingzhun.simulate.retailer import RetailerData, retailer

__all__ = ["BGNBDParams", "GammaGammaParams", "RetailerData", "assignment_uniform", "retailer",
           "simulate_bgbb", "simulate_bgnbd", "simulate_gamma_gamma", "simulate_mbgnbd",
           "simulate_pareto_nbd"]

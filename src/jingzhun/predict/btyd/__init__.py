"""The BTYD ("buy till you die") models: maximum-likelihood fits of the papers' models on
per-customer summaries (frequency, recency, age), and their predictions.

Every model is a scikit-learn style estimator (``fit`` returns the model; learned values end in
``_``; ``summary()`` gives estimates, standard errors and 95% intervals). Inputs are compressed to
their unique rows before fitting, so a million customers cost what a few thousand rows cost.
"""

from jingzhun.predict.btyd._base import BTYDModel, ConvergenceWarning, DataWarning
from jingzhun.predict.btyd.beta_geo import BetaGeoModel
from jingzhun.predict.btyd.beta_geo_beta_binom import BetaGeoBetaBinomModel
from jingzhun.predict.btyd.gamma_gamma import GammaGammaModel
from jingzhun.predict.btyd.modified_beta_geo import ModifiedBetaGeoModel
from jingzhun.predict.btyd.pareto_nbd import ParetoNBDModel

__all__ = ["BTYDModel", "BetaGeoBetaBinomModel", "BetaGeoModel", "ConvergenceWarning", "DataWarning",
           "GammaGammaModel", "ModifiedBetaGeoModel", "ParetoNBDModel"]

"""Campaign evaluation: per-arm metrics, statistical tests and lift, treatment vs control.

``stats`` holds the statistics, all computed from additive sufficient statistics per arm
(:class:`jingzhun.evaluate.stats.ArmStats`), so their cost does not grow with recipients.
The package imports nothing on import; import the module you need.
"""

"""The statistics behind earshot's reports: plain Python on numpy, scipy and statsmodels.

No Django here. Every function takes arrays or counts and returns a small frozen result
object; options are keyword-only and named as scipy.stats names them (``alternative``,
``confidence``). Each module's tests pin it to values from an independent source (R
packages, published worked examples, the seed papers).
"""

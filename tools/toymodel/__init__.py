"""The toy model: a synthetic shapes domain, its rule-based evaluator, and the recipe that trains a tiny SD1 model."""

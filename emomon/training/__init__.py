"""The training package: corpora, protocols, metrics, recipes and reports."""

"""Model inspection: per-class permutation importance of damage models and its plot."""
from ._permutation import importance_table, per_class_permutation_importance, plot_permutation_importance

__all__ = ["importance_table", "per_class_permutation_importance", "plot_permutation_importance"]

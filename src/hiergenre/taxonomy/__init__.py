"""The genre taxonomy, aliases and label spaces."""

from hiergenre.taxonomy.core import Branch, Taxonomy, load_taxonomy
from hiergenre.taxonomy.labelspace import (
    KOENIG12,
    LABEL_SPACES,
    LabelSpace,
    get_label_space,
    single_label_subset,
)

__all__ = [
    "KOENIG12",
    "LABEL_SPACES",
    "Branch",
    "LabelSpace",
    "Taxonomy",
    "get_label_space",
    "load_taxonomy",
    "single_label_subset",
]

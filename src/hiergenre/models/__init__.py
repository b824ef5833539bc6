"""Models: every one is a GenreModel (encoder -> head -> logits -> node probabilities).

Importing this package registers tiny, koenig-multilabel, koenig-singlelabel, resnet101, lite0,
style and hierarchical.
"""

from hiergenre.models import (  # noqa: F401 (register)
    hierarchical,
    koenig,
    lite0,
    resnet,
    style,
    timm_encoder,
)
from hiergenre.models.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Encoder,
    GenreModel,
    HeadOnly,
    LinearHead,
    ProbeHead,
    unwrap,
)
from hiergenre.models.heads import (
    HierarchicalHead,
    TreeStructure,
    chain_log_probs,
    conditional_log_probs,
    hierarchical_probs,
)
from hiergenre.models.hierarchical import PerBranchModels, restrict_taxonomy
from hiergenre.models.lite0 import LITE0_MEAN, LITE0_STD, lite0_state_dict, load_lite0_imagenet
from hiergenre.models.registry import (
    get_model,
    list_models,
    make_config,
    model_config_class,
    register_model,
)
from hiergenre.models.style import StyleEncoder, gram_statistics
from hiergenre.tree import mcm, segment_log_softmax

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE0_MEAN",
    "LITE0_STD",
    "Encoder",
    "GenreModel",
    "HeadOnly",
    "HierarchicalHead",
    "LinearHead",
    "ProbeHead",
    "PerBranchModels",
    "StyleEncoder",
    "TreeStructure",
    "chain_log_probs",
    "conditional_log_probs",
    "get_model",
    "gram_statistics",
    "hierarchical_probs",
    "lite0_state_dict",
    "list_models",
    "load_lite0_imagenet",
    "make_config",
    "mcm",
    "model_config_class",
    "register_model",
    "restrict_taxonomy",
    "segment_log_softmax",
    "unwrap",
]

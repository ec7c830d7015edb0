"""Self-supervision: learning from unlabelled X-rays with SimCLR, then from few labels.

SimCLR (Chen et al. 2020) shows a network two random *views* of each X-ray (crops, small
rotations, contrast and brightness changes, noise, blur) and trains it to tell which two
views in a batch come from the same film. No label is read: the training split's images
alone teach an encoder whose features a few labels can then use.

One file an idea, every name importable from here (``from pneumo_helpers import
self_supervised``): :mod:`.views`, :mod:`.simclr`, :mod:`.few_labels`, :mod:`.few_shot`.
The parts:

* :func:`radiograph_views`: the augmentations, chosen for grey radiographs (no colour
  jitter, no flips);
* :func:`build_encoder` (the baseline CNN's convolutional trunk, the same layer names)
  and :func:`build_projection_head`;
* :func:`nt_xent_loss`, the normalised temperature-scaled cross-entropy;
* :func:`pretrain_simclr`, the pretraining loop;
* what few labels do with the features: :func:`nested_label_subsets` (the stratified
  subsets every method shares), :func:`fit_linear_probe`, :func:`init_from_encoder`
  and :class:`FewLabelTrainer` (fine-tuning, or the same network from scratch, at an
  equal number of weight updates), and :func:`few_shot_episodes` (prototypical
  classification, Snell et al. 2017).
"""

from .errors import SelfSupervisedError
from .few_labels import (
    PROBE_STRENGTHS,
    ClassifierRun,
    FewLabelTrainer,
    LinearProbe,
    embed,
    fit_linear_probe,
    init_from_encoder,
    nested_label_subsets,
    raw_pixel_features,
)
from .few_shot import (
    FewShotResult,
    episode_supports,
    few_shot_episodes,
    nearest_neighbours,
    prototype_scores,
)
from .simclr import (
    Pretraining,
    build_encoder,
    build_projection_head,
    nt_xent,
    nt_xent_loss,
    pretrain_simclr,
    simclr_step,
)
from .views import ViewSettings, augment_for_pretraining, radiograph_views

__all__ = [
    "PROBE_STRENGTHS",
    "ClassifierRun",
    "FewLabelTrainer",
    "FewShotResult",
    "LinearProbe",
    "Pretraining",
    "SelfSupervisedError",
    "ViewSettings",
    "augment_for_pretraining",
    "build_encoder",
    "build_projection_head",
    "embed",
    "episode_supports",
    "few_shot_episodes",
    "fit_linear_probe",
    "init_from_encoder",
    "nearest_neighbours",
    "nested_label_subsets",
    "nt_xent",
    "nt_xent_loss",
    "pretrain_simclr",
    "prototype_scores",
    "radiograph_views",
    "raw_pixel_features",
    "simclr_step",
]

"""Recipes: how each named model of the course is trained, and the runs kept of it.

Chapters walk the same steps in the open; the benchmark (``benchmarks/run.py``) calls the
recipes so that both measure the same thing. Three files, one idea each:

* :mod:`.trainers`: the recipes themselves, one per model, each reading its budget row
  (:func:`train_baseline_cnn`, :func:`train_transfer` with :func:`train_vgg16_transfer` and
  :func:`train_resnet50_hybrid`, :func:`train_cnn_transformer_hybrid`, :func:`train_vit`),
  the :data:`RECIPES` table, the :class:`Trained` they return, and the shared steps
  (:func:`budget_row`, :func:`standard_datasets`, :func:`fit_with_budget`,
  :func:`chain_results`, :func:`hybrid_stem_filters`, :func:`chapter_options`);
* :mod:`.weights`: what a recipe's backbone starts from (:data:`RECIPE_BACKBONES`,
  :data:`IMAGENET_WEIGHTS`, :func:`expected_weights`, :func:`started_from`);
* :mod:`.runs`: saved runs, so that a model is trained once (:class:`ModelRun`,
  :func:`run_fingerprint` over every module of the package, :func:`is_current`,
  :func:`run_from_trained`, :func:`save_run`, :func:`load_run`, :func:`load_or_train`).

Every name is importable from here: ``from pneumo_helpers import recipes``.
"""

from .runs import (
    PACKAGE_ROOT,
    ModelRun,
    fingerprinted_modules,
    is_current,
    load_or_train,
    load_run,
    run_fingerprint,
    run_from_trained,
    save_run,
)
from .trainers import (
    RECIPES,
    RecipeError,
    Trained,
    budget_row,
    chain_results,
    chapter_options,
    fit_with_budget,
    hybrid_stem_filters,
    standard_datasets,
    train_baseline_cnn,
    train_cnn_transformer_hybrid,
    train_resnet50_hybrid,
    train_transfer,
    train_vgg16_transfer,
    train_vit,
)
from .weights import IMAGENET_WEIGHTS, RECIPE_BACKBONES, expected_weights, started_from

__all__ = [
    "IMAGENET_WEIGHTS",
    "PACKAGE_ROOT",
    "RECIPES",
    "RECIPE_BACKBONES",
    "ModelRun",
    "RecipeError",
    "Trained",
    "budget_row",
    "chain_results",
    "chapter_options",
    "expected_weights",
    "fingerprinted_modules",
    "fit_with_budget",
    "hybrid_stem_filters",
    "is_current",
    "load_or_train",
    "load_run",
    "run_fingerprint",
    "run_from_trained",
    "save_run",
    "standard_datasets",
    "started_from",
    "train_baseline_cnn",
    "train_cnn_transformer_hybrid",
    "train_resnet50_hybrid",
    "train_transfer",
    "train_vgg16_transfer",
    "train_vit",
]

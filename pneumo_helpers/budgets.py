"""Training budgets: one table, one row per profile and use of a model.

Every training in the course reads its row here: the recipes (and so the benchmark,
``benchmarks/run.py``) and every chapter. A row names everything a recipe varies:
epochs, learning rates, batch size, BatchNorm momentum, what early stopping watches, the
augmentation strength, and for transfer models the two phases of fine-tuning. A chapter
that trains a shorter version of a model names its own row, so that a reader can see
what differs from the model of the chapter that introduced it (:func:`differences`).

The table is :data:`BUDGETS` (``{profile name: {use: Budget}}``); :func:`budget` reads one
row. It is written once: the quick profile's benchmark rows (:data:`QUICK_ROWS`), what the
full profile changes in them (:data:`FULL_CHANGES`), and what each shorter row changes in
its base row in each profile. A rehearsal (``PNEUMO_REHEARSAL=1``) does not change the
table: the helpers shrink epochs and rounds as they train
(:func:`pneumo_helpers.config.budget`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

#: Fields that say where a row is read rather than how a model trains.
DESCRIPTIVE_FIELDS = ("use", "model", "readers")


class BudgetError(ValueError):
    """A budget row was asked for that the table does not hold."""


@dataclass(frozen=True)
class Budget:
    """How one model trains in one profile, for one use (a chapter, or the benchmark).

    With random starting weights (every model of the quick profile, and a transfer model
    whose ImageNet weights cannot be downloaded) the whole network trains for ``epochs``
    at ``learning_rate``. A transfer model that starts from ImageNet weights instead
    trains its head for ``head_epochs`` at ``head_learning_rate`` (frozen backbone), then
    the backbone from ``fine_tune_from`` on for ``fine_tune_epochs`` at
    ``fine_tune_learning_rate``.

    Attributes:
        use: the row's name, e.g. ``"baseline_cnn"`` (the benchmark's row of a model is
            named after the model).
        model: the recipe that trains it, e.g. ``"baseline_cnn"``.
        readers: who reads the row, in words (e.g. ``"chapter 2, benchmark"``).
        epochs: maximum epochs (early stopping may end sooner).
        learning_rate: the optimiser's (initial, or peak for a schedule) learning rate.
        batch_size: mini-batch size.
        patience: epochs without a better monitored value before early stopping.
        weight_decay: decoupled weight decay (AdamW) when above 0, else plain Adam.
        monitor: what early stopping watches, and keeps the best epoch of
            (``"val_auc"`` or ``"val_loss"``).
        schedule: ``"plateau"`` (halve the learning rate when the monitored value stalls
            for two epochs), ``"warmup_cosine"`` (linear warm-up over one epoch, then
            cosine decay to the last epoch) or ``"constant"``.
        batchnorm_momentum: momentum of every BatchNorm layer's moving statistics, or
            None for a model without BatchNorm. Moving statistics average over about
            ``1 / (1 - momentum)`` steps: 0.9 follows weights that change fast (short
            runs from scratch), 0.99 (Keras' default) averages over more batches.
        augment: strength of the course's radiograph augmentation (1.0: chapter 2's).
        resize_to: image side a transfer backbone sees (None: the builder's minimum).
        head_epochs: epochs of feature extraction with pretrained weights.
        head_learning_rate: learning rate of feature extraction.
        fine_tune_epochs: epochs of fine-tuning with pretrained weights.
        fine_tune_learning_rate: learning rate of fine-tuning.
        fine_tune_from: first backbone layer that fine-tuning trains.
        rounds: federated rounds (federated rows only).
        local_epochs: epochs each hospital trains per round (federated rows only).
        flower_rounds: rounds of the Flower run (federated rows only).
        filters: filters per convolution block of the model, when the row sets its width.
    """

    use: str
    model: str
    readers: str
    epochs: int
    learning_rate: float
    batch_size: int
    patience: int
    weight_decay: float = 0.0
    monitor: str = "val_auc"
    schedule: str = "plateau"
    batchnorm_momentum: float | None = None
    augment: float = 1.0
    resize_to: int | None = None
    head_epochs: int | None = None
    head_learning_rate: float | None = None
    fine_tune_epochs: int | None = None
    fine_tune_learning_rate: float | None = None
    fine_tune_from: str | None = None
    rounds: int | None = None
    local_epochs: int | None = None
    flower_rounds: int | None = None
    filters: tuple[int, ...] | None = field(default=None)

    def as_dict(self) -> dict:
        """Return the row's settings that are set (not None), for tables and printing."""
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}

    def training(self) -> dict:
        """Return what decides the trained model: every setting except where it is read."""
        return {
            key: value for key, value in self.as_dict().items() if key not in DESCRIPTIVE_FIELDS
        }

    def describe(self) -> str:
        """Say the row in one line, e.g. ``"baseline_cnn: up to 20 epochs, ..."``."""
        parts = [f"up to {self.epochs} epochs", f"learning rate {self.learning_rate:g}"]
        parts.append(f"batch size {self.batch_size}")
        if self.batchnorm_momentum is not None:
            parts.append(f"BatchNorm momentum {self.batchnorm_momentum:g}")
        parts.append(f"early stopping on {self.monitor} (patience {self.patience})")
        return f"{self.use}: " + ", ".join(parts)


#: How :func:`difference_text` names each setting.
SETTING_NAMES = {
    "epochs": "epochs",
    "learning_rate": "learning rate",
    "batch_size": "batch size",
    "patience": "patience",
    "weight_decay": "weight decay",
    "monitor": "early stopping on",
    "schedule": "learning-rate schedule",
    "batchnorm_momentum": "BatchNorm momentum",
    "augment": "augmentation strength",
}


def differences(row: Budget, reference: Budget) -> dict[str, tuple]:
    """Return ``{setting: (row's value, reference's value)}`` for settings that differ.

    Empty when both rows train the same model the same way (whoever reads them).
    """
    mine, theirs = row.training(), reference.training()
    keys = list(dict.fromkeys([*theirs, *mine]))
    return {
        key: (mine.get(key), theirs.get(key)) for key in keys if mine.get(key) != theirs.get(key)
    }


#: The shorter rows: ``{use: (the row it shortens, who reads it)}``. Each profile says
#: what changes (:data:`QUICK_SHORTER_CHANGES`, :data:`FULL_SHORTER_CHANGES`, below); a
#: setting not listed keeps the base row's value.
SHORTER_ROWS: dict[str, tuple[str, str]] = {
    "vgg16_transfer_chapter": ("vgg16_transfer", "chapters 3 and 4"),
    "resnet50_hybrid_chapter": ("resnet50_hybrid", "chapter 4"),
    "cnn_transformer_hybrid_chapter": ("cnn_transformer_hybrid", "chapter 4"),
    "vit_chapter": ("vit", "chapter 5"),
    "baseline_cnn_sweep": ("baseline_cnn", "chapter 5 (data-efficiency sweep)"),
    "vit_sweep": ("vit", "chapter 5 (data-efficiency sweep)"),
    "baseline_cnn_explain": ("baseline_cnn", "chapter 6"),
    "shortcut_cnn_explain": ("baseline_cnn", "chapter 6 (the shortcut model)"),
    "vit_explain": ("vit", "chapter 6"),
    "baseline_cnn_audit": ("baseline_cnn", "chapter 7 (the baseline and two mitigations)"),
    "baseline_cnn_equal_updates": (
        "baseline_cnn",
        "chapter 3 (the baseline at VGG16's weight updates: the chapter sets epochs and "
        "patience to VGG16's count, at most this row's epochs)",
    ),
    "baseline_cnn_multimodal": (
        "baseline_cnn",
        "chapter 9 (the image-only CNN and early fusion, trained from scratch; epochs and "
        "learning rate from this row, the rest training.fit's defaults)",
    ),
    "fusion_head_multimodal": (
        "baseline_cnn",
        "chapter 9 (the models fine-tuned end to end from copies of the shared image "
        "encoder: the image-only control, intermediate fusion and its missing-record "
        "variants, once per seed; epochs and learning rate)",
    ),
    "baseline_cnn_edge": (
        "baseline_cnn",
        "chapter 10 (the baseline CNN taken to the device, trained by its recipe)",
    ),
    "mobilenet_edge": (
        "baseline_cnn",
        "chapter 10 (MobileNetV3-Small with a small head, trained end to end from its "
        "starting weights; epochs, learning rate, batch size, patience, monitor, BatchNorm "
        "momentum, augmentation and the input side it is resized to)",
    ),
    "student_edge": (
        "baseline_cnn",
        "chapter 10 (the tiny student CNN, once per seed with the teacher's soft targets and "
        "once without: every epoch spent, the best validation AUC kept, no augmentation; "
        "filters per block from this row)",
    ),
    "baseline_cnn_hitl": (
        "baseline_cnn",
        "chapter 12 (the three members of the deep ensemble, one per seed, trained by the "
        "baseline's recipe)",
    ),
    "baseline_cnn_few_labels": (
        "baseline_cnn",
        "chapter 13 (fine-tuned from the SimCLR encoder, or from scratch, on every share of "
        "the labels at equal weight updates: an epoch is each subset repeated to half the "
        "training split's size; the best validation-AUC epoch kept; filters from this row, "
        "the encoder's)",
    ),
    "baseline_cnn_service": (
        "baseline_cnn",
        "chapter 14 (the model behind the screening service, trained by the baseline's recipe "
        "and served as its LiteRT float32 file)",
    ),
}


def difference_text(row: Budget, reference: Budget) -> str:
    """Say how ``row`` trains differently from ``reference``, or ``""`` when it does not.

    E.g. ``"epochs 6 (baseline_cnn: 20), BatchNorm momentum 0.9 (baseline_cnn: 0.99)"``.
    """
    parts = [
        f"{SETTING_NAMES.get(key, key.replace('_', ' '))} {mine:g} ({reference.use}: {theirs:g})"
        if isinstance(mine, int | float) and isinstance(theirs, int | float)
        else f"{SETTING_NAMES.get(key, key.replace('_', ' '))} {mine} ({reference.use}: {theirs})"
        for key, (mine, theirs) in differences(row, reference).items()
    ]
    return ", ".join(parts)


def _profile_table(rows: list[Budget], shorter: dict[str, dict]) -> dict[str, Budget]:
    """Return ``{use: row}``: the benchmark rows, then each shorter row as its changes say."""
    table = {row.use: row for row in rows}
    for use, (base, readers) in SHORTER_ROWS.items():
        table[use] = dataclasses.replace(table[base], use=use, readers=readers, **shorter[use])
    return table


#: The benchmark's row of each model in the quick profile: a 2-core CPU at 28 px
#: (transfer backbones see 32 px). The full profile changes only what
#: :data:`FULL_CHANGES` says.
QUICK_ROWS: list[Budget] = [
    Budget(
        "baseline_cnn",
        "baseline_cnn",
        "chapter 2, benchmark",
        epochs=20,
        learning_rate=1e-3,
        batch_size=64,
        patience=6,
        # The validation AUC saturates near 0.99 within a few epochs, so its
        # maximum is picked among noise; the loss still ranks epochs.
        monitor="val_loss",
        batchnorm_momentum=0.99,
    ),
    Budget(
        "vit",
        "vit",
        "benchmark",
        epochs=10,  # about two minutes on a 2-core CPU
        learning_rate=1e-3,
        batch_size=64,
        patience=10,  # the schedule decides the length; the best epoch is kept
        weight_decay=0.05,
        schedule="warmup_cosine",
        augment=2.0,  # no built-in locality: a ViT needs more varied data
    ),
    Budget(
        "vgg16_transfer",
        "vgg16_transfer",
        "benchmark",
        epochs=4,
        learning_rate=1e-4,
        batch_size=64,
        patience=6,
        batchnorm_momentum=0.9,
        augment=2.0,
        head_epochs=2,
        head_learning_rate=1e-3,
        fine_tune_epochs=2,
        fine_tune_learning_rate=1e-5,
        fine_tune_from="block5_conv1",
    ),
    Budget(
        "resnet50_hybrid",
        "resnet50_hybrid",
        "benchmark",
        # Chosen on validation AUC over seeds 0-2 among at most 4, 6 and 8 epochs
        # (best epoch kept): 6 is within 0.002 of 8 and cheaper; 4 is 0.004 lower.
        epochs=6,
        learning_rate=1e-3,
        batch_size=32,
        patience=6,
        batchnorm_momentum=0.9,
        head_epochs=2,
        head_learning_rate=1e-3,
        fine_tune_epochs=2,
        fine_tune_learning_rate=1e-5,
        fine_tune_from="conv5_block1_1_conv",
    ),
    Budget(
        "cnn_transformer_hybrid",
        "cnn_transformer_hybrid",
        "benchmark",
        epochs=8,
        learning_rate=1e-3,
        batch_size=64,
        patience=6,
        weight_decay=1e-4,
        batchnorm_momentum=0.9,
    ),
    Budget(
        "pretrained_vit",
        "pretrained_vit",
        "chapter 5 (full profile only: fine-tunes ViT-B/16 when KerasHub can fetch it)",
        epochs=5,
        learning_rate=3e-5,
        batch_size=32,  # ViT-B/16 at 224 px: a smaller batch fits a Colab T4's memory
        patience=2,
        weight_decay=0.05,
    ),
    Budget(
        "federated",
        "federated_cnn",
        "chapter 8 (FedAvg; centralised and single-hospital models train `epochs`)",
        epochs=10,
        learning_rate=1e-3,
        batch_size=32,
        patience=10,  # no early stopping: every round and epoch is spent
        schedule="constant",
        rounds=10,
        local_epochs=2,
        flower_rounds=4,
        filters=(8, 16, 32),
    ),
    # Chapter 11: the small MLP (28 px in every profile) that the membership attack
    # targets, over-fitted and regularised, and its DP-SGD training.
    Budget(
        "privacy_mlp_overfit",
        "privacy_mlp",
        "chapter 11 (the over-fitted target: no regularisation, every epoch run)",
        epochs=30,
        learning_rate=1e-3,
        batch_size=32,
        patience=30,  # no early stopping: over-fitting is the point
        schedule="constant",
    ),
    Budget(
        "privacy_mlp_regularised",
        "privacy_mlp",
        "chapter 11 (dropout, AdamW weight decay, early stopping on the validation loss)",
        epochs=40,
        learning_rate=1e-3,
        batch_size=32,
        patience=3,
        weight_decay=1e-2,
        monitor="val_loss",
        schedule="constant",
    ),
    Budget(
        "privacy_mlp_dp_sgd",
        "privacy_mlp",
        "chapter 11 (DP-SGD: epochs in expectation, Poisson batches of expected size "
        "batch_size, SGD with momentum 0.9)",
        epochs=10,
        learning_rate=0.1,
        batch_size=100,
        patience=10,  # no early stopping: every step is accounted
        schedule="constant",
    ),
    # Chapter 13: SimCLR on the training split's images without their labels. Every epoch
    # runs (no validation is read, not even unlabelled); the encoder is the baseline CNN's
    # trunk at the filters below, so that a baseline CNN can start from it.
    Budget(
        "simclr_pretraining",
        "simclr_encoder",
        "chapter 13 (SimCLR pretraining: epochs over the unlabelled training images, Adam)",
        # Set for time (about 20 s on a quiet 2-core CPU): the linear probe's validation
        # AUC was about 0.99 after 3 epochs and after 8 alike.
        epochs=6,
        learning_rate=2e-3,
        batch_size=256,
        patience=6,  # no early stopping: nothing is validated during pretraining
        schedule="constant",
        batchnorm_momentum=0.9,
        filters=(16, 32, 64),
    ),
]

#: What the full profile (a GPU with the 128 px images) changes in each benchmark row of
#: :data:`QUICK_ROWS`; every setting not named here is the quick row's. The quick
#: profile's epochs, rounds and widths are cut so that each chapter runs in minutes on a
#: 2-core CPU; a GPU affords the longer runs. Learning rates, batch sizes, BatchNorm
#: momentum, what early stopping watches and augmentation stay the same: the two
#: profiles train the same recipe for different lengths.
FULL_CHANGES: dict[str, dict] = {
    "baseline_cnn": {"epochs": 30},
    # Patience equals epochs, as in the quick row: the warm-up-cosine schedule decides
    # the length, and the best epoch is kept.
    "vit": {"epochs": 30, "patience": 30},
    # Both phases get longer with ImageNet weights (5 epochs of feature extraction, then
    # 10 of fine-tuning), and so does training from random weights (at most 20 epochs).
    "vgg16_transfer": {"epochs": 20, "head_epochs": 5, "fine_tune_epochs": 10},
    "resnet50_hybrid": {"epochs": 20, "head_epochs": 5, "fine_tune_epochs": 10},
    "cnn_transformer_hybrid": {"epochs": 30},
    # pretrained_vit: no change (it trains in the full profile only).
    # Patience stays equal to epochs (no early stopping); more rounds, a longer Flower
    # run, and twice the filters per block (the quick row's width fits a 2-core CPU).
    "federated": {
        "epochs": 30,
        "patience": 30,
        "rounds": 30,
        "flower_rounds": 10,
        "filters": (16, 32, 64),
    },
    # A GPU affords SimCLR's usual longer pretraining (its losses keep falling).
    "simclr_pretraining": {"epochs": 100, "patience": 100},
}

#: What each shorter row of :data:`SHORTER_ROWS` changes in its base row, in the quick
#: profile.
QUICK_SHORTER_CHANGES: dict[str, dict] = {
    # Chapters 3 and 4 must run in a few minutes together on a laptop CPU.
    "vgg16_transfer_chapter": {"epochs": 2, "head_epochs": 1, "fine_tune_epochs": 1},
    "resnet50_hybrid_chapter": {"epochs": 2, "head_epochs": 1, "fine_tune_epochs": 1},
    "cnn_transformer_hybrid_chapter": {"epochs": 6},
    "vit_chapter": {"epochs": 5, "patience": 5},
    # Short runs from scratch: BatchNorm's moving statistics must catch up faster
    # (momentum 0.9) than in chapter 2's longer run (0.99).
    "baseline_cnn_sweep": {"epochs": 2, "patience": 2, "batchnorm_momentum": 0.9},
    "vit_sweep": {"epochs": 2, "patience": 2},
    "baseline_cnn_explain": {"epochs": 6, "batchnorm_momentum": 0.9},
    "shortcut_cnn_explain": {"epochs": 3, "batchnorm_momentum": 0.9},
    "vit_explain": {"epochs": 3, "patience": 3},
    "baseline_cnn_audit": {"epochs": 6, "batchnorm_momentum": 0.9},
    "baseline_cnn_equal_updates": {"epochs": 2, "batchnorm_momentum": 0.9},
    # Chapter 9 must run in about four minutes: one shared encoder, short heads.
    "baseline_cnn_multimodal": {"epochs": 6},
    "fusion_head_multimodal": {"epochs": 6, "learning_rate": 2e-3},
    # Chapter 10 must run in under four minutes, conversions and timings included: short
    # runs from scratch (BatchNorm momentum 0.9), six of them for the students.
    "baseline_cnn_edge": {"epochs": 6, "batchnorm_momentum": 0.9},
    "mobilenet_edge": {
        "epochs": 4,
        "learning_rate": 2e-3,
        "batchnorm_momentum": 0.9,
        "monitor": "val_auc",
        "resize_to": 32,
    },
    "student_edge": {
        "epochs": 5,
        "patience": 5,
        "learning_rate": 3e-3,
        "batchnorm_momentum": 0.9,
        "monitor": "val_auc",
        "augment": 0.0,
        "filters": (8, 16, 32),
    },
    # Chapter 12 must run in under 150 s: three short runs from scratch (BatchNorm momentum
    # 0.9) for the ensemble, about 20 s each on a 2-core CPU.
    "baseline_cnn_hitl": {"epochs": 4, "batchnorm_momentum": 0.9},
    # Chapter 14 must run in under 4 minutes: one short run (about 20 s) to serve.
    "baseline_cnn_service": {"epochs": 4, "batchnorm_momentum": 0.9},
    # Chapter 13: 20 runs (shares x seeds x two starts) must fit in about a minute.
    "baseline_cnn_few_labels": {
        "epochs": 2,
        "patience": 2,
        "batchnorm_momentum": 0.9,
        "monitor": "val_auc",
        "filters": (16, 32, 64),
    },
}

#: What each shorter row changes in its base row (the full profile's, with
#: :data:`FULL_CHANGES`), in the full profile. On a GPU the chapters train the benchmark's
#: schedules, except where noted. Unlike the quick profile, no row here lowers chapter
#: 2's BatchNorm momentum (0.99): none is a run of a few epochs from scratch.
FULL_SHORTER_CHANGES: dict[str, dict] = {
    "vgg16_transfer_chapter": {},
    "resnet50_hybrid_chapter": {},
    "cnn_transformer_hybrid_chapter": {},
    "vit_chapter": {"epochs": 20, "patience": 20},
    "baseline_cnn_sweep": {"epochs": 20, "patience": 20},
    "vit_sweep": {"epochs": 20, "patience": 20},
    "baseline_cnn_explain": {},
    "shortcut_cnn_explain": {"epochs": 10},
    "vit_explain": {"epochs": 10, "patience": 10},
    "baseline_cnn_audit": {"epochs": 20},
    "baseline_cnn_equal_updates": {"epochs": 20},
    "baseline_cnn_multimodal": {"epochs": 20},
    "fusion_head_multimodal": {"epochs": 20, "learning_rate": 2e-3},
    "baseline_cnn_edge": {},
    # The 128 px images are large enough for MobileNetV3-Small: no resizing.
    "mobilenet_edge": {"epochs": 20, "learning_rate": 1e-3, "monitor": "val_auc"},
    "student_edge": {
        "epochs": 20,
        "patience": 20,
        "learning_rate": 3e-3,
        "monitor": "val_auc",
        "augment": 0.0,
        "filters": (8, 16, 32),
    },
    "baseline_cnn_hitl": {},
    "baseline_cnn_service": {},
    "baseline_cnn_few_labels": {
        "epochs": 10,
        "patience": 10,
        "monitor": "val_auc",
        "filters": (16, 32, 64),
    },
}

#: ``{profile: {use: Budget}}``. The benchmark's row of a model is named after it; rows
#: ending ``_chapter``, ``_sweep``, ``_explain`` and ``_audit`` are chapters' shorter runs
#: (:data:`SHORTER_ROWS`). The full profile is the quick one with :data:`FULL_CHANGES`.
BUDGETS: dict[str, dict[str, Budget]] = {
    "quick": _profile_table(QUICK_ROWS, QUICK_SHORTER_CHANGES),
    "full": _profile_table(
        [dataclasses.replace(row, **FULL_CHANGES.get(row.use, {})) for row in QUICK_ROWS],
        FULL_SHORTER_CHANGES,
    ),
}


def budget(profile, use: str) -> Budget:
    """Return the budget row of ``use`` in a profile.

    Args:
        profile: a :class:`pneumo_helpers.config.Profile` or a profile's name.
        use: the row's name, e.g. ``"baseline_cnn"`` or ``"baseline_cnn_explain"``.

    Returns:
        The :class:`Budget` row.

    Raises:
        BudgetError: the profile or the row is not in :data:`BUDGETS`.
    """
    name = getattr(profile, "name", profile)
    if name not in BUDGETS:
        raise BudgetError(f"profile {name!r} has no budget table; use one of {sorted(BUDGETS)}.")
    rows = BUDGETS[name]
    if use not in rows:
        raise BudgetError(
            f"budget row {use!r} is not in the {name!r} table; rows: {sorted(rows)}. "
            "Add a row to pneumo_helpers/budgets.py rather than training with numbers of "
            "your own."
        )
    return rows[use]


def table(profile) -> list[dict]:
    """Return a profile's rows as dictionaries (e.g. for ``pandas.DataFrame``)."""
    name = getattr(profile, "name", profile)
    budget(name, "baseline_cnn")  # raises a clear error for an unknown profile
    return [row.as_dict() for row in BUDGETS[name].values()]

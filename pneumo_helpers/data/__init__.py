"""Data: download, verify and load PneumoniaMNIST and the Kermany folders; tf.data pipelines.

The road every chapter walks::

    data = load_pneumoniamnist(size=28)          # verified uint8 arrays
    train_ds = make_dataset(*data.train, image_size=28, batch_size=64, shuffle=True)

Every file is validated before use; anything wrong raises :class:`DataError`, whose
message names the file, says what is wrong and what to do.

One idea per file, every public name importable from here (``from pneumo_helpers import
data``):

* :mod:`.layout`: what the data looks like: :data:`CLASS_NAMES`, :data:`SPLITS`, the
  official files (:data:`MEDMNIST_FILES`, :func:`download_url`), :class:`DataError`, the
  :class:`Split` and :class:`PneumoniaMNIST` containers, :func:`class_counts`;
* :mod:`.download`: an atomic download with its md5 checked (:func:`download_file`,
  :func:`md5sum`);
* :mod:`.npz`: verifying and loading the ``.npz`` files (:func:`validate_npz`,
  :func:`load_pneumoniamnist`, :func:`rehearsal_subset`);
* :mod:`.stand_in`: the labelled stand-in generator (:func:`make_stand_in`);
* :mod:`.duplicates`: exact duplicate images within and across splits
  (:func:`find_duplicates`);
* :mod:`.kermany`: the Kaggle / Kermany folder reader (:func:`load_kermany`,
  :func:`patient_id`);
* :mod:`.pipeline`: the tf.data pipeline (:func:`make_dataset`,
  :func:`augmentation_layers`) and the course's one image converter
  (:func:`as_float_images`).
"""

from .download import download_file, md5sum
from .duplicates import find_duplicates
from .kermany import IMAGE_SUFFIXES, KermanyData, KermanySplit, load_kermany, patient_id
from .layout import (
    CLASS_NAMES,
    KEYS,
    MEDMNIST_FILES,
    SPLITS,
    STAND_IN_KEY,
    ZENODO_RECORD,
    DataError,
    PneumoniaMNIST,
    Split,
    class_counts,
    download_url,
)
from .npz import load_pneumoniamnist, rehearsal_subset, validate_npz
from .pipeline import as_float_images, augmentation_layers, make_dataset
from .stand_in import make_stand_in

__all__ = [
    "CLASS_NAMES",
    "IMAGE_SUFFIXES",
    "KEYS",
    "MEDMNIST_FILES",
    "SPLITS",
    "STAND_IN_KEY",
    "ZENODO_RECORD",
    "DataError",
    "KermanyData",
    "KermanySplit",
    "PneumoniaMNIST",
    "Split",
    "as_float_images",
    "augmentation_layers",
    "class_counts",
    "download_file",
    "download_url",
    "find_duplicates",
    "load_kermany",
    "load_pneumoniamnist",
    "make_dataset",
    "make_stand_in",
    "md5sum",
    "patient_id",
    "rehearsal_subset",
    "validate_npz",
]

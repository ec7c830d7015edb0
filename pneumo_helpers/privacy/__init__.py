"""Privacy: de-identifying DICOM files, and what a trained model leaks (chapter 11).

Two places where patient privacy fails in practice, one idea per module:

* :mod:`.dicom_writer`: the course's X-rays written as DX DICOM files with synthetic,
  realistic PHI, burned-in text on some films, and three pixel encodings
  (:func:`write_dicom_study`);
* :mod:`.dicom_reader`: a folder of DICOM files read back into the course's arrays,
  rescale, VOI window and MONOCHROME1 inverted (:func:`load_dicom`); anything unreadable
  is a :class:`~pneumo_helpers.data.DataError` naming the file;
* :mod:`.deidentify`: the Basic Application Level Confidentiality Profile (PS3.15 Annex
  E) with ``dicognito``, private tags removed, burned-in text detected and masked
  (:func:`deidentify_folder`);
* :mod:`.scan`: every element of every file searched for the planted identifiers
  (:func:`scan_files`), the proof that de-identification worked;
* :mod:`.membership`: the chapter's small MLP and the loss-threshold membership-inference
  attack (:func:`loss_threshold_attack`);
* :mod:`.dp_sgd`: DP-SGD's per-example clipping and noise (:func:`private_gradient`,
  :func:`train_dp_sgd`) and its ε from ``dp_accounting`` (:func:`dp_sgd_epsilon`);
* :mod:`.errors`: :class:`PrivacyError`.

Every public name is importable from here: ``from pneumo_helpers import privacy``.
TensorFlow, pydicom, dicognito and dp_accounting are imported inside the functions that
need them.
"""

from .deidentify import (
    METHOD_CODES,
    anonymizer_for,
    deidentify_dataset,
    deidentify_folder,
    fill_from_surroundings,
    mask_pixels,
    text_mask,
)
from .dicom_reader import (
    UNCOMPRESSED,
    DicomImages,
    block_mean,
    display_values,
    linear_window,
    load_dicom,
    read_dicom,
)
from .dicom_writer import (
    ENCODINGS,
    FILM_SIZE,
    PlantedFile,
    burn_in_text,
    upsample,
    write_dicom_study,
)
from .dp_sgd import DPRun, dp_sgd_epsilon, private_gradient, train_dp_sgd
from .errors import PrivacyError
from .membership import (
    PRIVACY_IMAGE_SIZE,
    AttackResult,
    attack_scores,
    build_privacy_mlp,
    loss_threshold_attack,
    per_example_loss,
    predict_probabilities,
)
from .scan import element_text, scan_file, scan_files, walk_elements

__all__ = [
    "ENCODINGS",
    "FILM_SIZE",
    "METHOD_CODES",
    "PRIVACY_IMAGE_SIZE",
    "UNCOMPRESSED",
    "AttackResult",
    "DPRun",
    "DicomImages",
    "PlantedFile",
    "PrivacyError",
    "anonymizer_for",
    "attack_scores",
    "block_mean",
    "build_privacy_mlp",
    "burn_in_text",
    "deidentify_dataset",
    "deidentify_folder",
    "display_values",
    "dp_sgd_epsilon",
    "element_text",
    "fill_from_surroundings",
    "linear_window",
    "load_dicom",
    "loss_threshold_attack",
    "mask_pixels",
    "per_example_loss",
    "predict_probabilities",
    "private_gradient",
    "read_dicom",
    "scan_file",
    "scan_files",
    "text_mask",
    "train_dp_sgd",
    "upsample",
    "walk_elements",
    "write_dicom_study",
]

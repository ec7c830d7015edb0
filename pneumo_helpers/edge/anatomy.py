"""What a LiteRT file holds: its constants by type, its quantisation parameters, its graph.

Quantisation is sold as "four times smaller", because an int8 weight takes one byte where
a float32 weight takes four. A ``.tflite`` file holds more than weights, and
:func:`litert_anatomy` reads the file itself (a FlatBuffer, the schema that ships with
``ai-edge-litert``) to say how many bytes each part takes:

* constants by element type: the weights, the biases (int32 in an int8 file, as large as
  in float32) and small constants such as a reshape's target shape;
* the quantisation parameters: a float32 scale and an int64 zero point for every channel
  of a per-channel tensor, and one pair for every other quantised tensor;
* the rest: operators, tensor names and shapes, signatures, metadata and the FlatBuffer's
  own tables and offsets. It does not shrink when the weights do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EdgeModelError

#: Bytes of one quantisation parameter pair in the schema: a float32 scale, an int64 zero point.
SCALE_BYTES, ZERO_POINT_BYTES = 4, 8
#: The constant types every :meth:`Anatomy.row` has a column for, in this order (others follow).
ROW_TYPES = ("FLOAT32", "FLOAT16", "INT8", "INT32")


@dataclass(frozen=True)
class Anatomy:
    """The bytes of one LiteRT file, by part.

    Attributes:
        path: the file.
        total_bytes: the file's size.
        constants: bytes of constant tensor data by element type, e.g. ``{"INT8": ...}``;
            a buffer shared by several tensors is counted once.
        quantisation_bytes: bytes of the scales and zero points of every tensor.
    """

    path: Path
    total_bytes: int
    constants: dict[str, int] = field(default_factory=dict)
    quantisation_bytes: int = 0

    @property
    def constant_bytes(self) -> int:
        """Return the bytes of all constant data."""
        return sum(self.constants.values())

    @property
    def rest_bytes(self) -> int:
        """Return the bytes that are neither constant data nor quantisation parameters."""
        return self.total_bytes - self.constant_bytes - self.quantisation_bytes

    def row(self) -> dict[str, float]:
        """Return the parts in KB (1,024 bytes), for a table: one column per part.

        The constants of :data:`ROW_TYPES` always have a column (0 where the file has none),
        so the rows of several files line up.
        """
        kinds = [*ROW_TYPES, *sorted(set(self.constants) - set(ROW_TYPES))]
        parts = {
            f"{kind.lower()} constants (KB)": self.constants.get(kind, 0) / 1024 for kind in kinds
        }
        parts["quantisation parameters (KB)"] = self.quantisation_bytes / 1024
        parts["graph and structure (KB)"] = self.rest_bytes / 1024
        parts["file (KB)"] = self.total_bytes / 1024
        return parts


def litert_anatomy(path: str | os.PathLike) -> Anatomy:
    """Read a ``.tflite`` file and return how many bytes each of its parts takes.

    Raises:
        EdgeModelError: the file is missing, or is not a LiteRT model (corrupt, truncated,
            or another format).
    """
    from ai_edge_litert import schema_py_generated as schema

    path = Path(path)
    if not path.is_file():
        raise EdgeModelError(
            f"model file {path.name!r} does not exist: convert the model first "
            "(edge.convert_to_litert) or check the path."
        )
    content = path.read_bytes()
    if len(content) < 8 or not schema.Model.ModelBufferHasIdentifier(content, 0):
        raise EdgeModelError(
            f"{path.name!r} is not a LiteRT file (no 'TFL3' identifier: corrupt, truncated, "
            "or another format such as ONNX). Convert the model again."
        )
    type_names = {
        value: name for name, value in vars(schema.TensorType).items() if not name.startswith("_")
    }
    try:
        model = schema.Model.GetRootAsModel(content, 0)
        constants: dict[str, int] = {}
        counted: set[int] = set()
        quantisation = 0
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            for t in range(graph.TensorsLength()):
                tensor = graph.Tensors(t)
                parameters = tensor.Quantization()
                if parameters is not None:
                    quantisation += parameters.ScaleLength() * SCALE_BYTES
                    quantisation += parameters.ZeroPointLength() * ZERO_POINT_BYTES
                index = tensor.Buffer()
                if index in counted or index >= model.BuffersLength():
                    continue
                buffer = model.Buffers(index)
                # Data inside the FlatBuffer, or (files over 2 GB) at an offset after it.
                size = buffer.DataLength() or (buffer.Size() if buffer.Offset() > 1 else 0)
                if size:
                    counted.add(index)
                    kind = type_names.get(tensor.Type(), str(tensor.Type()))
                    constants[kind] = constants.get(kind, 0) + int(size)
    except Exception as error:  # noqa: BLE001 - a damaged FlatBuffer fails in many ways
        raise EdgeModelError(
            f"{path.name!r} could not be read as a LiteRT model (corrupt or truncated?): "
            f"{type(error).__name__}. Convert the model again."
        ) from error
    anatomy = Anatomy(path, len(content), constants, quantisation)
    if anatomy.rest_bytes < 0:
        raise EdgeModelError(
            f"{path.name!r} claims more data than the file holds (truncated?). "
            "Convert the model again."
        )
    return anatomy

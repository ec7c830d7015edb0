"""Reaching a layer inside a model: finding Grad-CAM's target and tapping its feature maps.

:func:`convolution_layers` lists a model's convolutions (nested models such as a pretrained
backbone included, named ``"outer/inner"``), :func:`find_layer_path` resolves a name (or
takes the last convolution), and :func:`gradient_model` rebuilds the model so that one call
returns both the target layer's feature maps and the model's output, the first step of
Grad-CAM. The layers and their weights are shared with the original, never copied.
"""

from __future__ import annotations

import keras

from .inputs import ExplainError

#: The layer types :func:`grad_cam` looks for when no layer name is given.
CONVOLUTION_TYPES = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)


# --------------------------------------------------------------------------------------
# Finding the layer
# --------------------------------------------------------------------------------------


def _is_model(layer) -> bool:
    return isinstance(layer, keras.Model)


def _walk(model: keras.Model, prefix: tuple = ()):
    """Yield ``(path, layer)`` for every layer, nested models expanded in place (depth first)."""
    for layer in model.layers:
        path = (*prefix, layer)
        yield path, layer
        if _is_model(layer):
            yield from _walk(layer, path)


def convolution_layers(model: keras.Model) -> list[str]:
    """Return the names of the model's 2D convolution layers, nested models included, in order.

    A layer inside a nested model is named ``"outer/inner"`` (e.g. ``"vgg16/block5_conv3"``);
    :func:`grad_cam` accepts either that path or the bare layer name.
    """
    return [
        "/".join(item.name for item in path)
        for path, layer in _walk(model)
        if isinstance(layer, CONVOLUTION_TYPES)
    ]


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # a layer that was never called symbolically
        return None


def find_layer_path(model: keras.Model, layer_name: str | None = None) -> list:
    """Return the chain of layers from ``model`` down to the target layer of Grad-CAM.

    Args:
        model: a Functional or Sequential Keras model (nested models allowed).
        layer_name: the target layer's name, or a path such as ``"vgg16/block5_conv3"``;
            None takes the last convolution layer, searching nested models too.

    Returns:
        list: ``[nested model, ..., target layer]``: the models to pass through, outermost
            first, then the layer whose feature maps Grad-CAM weighs.

    Raises:
        ExplainError: no such layer, the layer has no spatial output, or the model has no
            convolution.
    """
    available = convolution_layers(model)
    if layer_name is None:
        if not available:
            raise ExplainError(
                f"model {model.name!r} has no 2D convolution layer, so Grad-CAM has no feature "
                "maps to weigh. Pass layer_name= of a layer with a (batch, height, width, "
                "channels) output, or use occlusion_sensitivity, which needs no convolution."
            )
        layer_name = available[-1]
    wanted = tuple(layer_name.split("/"))
    matches = [
        list(path)
        for path, _ in _walk(model)
        if tuple(item.name for item in path)[-len(wanted) :] == wanted
    ]
    if not matches:
        raise ExplainError(
            f"layer_name={layer_name!r} is not a layer of model {model.name!r}. "
            f"Use one of its convolution layers: {available}."
        )
    path = matches[0]
    rank = _output_rank(path[-1])
    if rank is not None and rank != 4:
        raise ExplainError(
            f"layer_name={layer_name!r} has an output of shape {path[-1].output.shape}, not "
            "(batch, height, width, channels) feature maps, so Grad-CAM cannot map it onto "
            f"the image. Use one of the convolution layers: {available}."
        )
    return path


# --------------------------------------------------------------------------------------
# A model that returns the feature maps and the score
# --------------------------------------------------------------------------------------


def _call_with_tap(model: keras.Model, path: list, inputs):
    """Call ``model`` on symbolic ``inputs``, returning ``(feature maps of path[-1], output)``.

    Nested models on the path are not called as one block (which would hide their inner
    layers) but rebuilt through their own graph, so the target's output is a tensor of
    the new graph, connected to both the input and the score.
    """
    step, rest = path[0], path[1:]
    tapped = []

    def call(layer, *args, **kwargs):
        if layer is not step:
            return layer(*args, **kwargs)
        if rest:
            features, output = _call_with_tap(layer, rest, args[0])
        else:
            output = layer(*args, **kwargs)
            features = output
        tapped.append(features)
        return output

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
    else:
        # A Functional model: replay its graph on ``inputs``, sharing every layer (and its
        # weights) with the original; only the call of the next step on the path is
        # intercepted. Subclassed models have no graph to replay.
        structured = [inputs] if isinstance(model.input, list | tuple) else inputs
        try:
            rebuilt = keras.models.clone_model(
                model,
                input_tensors=structured,
                clone_function=lambda layer: layer,
                call_function=call,
            )
        except ValueError as error:
            raise ExplainError(
                f"cannot reach layer {path[-1].name!r} inside model {model.name!r} "
                f"({type(model).__name__}): only Functional and Sequential models can be "
                f"opened up ({error})."
            ) from error
        outputs = rebuilt.outputs
        x = outputs[0] if len(outputs) == 1 else outputs
    if not tapped:  # pragma: no cover - find_layer_path only returns layers on the graph
        raise ExplainError(f"layer {step.name!r} is not called in model {model.name!r}.")
    return tapped[0], x


def gradient_model(model: keras.Model, layer_name: str | None = None) -> keras.Model:
    """Return a model mapping the input to ``[feature maps of the target layer, model output]``.

    This is the first step of Grad-CAM. For a flat model it is simply
    ``keras.Model(model.inputs, [model.get_layer(name).output, model.output])``; when the
    layer sits inside a nested model (e.g. ``block5_conv3`` of a VGG16 backbone), the
    nested model is rebuilt through its own graph so that the layer's output is connected to
    the outer model's input and output. The layers (and weights) are shared, not copied.
    """
    if not isinstance(model, keras.Model):
        raise ExplainError(f"model must be a keras.Model, got {type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExplainError(
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} "
            "outputs; Grad-CAM here explains models with one image input and one output."
        )
    path = find_layer_path(model, layer_name)
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    features, output = _call_with_tap(model, path, inputs)
    return keras.Model(inputs, [features, output], name=f"{model.name}_grad_cam")

"""Keras to ONNX with tf2onnx, and the parity check that makes the export trustworthy.

tf2onnx's from_keras does not support Keras 3, so the model is traced as a tf.function
with a fixed input signature (and a dynamic batch dimension) and converted from that.
"""

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import tf2onnx

from recognizer.contract import IMAGE_SIZE, INPUT_NAME, OUTPUT_CLASSES, OUTPUT_NAME

OPSET = 17
PARITY_TOLERANCE = 1e-5


class ExportError(RuntimeError):
    """The ONNX model does not compute what the Keras model computes."""


def calibrated(model, temperature: float):
    """The served function: softmax of the logits divided by the calibration temperature."""

    def probabilities(image):
        return tf.nn.softmax(model(image, training=False) / temperature)

    return probabilities


def to_onnx(model, temperature: float, metadata: dict[str, str]) -> onnx.ModelProto:
    """Convert with the temperature baked in, name the input and output after the contract,
    and attach metadata."""
    signature = (tf.TensorSpec((None, IMAGE_SIZE, IMAGE_SIZE, 1), tf.float32, name=INPUT_NAME),)
    serve = tf.function(calibrated(model, temperature), input_signature=signature)

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=OPSET)
    _rename(proto, proto.graph.input[0].name, INPUT_NAME)
    _rename(proto, proto.graph.output[0].name, OUTPUT_NAME)
    proto.doc_string = (
        f"Handwritten digit classifier. Input '{INPUT_NAME}': float32 [N,28,28,1] in [0,1], "
        f"white digit on black, MNIST-normalised. Output '{OUTPUT_NAME}': float32 "
        f"[N,{OUTPUT_CLASSES}], calibrated probabilities of the digits 0-9 and 'not a digit'."
    )
    onnx.helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto)
    return proto


def _rename(proto: onnx.ModelProto, old: str, new: str) -> None:
    """tf2onnx names tensors after TF's ('image:0', 'Identity:0'); the contract names them."""
    for value in [*proto.graph.input, *proto.graph.output]:
        if value.name == old:
            value.name = new
    for node in proto.graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]


def check_parity(
    model, temperature: float, onnx_bytes: bytes, images: np.ndarray
) -> dict[str, float]:
    """Keras and onnxruntime on the same real images: same argmax, probabilities within 1e-5."""
    expected = np.concatenate(
        [
            calibrated(model, temperature)(images[i : i + 256]).numpy()
            for i in range(0, len(images), 256)
        ]
    )
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    actual = session.run([OUTPUT_NAME], {INPUT_NAME: images})[0]
    max_diff = float(np.abs(expected - actual).max())
    agreement = float((expected.argmax(1) == actual.argmax(1)).mean())
    if agreement < 1.0 or max_diff > PARITY_TOLERANCE:
        raise ExportError(
            f"ONNX disagrees with Keras on {len(images)} MNIST test images: argmax agreement "
            f"{agreement:.4%}, max abs difference {max_diff:.2e} (limit {PARITY_TOLERANCE:.0e})"
        )
    return {"images": len(images), "max_abs_diff": max_diff, "argmax_agreement": agreement}

"""The CNN: three convolutional blocks and eleven logits (ten digits and "not a digit").

It is small enough to ship (< 1 MB in ONNX).

Batch normalization makes it train fast at a high learning rate. The first block has a
single convolution, because a second one at full 28x28 resolution would double the
training time on a 2-core CPU. The last block ends in a 5x5 valid convolution and a
flatten rather than a wide dense layer, which is where classic MNIST nets spend most
of their parameters.
"""

import keras
from keras import layers

from recognizer.contract import IMAGE_SIZE, INPUT_NAME, OUTPUT_CLASSES


def conv_bn(x: keras.KerasTensor, filters: int, padding: str = "same") -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding=padding, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.ReLU()(x)


def build_model() -> keras.Model:
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name=INPUT_NAME)
    x = conv_bn(inputs, 32)
    x = layers.MaxPooling2D()(x)  # 14x14
    x = layers.Dropout(0.1)(x)
    x = conv_bn(x, 64)
    x = conv_bn(x, 64)
    x = layers.MaxPooling2D()(x)  # 7x7
    x = layers.Dropout(0.2)(x)
    x = conv_bn(x, 128, padding="valid")  # 5x5
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    # Logits: the softmax, with the calibration temperature, is added at export.
    outputs = layers.Dense(OUTPUT_CLASSES, name="logits")(x)
    return keras.Model(inputs, outputs, name="digit_cnn")

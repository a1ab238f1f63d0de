"""The program of the question (docs/question.md), runnable: a 2-4-4-1 MLP in plain NumPy that
learns to add two numbers from six pairs.

The classes and the training loop are the posted code unchanged, quirks included (the bias
update ``b -= lr * b`` and ``Dense.backward`` updating its weights before computing the
gradient it passes down; the misspelt ``actiovation_prime`` too). What is added: the
activation, the seed, the epochs and the learning rate are parameters; ``np.random.seed(seed)``
comes first when a seed is given (the posted program draws unseeded); the epoch errors are
also returned. With a seed, a run is the study's run of the same seed in the posted cell
(``relustudy.Cell()``), which the test suite checks.

    python examples/posted_program.py                     # as posted: ReLU, unseeded, prints 5000 lines
    python examples/posted_program.py --seed 0 --every 1000   # seed 0: the error never falls (dead output)
    python examples/posted_program.py --seed 2 --every 1000   # seed 2: it learns
    python examples/posted_program.py --activation tanh --lr 0.1 --seed 2 --every 1000   # Q1: slow, steady
"""
import argparse

import numpy as np


class Layer:
    def __init__(self):
        self.inputs = None

    def forward(self, inputs):
        pass

    def backward(self, error_gradient, lr):
        pass


class Dense(Layer):
    def __init__(self, n_inputs, n_neurons):
        self.weights = np.random.randn(n_neurons, n_inputs)
        self.biases = np.random.randn(n_neurons, 1)
        super().__init__()

    def forward(self, inputs):
        self.inputs = inputs
        return np.dot(self.weights, self.inputs) + self.biases

    def backward(self, error_gradient, lr):
        weight_deriv = np.dot(error_gradient, self.inputs.T)
        self.weights -= lr * weight_deriv
        self.biases -= lr * self.biases
        return np.dot(self.weights.T, error_gradient)


class Activation(Layer):
    def __init__(self, activation, actiovation_prime):
        self.activation = activation
        self.activation_prime = actiovation_prime
        super().__init__()

    def forward(self, inputs):
        self.inputs = inputs
        return self.activation(self.inputs)

    def backward(self, error_gradient, lr):
        return np.multiply(error_gradient, self.activation_prime(self.inputs))


class Tanh(Activation):
    def __init__(self):
        super().__init__(lambda x: np.tanh(x), lambda y: 1.0 - (np.tanh(y) ** 2))


class ReLU(Activation):
    def __init__(self):
        super().__init__(lambda x: np.maximum(0, x), lambda y: np.where(y > 0, 1, 0))


class Sigmoid(Activation):
    def __init__(self):
        super().__init__(
            lambda x: 1.0 / (1 + np.exp(-x)),
            lambda y: (1.0 / (1 + np.exp(-y))) * (1 - (1.0 / (1 + np.exp(-y)))),
        )


def mse(y_pred, y_true):
    return np.power(y_true - y_pred, 2)


def mse_prime(y_pred, y_true):
    return 2 * (y_pred - y_true)


def run(nn, inputs):
    out = inputs
    for layer in nn:
        out = layer.forward(out)
    return out


ACTIVATION_CLASSES = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def posted_program(seed=None, activation="relu", epochs=5000, learning_rate=0.01, every=0):
    """Run the posted main block.

    seed : None draws unseeded, as posted; an integer calls ``np.random.seed(seed)`` first.
    every : print the posted line "i/epochs, error = ..." every ``every`` epochs (1: as posted; 0: never).

    Returns (network, last epoch_error, prediction at (0.1, 0.5), epoch errors: a list of ``epochs`` floats).
    """
    if seed is not None:
        np.random.seed(seed)
    act = ACTIVATION_CLASSES[activation]
    X = np.reshape([[0.1, 0.2], [0.5, 0.3], [0.2, 0.4], [0.3, 0.7], [0.5, 0.5], [0.4, 0.3]], (6, 2, 1))
    Y = np.reshape([[0.3], [0.8], [0.6], [1.0], [1.0], [0.7]], (6, 1, 1))
    network = [Dense(2, 4), act(), Dense(4, 4), act(), Dense(4, 1), act()]
    errors = []
    for _ in range(epochs):
        epoch_error = 0
        for x, y in zip(X, Y):
            output = run(network, x)
            epoch_error += mse(output, y)
            output_gradient = mse_prime(output, y)
            for layer in reversed(network):
                output_gradient = layer.backward(output_gradient, learning_rate)
        epoch_error /= len(X)
        errors.append(float(epoch_error[0, 0]))
        if every and (_ % every == 0 or _ == epochs - 1):
            print("%d/%d, error = %f" % (_, epochs, epoch_error[0, 0]))
    test = np.reshape([0.1, 0.5], (2, 1))
    pred = run(network, test)
    return network, errors[-1], float(pred[0][0]), errors


def main(argv=None):
    ap = argparse.ArgumentParser(description="The posted program: a 2-4-4-1 NumPy MLP learning x1 + x2 from six pairs.")
    ap.add_argument("--activation", choices=sorted(ACTIVATION_CLASSES), default="relu",
                    help="activation after every layer, the output too (default relu)")
    ap.add_argument("--seed", type=int, default=None, help="np.random.seed first (default: unseeded, as posted)")
    ap.add_argument("--epochs", type=int, default=5000, help="epochs (default 5000)")
    ap.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    ap.add_argument("--every", type=int, default=1, help="print every N-th epoch's error (default 1, as posted)")
    a = ap.parse_args(argv)
    _, _, pred, _ = posted_program(a.seed, a.activation, a.epochs, a.lr, every=a.every)
    print("Prediction = %f" % pred)


if __name__ == "__main__":
    main()

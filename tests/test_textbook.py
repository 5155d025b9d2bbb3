"""The lectures' worked examples, checked exactly with autograd."""

import math

import torch


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_toy_network_forward_and_backward_pass():
    # x=1, w1=0.5, b1=0, w2=2, b2=0, sigmoid units, target 0, L = 1/2 (y - t)^2
    x, t = torch.tensor(1.0), torch.tensor(0.0)
    w1, b1 = torch.tensor(0.5, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    w2, b2 = torch.tensor(2.0, requires_grad=True), torch.tensor(0.0, requires_grad=True)
    h = torch.sigmoid(w1 * x + b1)
    y = torch.sigmoid(w2 * h + b2)
    loss = 0.5 * (y - t) ** 2
    loss.backward()

    # exact values by the chain rule, written out by hand
    h_ = sigmoid(0.5)
    y_ = sigmoid(2.0 * h_)
    dz2 = (y_ - 0.0) * y_ * (1 - y_)
    dz1 = dz2 * 2.0 * h_ * (1 - h_)
    assert math.isclose(loss.item(), 0.5 * y_**2, rel_tol=1e-6)
    assert math.isclose(float(w2.grad), dz2 * h_, rel_tol=1e-6)
    assert math.isclose(float(w1.grad), dz1 * 1.0, rel_tol=1e-6)
    # and the rounded numbers quoted in the lecture
    assert round(h.item(), 2) == 0.62 and round(y.item(), 2) == 0.78
    assert round(loss.item(), 2) == 0.30
    assert round(float(w2.grad), 2) == 0.08 and round(float(w1.grad), 2) == 0.06
    # one SGD step with learning rate 0.1
    assert round(0.5 - 0.1 * float(w1.grad), 3) == 0.494
    assert round(2.0 - 0.1 * float(w2.grad), 3) == 1.992


def test_reverse_mode_example_gradient():
    x = torch.tensor([2.0, 3.0], requires_grad=True)
    f = x[0] * x[1] + 3 * x[0] ** 2
    f.backward()
    assert f.item() == 18.0
    assert x.grad.tolist() == [15.0, 2.0]  # (x2 + 6 x1, x1)


def test_hand_derived_gradient_of_two_layer_composition():
    # y = g(theta2 * g(theta1 * x)), L = mean (y - t)^2, g = sigmoid
    torch.manual_seed(0)
    x, t = torch.randn(7, dtype=torch.float64), torch.randn(7, dtype=torch.float64)
    theta = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)

    def loss_fn(th):
        return ((torch.sigmoid(th[1] * torch.sigmoid(th[0] * x)) - t) ** 2).mean()

    loss_fn(theta).backward()
    with torch.no_grad():
        th1, th2 = theta
        a = torch.sigmoid(th1 * x)
        y = torch.sigmoid(th2 * a)
        common = 2 * (y - t) * y * (1 - y) / len(x)
        d_th2 = (common * a).sum()
        d_th1 = (common * th2 * a * (1 - a) * x).sum()
    assert torch.allclose(theta.grad, torch.stack([d_th1, d_th2]), atol=1e-12)
    assert torch.autograd.gradcheck(loss_fn, (theta.detach().requires_grad_(),))

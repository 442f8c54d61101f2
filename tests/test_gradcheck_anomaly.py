"""gradcheck / gradgradcheck (slow and fast mode, tolerances, forward AD, nondeterminism,
undefined grads, batched grads) and anomaly mode, against PyTorch on the same functions; and
tapegrad's own: a backward error names the line that made the failing node."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import tapegrad

LIBS = (tapegrad, torch)
DATA = np.array([0.3, -0.8, 1.1])


def _inputs(lib, data=DATA):
    return (lib.tensor(data, requires_grad=True),)


def _wrong(lib):
    class WrongSin(lib.autograd.Function):
        """sin whose backward forgets a factor: gradcheck must catch it."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin()

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x.cos() * 1.1

    return WrongSin


def _noisy(lib):
    class Noisy(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2 + lib.randn(grad.shape, dtype=grad.dtype) * 1e-4

    return Noisy


def _good(x):
    return (x.sin() * x.exp()).cumsum(0) if hasattr(x, "cumsum") else x.sin() * x.exp()


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_passes_and_fails_like_torch(fast_mode):
    for lib in LIBS:
        assert lib.autograd.gradcheck(_good, _inputs(lib), fast_mode=fast_mode)
        wrong = _wrong(lib)
        with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to "
                                               "input 0"):
            lib.autograd.gradcheck(wrong.apply, _inputs(lib), fast_mode=fast_mode)
        assert lib.autograd.gradcheck(wrong.apply, _inputs(lib), fast_mode=fast_mode,
                                      raise_exception=False) is False
        # Loose enough tolerances accept the 10 % error, in both libraries.
        assert lib.autograd.gradcheck(wrong.apply, _inputs(lib), atol=0.2, rtol=0.2,
                                      fast_mode=fast_mode)


def test_gradcheck_error_type_is_gradcheck_error():
    from tapegrad.autograd.gradcheck import GradcheckError

    with pytest.raises(GradcheckError):
        tapegrad.autograd.gradcheck(_wrong(tapegrad).apply, _inputs(tapegrad))
    assert issubclass(GradcheckError, RuntimeError)


def test_gradcheck_options_match_torch():
    for lib in LIBS:
        assert lib.autograd.gradcheck(_good, _inputs(lib), check_forward_ad=True,
                                      check_batched_grad=True, check_undefined_grad=True,
                                      eps=1e-7, atol=1e-6, rtol=1e-4)
        with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
            lib.autograd.gradcheck(_good, (lib.tensor(DATA),))
        noisy = _noisy(lib)
        with pytest.raises(RuntimeError, match="Backward is not reentrant"):
            lib.autograd.gradcheck(noisy.apply, _inputs(lib), atol=1e-2)
        # Within nondet_tol the noise passes the reentrancy check, but a backward that adds
        # something not multiplied by grad_output is caught by both libraries.
        with pytest.raises(RuntimeError, match="backward not multiplied by grad_output"):
            lib.autograd.gradcheck(noisy.apply, _inputs(lib), atol=1e-2, nondet_tol=1e-2)


def test_gradcheck_forward_ad_catches_a_wrong_jvp():
    class WrongJvp(tapegrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x.exp()

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.x.exp()

        @staticmethod
        def jvp(ctx, tangent):
            return tangent * 2

    x = _inputs(tapegrad)
    assert tapegrad.autograd.gradcheck(WrongJvp.apply, x)
    with pytest.raises(RuntimeError, match="Jacobian computed with forward mode mismatch for "
                                           "output 0 with respect to input 0"):
        tapegrad.autograd.gradcheck(WrongJvp.apply, x, check_forward_ad=True)


def test_gradgradcheck_passes_and_fails_like_torch():
    for lib in LIBS:
        assert lib.autograd.gradgradcheck(_good, _inputs(lib))

        class FirstOrderOnly(lib.autograd.Function):
            """Correct first derivative, but its backward is wrong to differentiate: it uses
            a constant where cos(x) should depend on x."""

            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.sin()

            @staticmethod
            def backward(ctx, grad):
                (x,) = ctx.saved_tensors
                return grad * type(grad)(np.cos(x.detach().numpy())).to(grad.dtype)

        assert lib.autograd.gradcheck(FirstOrderOnly.apply, _inputs(lib))
        with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to "
                                               "input 0"):
            lib.autograd.gradgradcheck(FirstOrderOnly.apply, _inputs(lib))


def test_anomaly_mode_nan_message_matches_torch():
    messages = []
    for lib in LIBS:
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                assert lib.is_anomaly_enabled() if hasattr(lib, "is_anomaly_enabled") else True
                with pytest.raises(RuntimeError) as info:
                    (x.sqrt() * 0).sum().backward()
        messages.append(str(info.value).splitlines()[0])
    assert messages[0] == messages[1] == ("Function 'SqrtBackward0' returned nan values in its "
                                          "0th output.")


def _fails_in_backward(lib):
    class Boom(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("boom")

    x = lib.tensor(DATA, requires_grad=True)
    return Boom.apply(x.exp()).sum()  # the line that makes the failing node


def test_anomaly_mode_shows_the_forward_traceback():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tapegrad.autograd.detect_anomaly():
            loss = _fails_in_backward(tapegrad)
            with pytest.raises(ValueError, match="boom") as info:
                loss.backward()
    note = "\n".join(info.value.__notes__)
    assert "Traceback of forward call that caused the error" in note
    assert "_fails_in_backward" in note and "Boom.apply" in note
    assert any("Error detected in BoomBackward" in str(w.message) for w in caught)


def test_without_anomaly_mode_the_error_names_the_user_line():
    """Beyond PyTorch: the file and line that created the failing node, at no tracing cost."""
    loss = _fails_in_backward(tapegrad)
    with pytest.raises(ValueError, match="boom") as info:
        loss.backward()
    (note,) = info.value.__notes__
    line = next(number for number, text in enumerate(open(__file__), 1)
                if "Boom.apply(x.exp())" in text)
    assert f"BoomBackward was created at {__file__}:{line}, in _fails_in_backward" in note


def test_version_error_names_the_line_of_the_node_that_saved_the_tensor():
    x = tapegrad.tensor(DATA, requires_grad=True)
    y = x * 1
    z = y.exp()  # ExpBackward0 saves its result
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        z.sum().backward()
    assert any("ExpBackward0 was created at" in note and "test_version_error" in note
               for note in info.value.__notes__)


def test_set_detect_anomaly_as_call_and_context_manager():
    from tapegrad.autograd.anomaly_mode import is_anomaly_enabled

    assert not is_anomaly_enabled()
    tapegrad.autograd.set_detect_anomaly(True)
    assert is_anomaly_enabled()
    tapegrad.autograd.set_detect_anomaly(False)
    with tapegrad.autograd.set_detect_anomaly(True):
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def _sine_made_here(value):
    return value.sin()  # first site


def _sine_made_there(value):
    return value.sin()  # second site


def _power_made_here(value):
    return tapegrad.pow(value, 3)  # through the pow composite


def _power_made_there(value):
    return tapegrad.pow(value, 3)  # through the pow composite, elsewhere


@pytest.mark.parametrize("maker, marker", [(_sine_made_here, "# first site"),
                                           (_sine_made_there, "# second site"),
                                           (_power_made_here, "# through the pow composite\n"),
                                           (_power_made_there, "composite, elsewhere")])
def test_each_node_names_its_own_line_when_an_op_is_called_from_several(maker, marker):
    """The fast paths remember their last caller: alternating callers still get their own
    lines, as do calls through a composite."""
    y = tapegrad.tensor(DATA, requires_grad=True) * 1
    nodes = [_sine_made_here(y), _sine_made_there(y), _power_made_here(y),
             _power_made_there(y), _power_made_here(y), maker(y)]
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        nodes[-1].sum().backward()
    line = next(number for number, text in enumerate(open(__file__), 1) if marker in text)
    assert any(f"{__file__}:{line}," in note for note in info.value.__notes__)


def _slice_made_here(value):
    return value[1:3]  # sliced here, through getitem and its slice helper


def _slice_made_there(value):
    return value[1:3]  # sliced there


@pytest.mark.parametrize("maker, marker", [(_slice_made_here, "# sliced here"),
                                           (_slice_made_there, "# sliced there")])
def test_a_node_made_through_two_composites_names_the_user_line(maker, marker):
    """x[a:b] reaches its op through two of tapegrad's frames; the remembered way back to the
    user's code must still give each caller its own line."""
    from tapegrad.autograd.anomaly_mode import annotate

    y = tapegrad.tensor(DATA, requires_grad=True) * 1
    results = [_slice_made_here(y), _slice_made_there(y), _slice_made_here(y), maker(y)]
    error = RuntimeError("probe")
    annotate(results[-1].grad_fn, error)
    line = next(number for number, text in enumerate(open(__file__), 1) if marker in text)
    assert f"SliceBackward0 was created at {__file__}:{line}," in error.__notes__[0]


def test_code_compiled_from_a_string_is_the_users_own_line():
    """A node made by eval'd or exec'd code names that code (as Python's tracebacks name
    "<string>"), not the frame that called it."""
    from tapegrad.autograd.anomaly_mode import annotate

    make = eval("lambda value: value.sin()")  # noqa: S307 - the case under test
    result = make(tapegrad.tensor(DATA, requires_grad=True) * 1)
    error = RuntimeError("probe")
    annotate(result.grad_fn, error)
    assert "SinBackward0 was created at <string>:1, in <lambda>" in error.__notes__[0]

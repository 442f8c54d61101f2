"""torch.nn for tapegrad: Module and the layers, Parameter, functional, init and utils."""

from . import functional, init, modules, utils
from .modules import *  # noqa: F403
from .modules.module import Module
from .parameter import Parameter

__all__ = ["Parameter", "functional", "init", "utils"] + [
    name for name, value in vars(modules).items()
    if isinstance(value, type) and issubclass(value, Module)]

"""Neural building blocks and models in numpy, each layer's forward written beside its backward."""
from .attention import MultiHeadAttention
from .blocks import MLP, Block
from .gpt import GPT, GPTConfig
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, Tanh
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "Embedding", "Linear", "LayerNorm", "RMSNorm", "GELU", "Tanh", "Dropout",
           "MultiHeadAttention", "MLP", "Block", "GPT", "GPTConfig"]

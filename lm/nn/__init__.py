"""Neural building blocks and models in numpy, each layer's forward written beside its backward."""
from .attention import MultiHeadAttention
from .bert import BERT, BERTConfig
from .blocks import MLP, Block
from .gpt import GPT, GPTConfig
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, Tanh
from .mlplm import MLPLM, MLPLMConfig
from .module import Module, Parameter
from .t5 import T5, T5Config

__all__ = ["Module", "Parameter", "Embedding", "Linear", "LayerNorm", "RMSNorm", "GELU", "Tanh", "Dropout",
           "MultiHeadAttention", "MLP", "Block", "GPT", "GPTConfig", "BERT", "BERTConfig", "T5", "T5Config",
           "MLPLM", "MLPLMConfig"]

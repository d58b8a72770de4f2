"""Neural building blocks and models in numpy, each layer's forward written beside its backward."""
from .attention import KVCache, MultiHeadAttention
from .base import LanguageModel, TransformerConfig, check_ids
from .bert import BERT, BERTConfig
from .blocks import MLP, Block
from .generation import generate, sample_logits
from .gpt import GPT, GPTConfig
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, Tanh
from .mlplm import MLPLM, MLPLMConfig
from .module import Module, Parameter
from .t5 import T5, T5Config

__all__ = ["Module", "Parameter", "Embedding", "Linear", "LayerNorm", "RMSNorm", "GELU", "Tanh", "Dropout",
           "MultiHeadAttention", "KVCache", "MLP", "Block", "GPT", "GPTConfig", "BERT", "BERTConfig", "T5", "T5Config",
           "MLPLM", "MLPLMConfig", "LanguageModel", "TransformerConfig", "check_ids", "generate", "sample_logits"]
